// End-to-end tests of the real oodscore binary.
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_fixture.h"
#include "model/torch_api.h"
#include "oodscore/score_table.h"

namespace oodscore {
namespace {

using testing::CliTest;
using testing::ReadText;
using testing::RunResult;
using testing::WriteText;

TEST_F(CliTest, ScoreWritesOneRowPerImageInOrder) {
  auto r = Cli("score -q " + Common() + "--batch-size 5 --workers 1 --input '" + (tmp_ / "id") +
               "' --input other='" + (tmp_ / "far") + "' --output '" + (tmp_ / "s.csv") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ScoreTable t = ReadScoreFiles({tmp_ / "s.csv"}, {/*keep_paths=*/true});
  ASSERT_EQ(t.size(), 24u);
  EXPECT_EQ(t.columns,
            (std::vector<std::string>{"energy", "msp", "maxlogit", "log_msp", "entropy", "gen"}));
  EXPECT_EQ(t.Row(0).set, "id");
  EXPECT_EQ(t.Row(0).path, tmp_ / "id/0_cls/0.pgm");
  EXPECT_EQ(t.Row(0).label, "0");
  EXPECT_EQ(t.Row(23).set, "other");
  EXPECT_EQ(t.Row(23).label, "");
  // Same file whatever the thread count. (The batch size may change the last bits of the
  // logits, since the GEMM blocking changes with it; so it does in PyTorch.)
  auto r2 = Cli("score -q " + Common() + "--batch-size 5 --workers 3 --threads 1 --input '" +
                (tmp_ / "id") + "' --input other='" + (tmp_ / "far") + "' --output '" +
                (tmp_ / "s2.csv") + "'");
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_EQ(ReadText(tmp_ / "s.csv"), ReadText(tmp_ / "s2.csv"));
}

// What libgomp says of its spin count when OMP_DISPLAY_ENV=verbose: "  GOMP_SPINCOUNT = '0'"
// as it is loaded (with LibTorch). 0 is the passive wait policy in effect; "" if not printed.
std::string GompSpinCount(const std::string& err) {
  const std::string key = "GOMP_SPINCOUNT = '";
  const std::size_t at = err.find(key);
  if (at == std::string::npos) return "";
  const std::size_t from = at + key.size(), to = err.find('\'', from);
  return to == std::string::npos ? "" : err.substr(from, to - from);
}

// Sets (or, with nullptr, unsets) an environment variable for the binaries this test runs,
// and puts the earlier value back at scope exit.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) {
      old_ = old;
      had_ = true;
    }
    value ? ::setenv(name, value, 1) : ::unsetenv(name);
  }
  ~ScopedEnv() { had_ ? ::setenv(name_.c_str(), old_.c_str(), 1) : ::unsetenv(name_.c_str()); }

 private:
  std::string name_, old_;
  bool had_ = false;
};

