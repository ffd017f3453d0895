// Feature-space detectors: the fit and the scores against their reference code (fixture made by
// scripts/fixtures/make_detector_fixtures.py), the fit file, finding the head in a scripted model,
// and `fit` / `--fit` end to end.
#include "oodscore/detectors.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "cli_fixture.h"
#include "oodscore/card.h"
#include "oodscore/model.h"
#include "oodscore/score_table.h"

namespace oodscore {
namespace {

using testing::CliTest;
using testing::ReadText;
using testing::TempDir;
using testing::WriteText;

struct Fixture {
  nlohmann::json json;
  HeadWeights head;
  DetectorSettings settings;
  std::vector<float> train, test;
  std::vector<int> labels;
  int n_test = 0;
};

Fixture LoadFixture(const std::string& name = "detector_scores.json") {
  const std::string path = std::string(OODSCORE_FIXTURE_DIR) + "/" + name;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open '" + path + "'");
  Fixture f;
  f.json = nlohmann::json::parse(in);
  f.head.name = "fc";
  f.head.classes = f.json["classes"];
  f.head.dim = f.json["dim"];
  f.head.weight = f.json["head_weight"].get<std::vector<float>>();
  f.head.bias = f.json["head_bias"].get<std::vector<float>>();
  f.settings.knn_k = f.json.value("knn_k", f.settings.knn_k);
  f.settings.react_percentile = f.json.value("react_percentile", f.settings.react_percentile);
  f.settings.ash_percentile = f.json.value("ash_percentile", f.settings.ash_percentile);
  f.settings.vim_dim = f.json.value("vim_dim", f.settings.vim_dim);
  f.train = f.json["train"].get<std::vector<float>>();
  f.test = f.json["test"].get<std::vector<float>>();
  f.labels = f.json["train_labels"].get<std::vector<int>>();
  f.n_test = static_cast<int>(f.test.size()) / f.head.dim;
  return f;
}

DetectorFit FitFixture(const Fixture& f) {
  return FitDetectors(f.train.data(), f.labels.data(), static_cast<std::int64_t>(f.labels.size()),
                      f.head, f.settings);
}

std::vector<double> ScoresOf(const DetectorFit& fit, const std::vector<float>& features, int n) {
  auto scorer = MakeFeatureScorer(fit, "cpu");
  std::vector<double> out;
  scorer->Score(features.data(), n, &out);
  return out;
}

// Each fixture score that is one of our columns (`renamed`: the fixture's name -> ours)
// against ours: float32 reference code within float32's error, its float64 run
// ("scores_float64") to 1e-8 of the row's scale (for RMDS, of its class term: the fixture's
// "mds_float64", which RMDS's difference of two such terms inherits its rounding from). `skipped`:
// fixture scores left out. Every other fixture score must be known: a detector the fixture has and
// oodscore lacks fails here.
void ExpectScores(const std::vector<double>& scores, const Fixture& f,
                  const std::map<std::string, std::string>& renamed,
                  const std::set<std::string>& skipped = {},
                  const std::set<std::string>& absent = {"fdbd_featnorm", "tempscale_converged"}) {
  const auto& names = FeatureScoreNames();
  ASSERT_EQ(scores.size(), names.size() * f.n_test);
  std::size_t checked = 0;
  for (const char* group : {"scores", "scores_float64"}) {
    const bool f64 = std::string(group) == "scores_float64";
    for (const auto& [key, values] : f.json.at(group).items()) {
      if (skipped.count(key) || absent.count(key)) continue;
      const std::string name = renamed.count(key) ? renamed.at(key) : key;
      const auto it = std::find(names.begin(), names.end(), name);
      ASSERT_NE(it, names.end()) << "no column for the fixture's '" << key << "'";
      const std::size_t c = it - names.begin();
      const auto expected = values.get<std::vector<double>>();
      ASSERT_EQ(expected.size(), static_cast<std::size_t>(f.n_test)) << key;
      // Mahalanobis, ViM and RMDS run in float64 here: equal to the reference run in
      // float64, and within float32's error of it run in float32 as OpenOOD does.
      const bool ours64 = name == "mahalanobis" || name == "vim" || name == "rmds";
      const double tolerance = f64 ? 1e-8 : ours64 ? 1e-4 : 2e-5;
      const bool rmds64 = key == "rmds_float64";
      const auto terms =
          rmds64 ? f.json.at(group).at("mds_float64").get<std::vector<double>>() : expected;
      for (int i = 0; i < f.n_test; ++i) {
        const double got = scores[i * names.size() + c];
        const double scale = std::max({1.0, std::abs(expected[i]), std::abs(terms[i])});
        EXPECT_NEAR(got, expected[i], tolerance * scale)
            << key << " (" << group << "), sample " << i;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 0u);
}

TEST(DetectorsTest, EqualTheReferenceCode) {
  const Fixture f = LoadFixture();
  const DetectorFit fit = FitFixture(f);
  EXPECT_NEAR(fit.react_threshold, f.json["react_threshold"].get<double>(), 1e-6);
  EXPECT_NEAR(fit.vim_alpha, f.json["vim_alpha"].get<double>(), 1e-4);
  EXPECT_EQ(fit.vim_dim, 6);
  ASSERT_GT(f.n_test, 0);
  ASSERT_EQ(f.test.size(), static_cast<std::size_t>(f.n_test) * f.head.dim);
  const std::vector<double> scores = ScoresOf(fit, f.test, f.n_test);
  ExpectScores(scores, f, {});
  EXPECT_EQ(f.json.at("scores").size(), 5u);
}

// The detectors OpenOOD v1.5 added to ReAct, ASH, MDS, KNN and ViM, against its own
// postprocessors' code (scripts/fixtures/make_openood_fixtures.py), on features with a dead
// unit and a unit active on a single training image (a covariance eigenvalue of 1e-7 of the
// largest, which scipy's pinvh keeps), exactly tied test rows, and a head that gets 8% of
// the training images wrong.
TEST(DetectorsTest, EqualOpenOodsCode) {
  Fixture f = LoadFixture("openood_scores.json");
  const nlohmann::json& s = f.json.at("settings");
  f.settings.scale_percentile = s.at("scale_percentile");
  f.settings.dice_percentile = s.at("dice_p");
  f.settings.nci_alpha = s.at("nci_alpha");
  f.settings.vra_low_percentile = s.at("vra_percentile_low");
  f.settings.vra_high_percentile = s.at("vra_percentile_high");
  f.settings.vim_dim = s.at("residual_dim");
  f.settings.nnguide_k = s.at("nnguide_k");
  f.settings.nnguide_fraction = s.at("nnguide_rows").get<double>() / f.labels.size();
  f.settings.relation_pow = s.at("relation_pow");
  const DetectorFit fit = FitFixture(f);
  EXPECT_EQ(fit.nnguide_rows, s.at("nnguide_rows").get<std::int64_t>());
  const nlohmann::json& ref = f.json.at("fit");
  EXPECT_EQ(fit.vra_low, ref.at("vra_low").get<double>());
  EXPECT_NEAR(fit.vra_high, ref.at("vra_high").get<double>(), 1e-6);
  EXPECT_NEAR(fit.tempscale_temperature, ref.at("tempscale_temperature").get<double>(), 1e-5);
  const auto train_mean = ref.at("train_mean").get<std::vector<double>>();
  ASSERT_EQ(fit.train_mean.size(), train_mean.size());
  for (std::size_t i = 0; i < train_mean.size(); ++i) {
    EXPECT_NEAR(fit.train_mean[i], train_mean[i], 1e-6) << i;
  }
  const auto templates = ref.at("klm_templates").get<std::vector<double>>();
  ASSERT_EQ(fit.klm_templates.size(), templates.size());
  for (std::size_t i = 0; i < templates.size(); ++i) {
    EXPECT_NEAR(fit.klm_templates[i], templates[i], 1e-6) << i;
  }
  // OpenOOD's "mds" is our "mahalanobis"; its float32 RMDS loses 4e-5 of the scale on the
  // row along the tiny eigenvalue (two terms near 1.7e8 cancel), so RMDS is held to its
  // float64 run alone.
  ExpectScores(ScoresOf(fit, f.test, f.n_test), f,
               {{"mds", "mahalanobis"}, {"mds_float64", "mahalanobis"}, {"rmds_float64", "rmds"}},
               {"rmds"});
  // The converged temperature: the NLL minimum, not OpenOOD's 50 LBFGS steps from 1.5.
  f.settings.tempscale_converged = 1;
  const DetectorFit converged = FitFixture(f);
  EXPECT_NEAR(converged.tempscale_temperature,
              ref.at("tempscale_converged_temperature").get<double>(), 1e-7);
  const std::vector<double> scores = ScoresOf(converged, f.test, f.n_test);
  const auto expected = f.json.at("scores").at("tempscale_converged").get<std::vector<double>>();
  const auto& names = FeatureScoreNames();
  const std::size_t c = std::find(names.begin(), names.end(), "tempscale") - names.begin();
  for (int i = 0; i < f.n_test; ++i) {
    EXPECT_NEAR(scores[i * names.size() + c], expected[i], 1e-7) << i;
  }
}

// NNGuide's guide bank: OpenOOD's first rows by default; --nnguide-random 1 a seeded sample,
// the same on every fit, from across the (class-sorted) training set.
TEST(DetectorsTest, NnGuideBankIsTheFirstRowsOrASeededSample) {
  Fixture f = LoadFixture("openood_scores.json");
  f.settings.nnguide_k = 10;
  f.settings.nnguide_fraction = 0.25;  // 60 of 240 rows: class 0 alone, in file order
  const DetectorFit first = FitFixture(f);
  ASSERT_EQ(first.nnguide_rows, 60);
  f.settings.nnguide_random = 1;
  const DetectorFit sampled = FitFixture(f), again = FitFixture(f);
  ASSERT_EQ(sampled.nnguide_rows, 60);
  EXPECT_EQ(sampled.nnguide_bank, again.nnguide_bank);
  EXPECT_NE(sampled.nnguide_bank, first.nnguide_bank);
  // The sample reaches past the first class's rows: some guide row equals no row of class 0.
  const std::size_t d = f.head.dim;
  const auto row = [&](const std::vector<float>& v, std::size_t i) {
    return std::vector<float>(v.begin() + i * d, v.begin() + (i + 1) * d);
  };
  int outside = 0;
  for (std::size_t i = 0; i < 60; ++i) {
    bool found = false;
    for (std::size_t j = 0; j < 60 && !found; ++j) {
      found = row(sampled.nnguide_bank, i) == row(first.nnguide_bank, j);
    }
    outside += !found;
  }
  EXPECT_GT(outside, 20);
}

TEST(DetectorsTest, FitChecksItsInputs) {
  Fixture f = LoadFixture();
  // Fewer samples than k.
  EXPECT_THROW(FitDetectors(f.train.data(), f.labels.data(), 10, f.head, f.settings), Error);
  // A label the head does not have.
  f.labels[3] = f.head.classes;
  try {
    FitFixture(f);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("training sample 3 has class 4"), std::string::npos)
        << e.what();
  }
  f.labels[3] = 0;
  f.settings.vim_dim = f.head.dim;
  EXPECT_THROW(FitFixture(f), UsageError);
}

TEST(DetectorsTest, AllZeroFeaturesGiveFiniteScores) {
  const Fixture f = LoadFixture();
  const DetectorFit fit = FitFixture(f);
  const std::vector<float> zeros(static_cast<std::size_t>(f.head.dim), 0.0f);
  for (double v : ScoresOf(fit, zeros, 1)) EXPECT_TRUE(std::isfinite(v)) << v;
}

TEST(DetectorsTest, FitFileRoundTripsAndNamesItsDamage) {
  const Fixture f = LoadFixture();
  DetectorFit fit = FitFixture(f);
  fit.model_sha256 = std::string(64, 'a');
  fit.preset_json = R"({"name":"x"})";
  fit.train_path = "train/";
  TempDir tmp;
  const std::string path = tmp / "m.fit";
  WriteFit(path, fit);
  const DetectorFit back = ReadFit(path);
  EXPECT_EQ(back.model_sha256, fit.model_sha256);
  EXPECT_EQ(back.preset_json, fit.preset_json);
  EXPECT_EQ(back.head.name, "fc");
  EXPECT_EQ(back.bank, fit.bank);
  EXPECT_EQ(back.precision, fit.precision);
  EXPECT_EQ(back.class_counts, fit.class_counts);
  EXPECT_EQ(back.react_threshold, fit.react_threshold);
  EXPECT_EQ(ScoresOf(back, f.test, f.n_test), ScoresOf(fit, f.test, f.n_test));

  const std::string bytes = ReadText(path);
  struct Case {
    std::string name, contents, message;
  };
  const std::vector<Case> cases = {
      {"magic", "not a fit\n", "is not an oodscore fit file"},
      {"header", "OODSCORE-FIT 2\n{\"model_sha256\": 3}\n", "damaged header (line 2)"},
      {"old", "OODSCORE-FIT 1\n{}\n", "was made by an older oodscore (format 1"},
      {"truncated", bytes.substr(0, bytes.size() - 100), "is truncated: array 'nnguide_bank'"},
  };
  for (const Case& c : cases) {
    const std::string bad = tmp / (c.name + ".fit");
    WriteText(bad, c.contents);
    try {
      ReadFit(bad);
      ADD_FAILURE() << c.name << ": no error";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(c.message), std::string::npos) << c.name << ": " << what;
      EXPECT_NE(what.find(bad), std::string::npos) << c.name << ": " << what;
    }
  }
}

// The model's features through its head give its logits, whichever way the head was found.
void ExpectHeadGivesLogits(const std::string& path, const std::string& head_name) {
  ModelOptions opt;
  opt.features = true;
  auto model = Model::Load(path, opt);
  const int n = 5, d = 12;
  float* in = model->InputBuffer(n * d);
  for (int i = 0; i < n * d; ++i) in[i] = static_cast<float>(std::sin(0.3 * i));
  std::vector<float> logits;
  int k = 0;
  model->Forward(n, 3, 2, 2, &logits, &k);
  const HeadWeights& head = model->head();
  EXPECT_EQ(head.name, head_name);
  ASSERT_EQ(head.classes, k);
  ASSERT_EQ(head.dim, 16);
  ASSERT_EQ(model->features().size(), static_cast<std::size_t>(n * 16));
  for (int i = 0; i < n; ++i) {
    for (int c = 0; c < k; ++c) {
      double z = head.bias[c];
      for (int j = 0; j < 16; ++j) z += head.weight[c * 16 + j] * model->features()[i * 16 + j];
      EXPECT_NEAR(z, logits[i * k + c], 1e-5);
    }
  }
}

TEST(HeadTest, FoundInTheScriptedGraphOrThroughTimmMethods) {
  TempDir tmp;
  testing::WriteHeadModel(tmp / "mlp.pt", "mlp", 12, 3);
  ExpectHeadGivesLogits(tmp / "mlp.pt", "fc");
  testing::WriteHeadModel(tmp / "timm.pt", "timm", 12, 3);
  ExpectHeadGivesLogits(tmp / "timm.pt", "fc");
}

TEST(HeadTest, ErrorsNameWhatWasFound) {
  TempDir tmp;
  testing::WriteHeadModel(tmp / "mlp.pt", "mlp", 12, 3);
  testing::WriteHeadModel(tmp / "scaled.pt", "scaled", 12, 3);
  testing::WriteLinearModel(tmp / "plain.pt", 12, 3);
  auto message = [&](const std::string& path, const std::string& head) {
    ModelOptions opt;
    opt.features = true;
    opt.head = head;
    try {
      auto model = Model::Load(path, opt);
      std::fill_n(model->InputBuffer(24), 24, 0.5f);
      std::vector<float> logits;
      int k = 0;
      model->Forward(2, 3, 2, 2, &logits, &k);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // --head naming a layer forward() does not apply: the ones it does, in order.
  EXPECT_NE(message(tmp / "mlp.pt", "classifier")
                .find("applies no linear layer of that name in forward() (linear layers applied, "
                      "in order: body, fc)"),
            std::string::npos);
  // --head body: a linear layer, but not the one that makes the logits.
  EXPECT_NE(message(tmp / "mlp.pt", "body").find("has 16 outputs, but the model returns 3"),
            std::string::npos);
  // The model rescales its head's output.
  EXPECT_NE(message(tmp / "scaled.pt", "").find("differs from the model's logits"),
            std::string::npos);
  // No linear layer, no timm methods.
  const std::string none = message(tmp / "plain.pt", "");
  EXPECT_NE(none.find("cannot find the classifier head"), std::string::npos) << none;
  EXPECT_NE(none.find("Submodules: none"), std::string::npos) << none;
}

// `fit` on the ID folders of a model with a head, then --fit on score, eval and calibrate.
class FitCliTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    testing::WriteHeadModel(tmp_ / "h.pt", "mlp", 64, 3);
  }
  std::string Headed() {
    return "--model '" + (tmp_ / "h.pt") + "' --preset '" + (tmp_ / "grey8.json") + "' ";
  }
};

TEST_F(FitCliTest, FitThenScoreEvalAndCalibrate) {
  auto fit = Cli("fit -q " + Headed() + "--train '" + (tmp_ / "id") +
                 "' --knn-k 3 --nnguide-k 3 -o '" + (tmp_ / "h.fit") + "'");
  ASSERT_EQ(fit.exit_code, 0) << fit.err;
  const DetectorFit stored = ReadFit(tmp_ / "h.fit");
  EXPECT_EQ(stored.head.name, "fc");
  EXPECT_EQ(stored.train_samples, 12);
  EXPECT_EQ(stored.class_counts, (std::vector<std::int64_t>{4, 4, 4}));
  EXPECT_EQ(stored.settings.knn_k, 3);

  auto s = Cli("score -q " + Headed() + "--fit '" + (tmp_ / "h.fit") + "' -i '" + (tmp_ / "far") +
               "' -o '" + (tmp_ / "s.csv") + "'");
  ASSERT_EQ(s.exit_code, 0) << s.err;
  const ScoreTable t = ReadScoreFiles({tmp_ / "s.csv"});
  for (const auto& name : FeatureScoreNames()) {
    const int col = t.ColumnIndex(name);
    ASSERT_GE(col, 0) << name;
    for (double v : t.values(col)) EXPECT_TRUE(std::isfinite(v)) << name;
  }
  const auto stamp = nlohmann::json::parse(ReadText(tmp_ / "s.csv.json"));
  EXPECT_EQ(stamp["fit"]["head"], "fc");
  EXPECT_EQ(stamp["fit"]["knn_k"], 3);

  auto e = Cli("eval -q " + Headed() + "--fit '" + (tmp_ / "h.fit") + "' --id '" + (tmp_ / "id") +
               "' --ood '" + (tmp_ / "far") + "' --gate 'mean.knn.auroc>=0.5' --out-dir '" +
               (tmp_ / "rep") + "'");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(ReadText(tmp_ / "rep/report.md").find("`mean.knn.auroc`"), std::string::npos);
  EXPECT_NE(ReadText(tmp_ / "rep/report.html").find("knn"), std::string::npos);
  const auto report = nlohmann::json::parse(ReadText(tmp_ / "rep/report.json"));
  const std::string text = report.dump();
  for (const auto& name : FeatureScoreNames()) {
    EXPECT_NE(text.find("\"" + name + "\""), std::string::npos) << name;
  }

  auto c = Cli("calibrate -q " + Headed() + "--fit '" + (tmp_ / "h.fit") + "' --score knn --id '" +
               (tmp_ / "id") + "' -o '" + (tmp_ / "card.json") + "'");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  const DetectorCard card = ReadCard(tmp_ / "card.json");
  EXPECT_EQ(card.score, "knn");
  EXPECT_EQ(card.fit_sha256, stamp["fit"]["sha256"]);
  nlohmann::json unbound = nlohmann::json::parse(ReadText(tmp_ / "card.json"));
  unbound.erase("fit_sha256");
  try {
    ParseCard(unbound.dump(), "card.json");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("a knn card needs \"fit_sha256\""), std::string::npos)
        << e.what();
  }
  // The card applies with the fit, and says what is missing without it.
  auto with = Cli("score -q " + Headed() + "--fit '" + (tmp_ / "h.fit") + "' --card '" +
                  (tmp_ / "card.json") + "' -i '" + (tmp_ / "far") + "' -o -");
  EXPECT_EQ(with.exit_code, 0) << with.err;
  auto without = Cli("score -q " + Headed() + "--card '" + (tmp_ / "card.json") + "' -i '" +
                     (tmp_ / "far") + "' -o -");
  EXPECT_NE(without.exit_code, 0);
  EXPECT_NE(without.err.find("give --fit"), std::string::npos) << without.err;
  // Another fit of the same model (k = 4): the card's threshold is in the other fit's units.
  ASSERT_EQ(Cli("fit -q " + Headed() + "--train '" + (tmp_ / "id") +
                "' --knn-k 4 --nnguide-k 4 -o '" + (tmp_ / "h4.fit") + "'")
                .exit_code,
            0);
  auto other = Cli("score -q " + Headed() + "--fit '" + (tmp_ / "h4.fit") + "' --card '" +
                   (tmp_ / "card.json") + "' -i '" + (tmp_ / "far") + "' -o -");
  EXPECT_NE(other.exit_code, 0);
  EXPECT_NE(other.err.find("detector card was calibrated with the fit file of SHA-256"),
            std::string::npos)
      << other.err;
}

TEST_F(FitCliTest, ShardsAndScoreFilesKeepTheColumns) {
  ASSERT_EQ(Cli("fit -q " + Headed() + "--train '" + (tmp_ / "id") +
                "' --knn-k 3 --nnguide-k 3 -o '" + (tmp_ / "h.fit") + "'")
                .exit_code,
            0);
  for (const char* spec : {"0/2", "1/2"}) {
    auto r = ScoreShard(Headed() + "--fit '" + (tmp_ / "h.fit") + "' ", spec, "sh");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  auto merged =
      Cli("eval -q --from-scores '" + (tmp_ / "sh") + "' --out-dir '" + (tmp_ / "mrep") + "'");
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  const std::string report = ReadText(tmp_ / "mrep/report.json");
  for (const auto& name : FeatureScoreNames()) {
    EXPECT_NE(report.find("\"" + name + "\""), std::string::npos) << name;
  }
  // `metrics` on the score files: every feature column is a known score.
  auto m = Cli("metrics -q '" + (tmp_ / "sh") +
               "' --id id --score vim --score react_energy "
               "--out-dir '" +
               (tmp_ / "m") + "'");
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_NE(m.out.find("| react_energy |"), std::string::npos) << m.out;
}

TEST_F(FitCliTest, SaysWhenTheFoldersMayNotBeTheModelsClasses) {
  for (int i = 0; i < 6; ++i) {
    testing::WritePnm(tmp_ / ("two/" + std::to_string(i % 2) + "_c/" + std::to_string(i) + ".pgm"),
                      8, 8, 1, 50 + i);
  }
  auto r = Cli("fit " + Headed() + "--train '" + (tmp_ / "two") + "' --knn-k 3 --nnguide-k 3 -o '" +
               (tmp_ / "two.fit") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("training accuracy"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--train has 2 class folders, the model's head 3 classes"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("class 2 has no training images: mahalanobis and rmds ignore it"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(ReadFit(tmp_ / "two.fit").class_counts, (std::vector<std::int64_t>{3, 3, 0}));
}

TEST_F(FitCliTest, RefusesAFitOfAnotherModelOrPreset) {
  ASSERT_EQ(Cli("fit -q " + Headed() + "--train '" + (tmp_ / "id") +
                "' --knn-k 3 --nnguide-k 3 -o '" + (tmp_ / "h.fit") + "'")
                .exit_code,
            0);
  testing::WriteHeadModel(tmp_ / "other.pt", "mlp", 64, 4);
  auto other =
      Cli("score -q --model '" + (tmp_ / "other.pt") + "' --preset '" + (tmp_ / "grey8.json") +
          "' --fit '" + (tmp_ / "h.fit") + "' -i '" + (tmp_ / "far") + "' -o -");
  EXPECT_NE(other.exit_code, 0);
  EXPECT_NE(other.err.find("was made for the model with SHA-256"), std::string::npos) << other.err;
  WriteText(
      tmp_ / "grey8b.json",
      std::string(testing::kPreset).replace(std::string(testing::kPreset).find("0.25"), 4, "0.3"));
  auto preset =
      Cli("score -q --model '" + (tmp_ / "h.pt") + "' --preset '" + (tmp_ / "grey8b.json") +
          "' --fit '" + (tmp_ / "h.fit") + "' -i '" + (tmp_ / "far") + "' -o -");
  EXPECT_NE(preset.exit_code, 0);
  EXPECT_NE(preset.err.find("was made with preset"), std::string::npos) << preset.err;
}

TEST_F(FitCliTest, UsageErrors) {
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      {"eval " + Headed() + "--score knn --id '" + (tmp_ / "id") + "' --ood '" + (tmp_ / "far") +
           "' --out-dir '" + (tmp_ / "r") + "'",
       "score 'knn' is computed from the model's features: give --fit"},
      {"score " + Headed() + "--head fc -i '" + (tmp_ / "far") + "' -o -",
       "--head names the layer whose input the --fit detectors read: give --fit"},
      {"fit " + Headed() + "--train '" + (tmp_ / "id") + "' -o '" + (tmp_ / "x.fit") + "'",
       "fit needs at least 50 training samples for --knn-k 50, got 12 (set a smaller "
       "--knn-k)"},
      {"fit --model '" + (tmp_ / "m.pt") + "' --preset '" + (tmp_ / "grey8.json") + "' --train '" +
           (tmp_ / "id") + "' -o '" + (tmp_ / "x.fit") + "'",
       "cannot find the classifier head"},
      {"fit " + Headed() + "--train '" + (tmp_ / "id") +
           "' --vim-dim 16 --knn-k 3 --nnguide-k 3 -o '" + (tmp_ / "x.fit") + "'",
       "--vim-dim 16 must be in [1, 15]"},
      {"fit " + Headed() + "--train '" + (tmp_ / "far") + "' -o '" + (tmp_ / "x.fit") + "'",
       "has no class subfolders: fit needs each training image's class"},
  };
  for (const Case& c : cases) {
    auto r = Cli(c.args);
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\n" << r.err;
  }
}

}  // namespace
}  // namespace oodscore
