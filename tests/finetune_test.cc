// Energy-bounded fine-tuning: the step's loss against a hand computation, its effect on the
// energies, the margins rule and the schedule, and `oodscore finetune` end to end.
#include "cli/finetune.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "cli_fixture.h"
#include "oodscore/error.h"
#include "oodscore/trainer.h"

namespace oodscore {
namespace {

using testing::CliTest;
using testing::ReadText;
using testing::RunResult;
using testing::TempDir;

// The fixed weights of testing::WriteLinearModel.
double W(int i, int j, double scale) { return scale * std::sin(0.37 * (i + 1) * (j + 1)); }

double LogSumExp(const std::vector<double>& z) {
  double m = z[0];
  for (double v : z) m = std::max(m, v);
  double s = 0;
  for (double v : z) s += std::exp(v - m);
  return m + std::log(s);
}

TEST(TrainerTest, StepLossEqualsTheFormulaByHand) {
  TempDir tmp;
  const int features = 4, classes = 3;
  const double scale = 0.5;
  testing::WriteLinearModel(tmp / "m.pt", features, classes, scale);
  auto t = Trainer::Load(tmp / "m.pt", {});
  // Two ID images [1, 2, 2] then two outliers.
  const std::vector<std::vector<double>> x = {
      {1, 0, -1, 2}, {0.5, 0.5, 0.5, -0.5}, {3, -2, 1, 0}, {-1, -1, 2, 2}};
  const std::vector<std::int64_t> labels = {2, 0};
  float* in = t->InputBuffer(16);
  for (int n = 0; n < 4; ++n) {
    for (int j = 0; j < features; ++j) in[n * features + j] = static_cast<float>(x[n][j]);
  }
  const double m_in = -3.0, m_out = 1.0, lambda = 0.1;
  double ce = 0, hinge_in = 0, hinge_out = 0;
  for (int n = 0; n < 4; ++n) {
    std::vector<double> z(classes);
    for (int i = 0; i < classes; ++i) {
      z[i] = 0.1 * i;
      for (int j = 0; j < features; ++j) z[i] += W(i, j, scale) * x[n][j];
    }
    const double energy = -LogSumExp(z);
    if (n < 2) {
      ce += (LogSumExp(z) - z[labels[n]]) / 2;
      hinge_in += std::pow(std::max(0.0, energy - m_in), 2) / 2;
    } else {
      hinge_out += std::pow(std::max(0.0, m_out - energy), 2) / 2;
    }
  }
  ASSERT_GT(hinge_in, 0);
  ASSERT_GT(hinge_out, 0);
  const StepLosses l = t->Step(2, 2, 1, 2, 2, labels, 0.01, m_in, m_out, lambda);
  EXPECT_NEAR(l.ce, ce, 1e-5 * ce);
  EXPECT_NEAR(l.hinge_in, hinge_in, 1e-5 * hinge_in);
  EXPECT_NEAR(l.hinge_out, hinge_out, 1e-5 * hinge_out);
  EXPECT_NEAR(l.total, ce + lambda * (hinge_in + hinge_out), 1e-5 * l.total);
}

TEST(TrainerTest, StepsPushIdEnergiesDownAndOutlierEnergiesUp) {
  TempDir tmp;
  testing::WriteLinearModel(tmp / "m.pt", 4, 3, 0.5);
  auto t = Trainer::Load(tmp / "m.pt", {});
  const std::vector<float> x = {1, 0, -1, 2, 0.5, 0.5, 0.5, -0.5, 3, -2, 1, 0, -1, -1, 2, 2};
  auto energies = [&] {
    std::copy(x.begin(), x.end(), t->InputBuffer(x.size()));
    std::vector<float> logits;
    int k = 0;
    t->Evaluate(4, 1, 2, 2, &logits, &k);
    std::vector<double> e;
    for (int n = 0; n < 4; ++n) {
      e.push_back(
          -LogSumExp(std::vector<double>(logits.begin() + n * k, logits.begin() + (n + 1) * k)));
    }
    return e;
  };
  const std::vector<double> before = energies();
  for (int i = 0; i < 5; ++i) {
    std::copy(x.begin(), x.end(), t->InputBuffer(x.size()));
    t->Step(2, 2, 1, 2, 2, {2, 0}, 0.05, /*m_in=*/-20, /*m_out=*/20, /*lambda=*/0.1);
  }
  const std::vector<double> after = energies();
  // On average over each part (a linear model shares its bias, so one ID image may move
  // with the outliers).
  EXPECT_LT(after[0] + after[1], before[0] + before[1]);
  EXPECT_GT(after[2] + after[3], before[2] + before[3]);
}

TEST(TrainerTest, RefusesModulesThatCannotTrain) {
  TempDir tmp;
  testing::WriteOddModel(tmp / "v.pt", "vector", 4);
  auto t = Trainer::Load(tmp / "v.pt", {});
  std::fill_n(t->InputBuffer(8), 8, 0.5f);
  try {
    t->Step(1, 1, 1, 2, 2, {0}, 0.01, -1, 1, 0.1);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("must return float logits [N, K]"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(Trainer::Load(tmp / "missing.pt", {}), Error);
  testing::WriteOddModel(tmp / "f.pt", "frozen", 4);
  try {
    Trainer::Load(tmp / "f.pt", {});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has no trainable parameters: a frozen or optimised"),
              std::string::npos)
        << e.what();
  }
}

TEST(FinetuneTest, MarginsAutoRuleAndSchedule) {
  std::vector<double> id, aux;
  for (int i = 0; i <= 100; ++i) {
    id.push_back(-20.0 + 0.1 * i);   // -20 .. -10
    aux.push_back(-8.0 + 0.05 * i);  // -8 .. -3
  }
  const EnergySummary s = Summarize(id);
  EXPECT_EQ(s.n, 101u);
  EXPECT_NEAR(s.p5, -19.5, 1e-12);  // numpy.percentile(id, 5)
  EXPECT_NEAR(s.p50, -15.0, 1e-12);
  EXPECT_NEAR(s.p95, -10.5, 1e-12);
  const Margins m = AutoMargins(Summarize(id), Summarize(aux));
  EXPECT_NEAR(m.m_in, -19.5, 1e-12);
  EXPECT_NEAR(m.m_out, -3.25, 1e-12);
  // Outliers already below the ID images: no margins can be chosen.
  EXPECT_THROW(AutoMargins(Summarize(aux), Summarize(id)), Error);
  EXPECT_DOUBLE_EQ(CosineLr(0, 100, 0.001, 1e-6), 0.001);
  EXPECT_NEAR(CosineLr(50, 100, 0.001, 1e-6), (0.001 + 1e-6) / 2, 1e-15);
  EXPECT_NEAR(CosineLr(100, 100, 0.001, 1e-6), 1e-6, 1e-15);
}

class FinetuneCliTest : public CliTest {
 protected:
  std::string Args(const std::string& out, const std::string& extra = "") {
    return "finetune -q --model '" + (tmp_ / "m.pt") + "' --preset '" + (tmp_ / "grey8.json") +
           "' --train '" + (tmp_ / "id") + "' --aux '" + (tmp_ / "far") +
           "' --batch-size 4 --aux-batch-size 6 --epochs 2 --lr 0.01 --seed 3 --threads 1 " +
           extra + " -o '" + (tmp_ / out) + "'";
  }
};

TEST_F(FinetuneCliTest, TunedModelLoadsScoresAndIsReproducible) {
  auto r = Cli(Args("a.pt", "--val '" + (tmp_ / "id") + "' --val-ood far='" + (tmp_ / "far") +
                                "' --augment hflip,crop-pad1"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto record = nlohmann::json::parse(ReadText(tmp_ / "a.pt.json"));
  EXPECT_EQ(record["kind"], "oodscore-finetune");
  ASSERT_EQ(record["history"].size(), 2u);
  EXPECT_TRUE(record["history"][1]["val"].contains("id_accuracy"));
  EXPECT_TRUE(record["history"][1]["val"]["ood"]["far"].contains("fpr_at_95_tpr"));
  EXPECT_LT(record["margins"]["m_in"].get<double>(), record["margins"]["m_out"].get<double>());
  EXPECT_EQ(record["config"]["base_model"]["sha256"].get<std::string>().size(), 64u);
  // The tuned model is an ordinary TorchScript classifier.
  auto s = Cli("score -q --model '" + (tmp_ / "a.pt") + "' --preset '" + (tmp_ / "grey8.json") +
               "' -i '" + (tmp_ / "far") + "' -o '" + (tmp_ / "s.csv") + "'");
  ASSERT_EQ(s.exit_code, 0) << s.err;
  // Same seed, same threads: the same file (TorchScript names its archive after the file,
  // so both are called a.pt).
  auto again = Cli(Args("b/a.pt", "--val '" + (tmp_ / "id") + "' --val-ood far='" + (tmp_ / "far") +
                                      "' --augment hflip,crop-pad1"));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(ReadText(tmp_ / "a.pt") == ReadText(tmp_ / "b/a.pt"));
}

TEST_F(FinetuneCliTest, ResumeFinishesLikeAnUninterruptedRun) {
  ASSERT_EQ(Cli(Args("whole/t.pt", "--augment hflip")).exit_code, 0);
  // A run stopped after epoch 1: the same run, its state rewound to epoch 1 (whose
  // checkpoint is kept) and its output removed.
  ASSERT_EQ(Cli(Args("part/t.pt", "--augment hflip")).exit_code, 0);
  const std::string state_path = tmp_ / "part/t.pt.ckpt/state.json";
  auto state = nlohmann::json::parse(ReadText(state_path));
  ASSERT_EQ(state["epochs_done"], 2);
  state["epochs_done"] = 1;
  state["history"].erase(1);
  testing::WriteText(state_path, state.dump());
  std::filesystem::remove(tmp_ / "part/t.pt");
  auto r = Cli(Args("part/t.pt", "--augment hflip --resume"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Epoch 2 again, from epoch 1's module and momentum buffers: the same model, byte for byte.
  EXPECT_TRUE(ReadText(tmp_ / "part/t.pt") == ReadText(tmp_ / "whole/t.pt"));
  const auto part = nlohmann::json::parse(ReadText(tmp_ / "part/t.pt.json"))["history"];
  const auto whole = nlohmann::json::parse(ReadText(tmp_ / "whole/t.pt.json"))["history"];
  ASSERT_EQ(part.size(), 2u);
  EXPECT_EQ(part[1]["loss"], whole[1]["loss"]);
  EXPECT_EQ(part[1]["hinge_out"], whole[1]["hinge_out"]);
  auto other = Cli(Args("part/t.pt", "--augment hflip --resume --lambda 0.2"));
  EXPECT_EQ(other.exit_code, 3);
  EXPECT_NE(other.err.find("is from another run"), std::string::npos) << other.err;
}

TEST_F(FinetuneCliTest, UsageErrors) {
  EXPECT_EQ(Cli(Args("x.pt", "--m-in -5")).exit_code, 2);
  EXPECT_EQ(Cli(Args("x.pt", "--m-in 1 --m-out 0")).exit_code, 2);
  EXPECT_EQ(Cli(Args("x.pt", "--augment flip")).exit_code, 2);
  EXPECT_EQ(Cli(Args("x.pt", "--val-ood far=x")).exit_code, 2);
}

}  // namespace
}  // namespace oodscore