// LibTorch's OpenMP threads wait passively (libgomp's spin count is 0) unless the user chose
// a policy, which is kept. libgomp reads the policy once, when it is loaded: so this checks
// that oodscore sets it before anything loads libgomp, not just that it logs having set it.
TEST_F(CliTest, ModelCommandsRunWithPassiveOpenMpWaits) {
  ScopedEnv display("OMP_DISPLAY_ENV", "verbose");
  {
    ScopedEnv policy("OMP_WAIT_POLICY", nullptr);  // as a user who chose none
    auto r = Cli("score -v " + Common() + "--input '" + (tmp_ / "far") + "' -o /dev/null");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("OPENMP DISPLAY ENVIRONMENT BEGIN"), std::string::npos)
        << "libgomp printed nothing: is LibTorch built with another OpenMP?\n"
        << r.err;
    EXPECT_EQ(GompSpinCount(r.err), "0") << r.err;
    EXPECT_NE(r.err.find("OMP_WAIT_POLICY=PASSIVE (set by oodscore before loading LibTorch)"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("model graph: frozen+optimize_for_inference; first-batch max change"),
              std::string::npos)
        << r.err;
  }
  {
    ScopedEnv policy("OMP_WAIT_POLICY", "active");  // the user's own choice is kept
    auto r = Cli("score -v " + Common() + "--input '" + (tmp_ / "far") + "' -o /dev/null");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string spin = GompSpinCount(r.err);
    EXPECT_NE(spin, "") << r.err;
    EXPECT_NE(spin, "0") << r.err;
    EXPECT_NE(r.err.find("OMP_WAIT_POLICY = 'ACTIVE'"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("set by oodscore before loading LibTorch"), std::string::npos) << r.err;
  }
}

// Only commands that run a model load LibTorch: with the model library made unreachable,
// --version, --help and metrics still work, and score says what is missing.
TEST_F(CliTest, OnlyModelCommandsLoadLibTorch) {
  ::setenv("OODSCORE_TORCH_LIBRARY", "/nonexistent/liboodscore_torch.so", 1);
  const RunResult version = Cli("--version");
  const RunResult help = Cli("metrics --help");
  const RunResult metrics =
      Cli("metrics -q '" + std::string(OODSCORE_SOURCE_DIR) +
          "/configs/examples/scores.csv' --id fmnist-0to4 --out-dir '" + (tmp_ / "rep") + "'");
  const RunResult score = Cli("score -q " + Common() + "--input '" + (tmp_ / "far") + "' -o -");
  ::unsetenv("OODSCORE_TORCH_LIBRARY");
  EXPECT_EQ(version.exit_code, 0) << version.err;
  EXPECT_EQ(help.exit_code, 0) << help.err;
  EXPECT_EQ(metrics.exit_code, 0) << metrics.err;
  EXPECT_EQ(score.exit_code, 3) << score.err;
  EXPECT_NE(score.err.find("cannot load the model library (LibTorch)"), std::string::npos)
      << score.err;
  EXPECT_NE(score.err.find("/nonexistent/liboodscore_torch.so"), std::string::npos) << score.err;
}

// A model library from another build fails the function table's handshake before any of its
// functions is called, with a message naming the file, what it has and what is needed.
TEST_F(CliTest, ModelLibraryFromAnotherBuildIsRefused) {
  const std::string needs = ", this oodscore needs " + std::to_string(kTorchApiVersion);
  const std::string rebuild = ": rebuild or reinstall both together";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {OODSCORE_FAKE_TORCH_NEWER,
       "has function table version " + std::to_string(kTorchApiVersion + 1) + needs + rebuild},
      {OODSCORE_FAKE_TORCH_LEGACY, "has function table version 3" + needs + rebuild},
      {OODSCORE_FAKE_TORCH_SIZE, "has a function table of " + std::to_string(sizeof(TorchApi) + 8) +
                                     " bytes, this oodscore needs " +
                                     std::to_string(sizeof(TorchApi)) + " (both version " +
                                     std::to_string(kTorchApiVersion) + ")" + rebuild},
      {OODSCORE_FAKE_TORCH_ABI,
       "was built with libstdc++ 20150101, _GLIBCXX_USE_CXX11_ABI=0 "
       "(LibTorch 0.0-fake), this oodscore with " +
           std::string(kTorchApiCxxAbi) + rebuild},
  };
  for (const auto& [library, message] : cases) {
    ::setenv("OODSCORE_TORCH_LIBRARY", library.c_str(), 1);
    const RunResult r = Cli("score -q " + Common() + "--input '" + (tmp_ / "far") + "' -o -");
    ::unsetenv("OODSCORE_TORCH_LIBRARY");
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_NE(r.err.find("cannot load the model library (LibTorch)"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("model library '" + library + "' " + message), std::string::npos) << r.err;
  }
  ::setenv("OODSCORE_TORCH_LIBRARY", OODSCORE_FAKE_TORCH_NONE, 1);
  const RunResult none = Cli("score -q " + Common() + "--input '" + (tmp_ / "far") + "' -o -");
  ::unsetenv("OODSCORE_TORCH_LIBRARY");
  EXPECT_EQ(none.exit_code, 3) << none.err;
  EXPECT_NE(none.err.find("'" + std::string(OODSCORE_FAKE_TORCH_NONE) +
                          "' has no oodscore function table (not a model library)"),
            std::string::npos)
      << none.err;
}

TEST_F(CliTest, ScoreToStdoutWithExtraTemperatures) {
  auto r = Cli("score -q " + Common() + "-T 2 -T 0.5 --input '" + (tmp_ / "far") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')),
            "set,path,label,pred,energy,msp,maxlogit,energy_T2,energy_T0.5,log_msp,entropy,gen");
}

TEST_F(CliTest, BadImagesAreSkippedOrFatalWithStrict) {
  WriteText(tmp_ / "far/zero.png", "");
  auto r =
      Cli("score " + Common() + "--input '" + (tmp_ / "far") + "' -o '" + (tmp_ / "s.csv") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("skipped '" + (tmp_ / "far/zero.png") + "': zero-byte file"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(ReadScoreFiles({tmp_ / "s.csv"}).size(), 12u);
  r = Cli("score --strict " + Common() + "--input '" + (tmp_ / "far") + "' -o '" +
          (tmp_ / "s.csv") + "'");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("zero-byte file (--strict)"), std::string::npos) << r.err;
}

TEST_F(CliTest, InputAndModelErrorsExitThree) {
  auto r = Cli("score " + Common() + "--input '" + (tmp_ / "nothing") + "'");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("input '" + (tmp_ / "nothing") + "' does not exist"), std::string::npos)
      << r.err;
  r = Cli("score --model '" + (tmp_ / "none.pt") + "' --preset '" + (tmp_ / "grey8.json") +
          "' --input '" + (tmp_ / "id") + "'");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("model file '" + (tmp_ / "none.pt") + "' does not exist or is not a file"),
            std::string::npos)
      << r.err;
  testing::WriteOddModel(tmp_ / "vec.pt", "vector", 64);
  r = Cli("score --model '" + (tmp_ / "vec.pt") + "' --preset '" + (tmp_ / "grey8.json") +
          "' --input '" + (tmp_ / "id") + "'");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("expected a float tensor of shape"), std::string::npos) << r.err;
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Cli("score --input '" + (tmp_ / "far") + "'").exit_code, 2);  // --model missing
  EXPECT_EQ(Cli("frobnicate").exit_code, 2);
  auto r = Cli("score --model '" + (tmp_ / "m.pt") + "' --preset cifar1 --input '" + (tmp_ / "id") +
               "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown preset 'cifar1', did you mean 'cifar10'?"), std::string::npos)
      << r.err;
  WriteText(tmp_ / "s.csv", "set,path,label,pred,energy\nid,a,,,-1\nood,b,,,-2\n");
  EXPECT_EQ(Cli("metrics --tpr 1.5 --id id '" + (tmp_ / "s.csv") + "'").exit_code, 2);
  EXPECT_EQ(
      Cli("metrics --id id '" + (tmp_ / "s.csv") + "' --out-dir '" + (tmp_ / "m") + "'").exit_code,
      0);
  EXPECT_EQ(Cli("--help").exit_code, 0);
}

TEST_F(CliTest, EvalWritesReportsThatAgreeWithMetrics) {
  const std::string out = tmp_ / "report";
  auto r = Cli("eval " + Common() + "--id '" + (tmp_ / "id") + "' --ood '" + (tmp_ / "far") +
               "' --out-dir '" + out + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* f : {"scores.csv", "report.json", "report.md", "report.html", "card-energy.json",
                        "card-msp.json"}) {
    EXPECT_TRUE(std::filesystem::exists(out + "/" + f)) << f;
  }
  auto eval_report = nlohmann::json::parse(ReadText(out + "/report.json"));
  EXPECT_EQ(eval_report["id"]["n"], 12);
  EXPECT_TRUE(eval_report["id"].contains("accuracy"));
  EXPECT_EQ(eval_report["run"]["sets"][1]["scored"], 12);
  EXPECT_EQ(eval_report["run"]["model"]["sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(r.out, ReadText(out + "/report.md"));
  const std::string html = ReadText(out + "/report.html");
  EXPECT_NE(html.find("class=\"bar\""), std::string::npos);
  EXPECT_NE(html.find("class=\"roc\""), std::string::npos);

  // The metrics command on the written scores gives the same numbers, bit for bit.
  const std::string out2 = tmp_ / "report2";
  r = Cli("metrics '" + out +
          "/scores.csv' --id id --score energy --score msp,maxlogit,entropy --score gen "
          "--out-dir '" +
          out2 + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto metrics_report = nlohmann::json::parse(ReadText(out2 + "/report.json"));
  EXPECT_EQ(metrics_report["ood"], eval_report["ood"]);
  EXPECT_EQ(metrics_report["mean"], eval_report["mean"]);
  // The rows' classes without paths: the per-class tables name classes by index.
  EXPECT_EQ(metrics_report["risk_coverage"], eval_report["risk_coverage"]);
  EXPECT_FALSE(metrics_report.contains("gallery"));
  ASSERT_TRUE(metrics_report.contains("per_class"));
  EXPECT_EQ(metrics_report["per_class"]["id"].size(), eval_report["per_class"]["id"].size());

  // With --gallery it keeps the paths: the same gallery, with thumbnails, and class names.
  const std::string out3 = tmp_ / "report3";
  r = Cli("metrics '" + out + "/scores.csv' --id id --gallery 12 --out-dir '" + out3 + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  metrics_report = nlohmann::json::parse(ReadText(out3 + "/report.json"));
  ASSERT_TRUE(eval_report.contains("gallery"));
  EXPECT_EQ(metrics_report["gallery"], eval_report["gallery"]);
  EXPECT_EQ(metrics_report["per_class"], eval_report["per_class"]);
  EXPECT_NE(ReadText(out3 + "/report.html").find("data:image/png;base64,"), std::string::npos);
}

TEST_F(CliTest, GatesDecideTheExitCode) {
  const std::string base = "eval -q " + Common() + "--id '" + (tmp_ / "id") + "' --ood '" +
                           (tmp_ / "far") + "' --out-dir '" + (tmp_ / "r") + "' ";
  auto pass = Cli(base + "--gate 'energy.auroc>=0' --gate 'mean.msp.fpr_at_tpr<=1'");
  EXPECT_EQ(pass.exit_code, 0) << pass.err;
  auto fail = Cli(base + "--gate 'far.energy.auroc>1'");
  EXPECT_EQ(fail.exit_code, 1) << fail.err;
  EXPECT_NE(fail.err.find("check failed: far.energy.auroc = "), std::string::npos) << fail.err;
  auto j = nlohmann::json::parse(ReadText(tmp_ / "r/report.json"));
  EXPECT_EQ(j["checks_passed"], false);
  auto bad = Cli(base + "--gate 'energy.auroc'");
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
}

TEST_F(CliTest, BaselineRegressionFailsTheRun) {
  const std::string base =
      "eval -q " + Common() + "--id '" + (tmp_ / "id") + "' --ood '" + (tmp_ / "far") + "' ";
  ASSERT_EQ(Cli(base + "--out-dir '" + (tmp_ / "old") + "'").exit_code, 0);
  // Same model and data: no change, passes.
  auto same = Cli(base + "--out-dir '" + (tmp_ / "new") + "' --baseline '" +
                  (tmp_ / "old/report.json") + "' --max-drop auroc=0 --max-rise fpr_at_tpr=0");
  EXPECT_EQ(same.exit_code, 0) << same.err;
  // A baseline that claims better numbers: regression.
  auto j = nlohmann::json::parse(ReadText(tmp_ / "old/report.json"));
  j["ood"][0]["metrics"]["energy"]["auroc"] = 1.5;
  WriteText(tmp_ / "better.json", j.dump());
  auto worse = Cli(base + "--out-dir '" + (tmp_ / "new") + "' --baseline '" +
                   (tmp_ / "better.json") + "' --max-drop auroc=0.01");
  EXPECT_EQ(worse.exit_code, 1) << worse.err;
  EXPECT_NE(worse.err.find("far.energy.auroc moved 150% -> "), std::string::npos) << worse.err;
}

TEST_F(CliTest, CalibratedCardAddsIsOodAndChecksTheModel) {
  auto r = Cli("calibrate -q " + Common() + "--id '" + (tmp_ / "id") + "' --tpr 0.75 -o '" +
               (tmp_ / "card.json") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto card = nlohmann::json::parse(ReadText(tmp_ / "card.json"));
  EXPECT_EQ(card["score"], "energy");
  EXPECT_EQ(card["n"], 12);
  EXPECT_EQ(card["tpr_achieved"], 0.75);
  r = Cli("score -q " + Common() + "--card '" + (tmp_ / "card.json") + "' --input '" +
          (tmp_ / "id") + "' -o '" + (tmp_ / "s.csv") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ScoreTable t = ReadScoreFiles({tmp_ / "s.csv"});
  const int col = t.ColumnIndex("is_ood");
  ASSERT_GE(col, 0);
  int ood = 0;
  for (double v : t.values(col)) ood += v == 1.0;
  EXPECT_EQ(ood, 3);  // 25% of the ID set falls beyond the 75% threshold
  testing::WriteLinearModel(tmp_ / "other.pt", 64, 3, 0.3);
  r = Cli("score --model '" + (tmp_ / "other.pt") + "' --preset '" + (tmp_ / "grey8.json") +
          "' --card '" + (tmp_ / "card.json") + "' --input '" + (tmp_ / "id") + "'");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("detector card was made for a model with SHA-256"), std::string::npos)
      << r.err;
  // Same model, another preprocessing: refused too.
  WriteText(tmp_ / "grey8b.json",
            R"({"name": "grey8", "mode": "L", "resize": [8, 8], "mean": [0.4], "std": [0.25]})");
  r = Cli("score --model '" + (tmp_ / "m.pt") + "' --preset '" + (tmp_ / "grey8b.json") +
          "' --card '" + (tmp_ / "card.json") + "' --input '" + (tmp_ / "id") + "'");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("detector card was made with preset"), std::string::npos) << r.err;
}

TEST_F(CliTest, MetricsReportsBadScoreFilesByLine) {
  WriteText(tmp_ / "s.csv", "set,path,label,pred,energy\nid,a,,,-1\nood,b,,,oops\n");
  auto r = Cli("metrics '" + (tmp_ / "s.csv") + "' --id id");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("'" + (tmp_ / "s.csv") + "' line 3 column 'energy': not a number: 'oops'"),
            std::string::npos)
      << r.err;
  WriteText(tmp_ / "good.csv", "set,path,label,pred,energy\nid,a,,,-1\nood,b,,,-2\n");
  r = Cli("metrics '" + (tmp_ / "good.csv") + "' --id cifar");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no rows with set 'cifar' in the score files (sets: id, ood)"),
            std::string::npos)
      << r.err;
}

TEST_F(CliTest, MissingInputFilesExitThree) {
  auto r = Cli("metrics --id id '" + (tmp_ / "none.csv") + "'");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("cannot open score file '" + (tmp_ / "none.csv") + "'"), std::string::npos)
      << r.err;
  r = Cli("score " + Common() + "--card '" + (tmp_ / "none.json") + "' --input '" + (tmp_ / "id") +
          "'");
  EXPECT_EQ(r.exit_code, 3);
}

TEST_F(CliTest, ThresholdGatesUseTheScoresOwnUnits) {
  WriteText(tmp_ / "s.csv", "set,path,label,pred,energy\nid,a,,,-9\nid,b,,,-8\nood,c,,,-1\n");
  const std::string base =
      "metrics -q --id id --tpr 1 '" + (tmp_ / "s.csv") + "' --out-dir '" + (tmp_ / "m") + "' ";
  // Every ID sample accepted: energy <= -8.
  EXPECT_EQ(Cli(base + "--gate 'ood.energy.threshold<=-7.5'").exit_code, 0);
  EXPECT_EQ(Cli(base + "--gate 'ood.energy.threshold>=-7.5'").exit_code, 1);
  EXPECT_EQ(Cli(base + "--gate 'mean.energy.threshold<=0'").exit_code, 2);
}

TEST_F(CliTest, PlainScoreFilesWithTheSameNameAreRefused) {
  WriteText(tmp_ / "a/s.txt", "1\n2\n");
  WriteText(tmp_ / "b/s.txt", "0\n");
  auto r =
      Cli("metrics --id-file '" + (tmp_ / "a/s.txt") + "' --ood-file '" + (tmp_ / "b/s.txt") + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("two inputs are named 's'; name them with NAME=PATH"), std::string::npos)
      << r.err;
}

TEST_F(CliTest, CalibrateAcceptsEnergyAtTemperatureOne) {
  auto r = Cli("calibrate -q " + Common() + "--id '" + (tmp_ / "id") + "' --score energy_T1 -o '" +
               (tmp_ / "card.json") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto card = nlohmann::json::parse(ReadText(tmp_ / "card.json"));
  EXPECT_EQ(card["score"], "energy");
  EXPECT_LT(card["threshold"].get<double>(), 0.0);
}

TEST_F(CliTest, MspCardsReproduceTheirCalibration) {
  auto r = Cli("calibrate -q " + Common() + "--id '" + (tmp_ / "id") +
               "' --score msp --tpr 0.5 -o '" + (tmp_ / "card.json") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto card = nlohmann::json::parse(ReadText(tmp_ / "card.json"));
  ASSERT_TRUE(card.contains("log_msp_threshold"));
  r = Cli("score -q " + Common() + "--card '" + (tmp_ / "card.json") + "' --input '" +
          (tmp_ / "id") + "' -o '" + (tmp_ / "s.csv") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ScoreTable t = ReadScoreFiles({tmp_ / "s.csv"});
  int accepted = 0;
  for (double v : t.values(t.ColumnIndex("is_ood"))) accepted += v == 0.0;
  EXPECT_EQ(accepted, static_cast<int>(card["tpr_achieved"].get<double>() * 12 + 0.5));
}

TEST_F(CliTest, OodPositiveConventionsPrintAStrictAcceptRule) {
  WriteText(tmp_ / "s.csv",
            "set,path,label,pred,energy\nid,a,,,-9\nid,b,,,-8\nood,c,,,-8\nood,d,,,-1\n");
  auto r = Cli("metrics -q --id id --fpr-convention openood '" + (tmp_ / "s.csv") +
               "' --out-dir '" + (tmp_ / "m") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(ReadText(tmp_ / "m/report.json"));
  EXPECT_EQ(j["positive_class"], "ood");
  EXPECT_EQ(j["ood"][0]["metrics"]["energy"]["accept_as_id"].get<std::string>().substr(0, 9),
            "energy < ");
}

TEST_F(CliTest, BaselineSetMissingFromTheRunFails) {
  const std::string base = "eval -q " + Common() + "--id '" + (tmp_ / "id") + "' ";
  ASSERT_EQ(Cli(base + "--ood '" + (tmp_ / "far") + "' --ood far2='" + (tmp_ / "far") +
                "' --out-dir '" + (tmp_ / "old") + "'")
                .exit_code,
            0);
  auto r = Cli(base + "--ood '" + (tmp_ / "far") + "' --out-dir '" + (tmp_ / "new") +
               "' --baseline '" + (tmp_ / "old/report.json") + "' --max-drop auroc=0.01");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("OOD set 'far2' is in the baseline but not in this run"), std::string::npos)
      << r.err;
}

TEST_F(CliTest, BadGatesFailBeforeScoring) {
  auto r = Cli("eval " + Common() + "--id '" + (tmp_ / "id") + "' --ood '" + (tmp_ / "far") +
               "' --out-dir '" + (tmp_ / "r") + "' --gate 'energy.aroc>1'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.find("model '"), std::string::npos) << r.err;  // the model was never loaded
  EXPECT_FALSE(std::filesystem::exists(tmp_ / "r/scores.csv"));
}

TEST_F(CliTest, MetricsOnPlainScoreColumns) {
  WriteText(tmp_ / "id.txt", "3\n4\n5\n6\n");
  WriteText(tmp_ / "ood.txt", "1\n2\n3.5\n");
  auto r = Cli("metrics --id-file '" + (tmp_ / "id.txt") + "' --ood-file noise='" +
               (tmp_ / "ood.txt") + "' --out-dir '" + (tmp_ / "m") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(ReadText(tmp_ / "m/report.json"));
  EXPECT_EQ(j["ood"][0]["name"], "noise");
  EXPECT_DOUBLE_EQ(j["ood"][0]["metrics"]["score"]["auroc"].get<double>(), 11.0 / 12.0);
  r = Cli("metrics --id-file '" + (tmp_ / "id.txt") + "' --ood-file '" + (tmp_ / "ood.txt") +
          "' --gallery 3 --out-dir '" + (tmp_ / "g") + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--gallery shows samples by their paths, which plain score columns"),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace oodscore
