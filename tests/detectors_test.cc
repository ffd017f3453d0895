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
#include <random>
#include <set>
#include <stdexcept>
#include <tuple>

#include "cli_fixture.h"
#include "model/detector_tuning.h"
#include "model/feature_spill.h"
#include "oodscore/card.h"
#include "oodscore/metrics.h"
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
  // fDBD over the feature norm (OpenOOD's distance_as_normalizer: False).
  f.settings.tempscale_converged = 0;
  f.settings.fdbd_distance = 0;
  const std::vector<double> featnorm = ScoresOf(FitFixture(f), f.test, f.n_test);
  const auto expected_featnorm = f.json.at("scores").at("fdbd_featnorm").get<std::vector<double>>();
  const std::size_t fdbd = std::find(names.begin(), names.end(), "fdbd") - names.begin();
  for (int i = 0; i < f.n_test; ++i) {
    EXPECT_NEAR(featnorm[i * names.size() + fdbd], expected_featnorm[i],
                2e-5 * std::max(1.0, std::abs(expected_featnorm[i])))
        << i;
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

// Synthetic features for the parameter search: `n` rows per call of 3 classes in D = 260
// (above ViM's swept 256), ReLU'd Gaussians around class means; OOD rows have a `shift`ed
// mean and twice the spread.
struct TuningData {
  static constexpr int kDim = 260, kClasses = 3;
  HeadWeights head;
  std::mt19937_64 rng{7};
  TuningData() {
    head.name = "fc";
    head.classes = kClasses;
    head.dim = kDim;
    std::normal_distribution<float> w(0.0f, 0.1f);
    for (int i = 0; i < kClasses * kDim; ++i) head.weight.push_back(w(rng));
    head.bias = {0.1f, -0.2f, 0.05f};
  }
  std::vector<float> Rows(int n, float shift, float spread, std::vector<int>* labels = nullptr) {
    std::normal_distribution<float> noise(0.0f, spread);
    std::vector<float> out;
    for (int i = 0; i < n; ++i) {
      const int c = i % kClasses;
      if (labels) labels->push_back(c);
      for (int j = 0; j < kDim; ++j) {
        const float mean = (j % kClasses == c ? 1.0f : 0.2f) + shift * (j % 5 == 0);
        out.push_back(std::max(0.0f, mean + noise(rng)));
      }
    }
    return out;
  }
};

// The column `name` of `features` [n, D] under `fit`, oriented higher = ID.
std::vector<double> Oriented(const DetectorFit& fit, const std::string& name,
                             const std::vector<float>& features) {
  const auto& names = FeatureScoreNames();
  const std::size_t c = std::find(names.begin(), names.end(), name) - names.begin();
  const int n = static_cast<int>(features.size() / fit.head.dim);
  const std::vector<double> all = ScoresOf(fit, features, n);
  std::vector<double> out;
  for (int i = 0; i < n; ++i)
    out.push_back(Orient(all[i * names.size() + c], FindScore(name)->orientation));
  return out;
}

// OpenOOD's APS: every combination's AUROC equals the AUROC of a fit made directly with those
// settings (the clips and ViM's subspace come from the same passes), combinations the fit
// cannot take are skipped with why, each detector keeps its first best, and the tuned fit
// scores as a direct fit with the chosen settings.
TEST(DetectorTuningTest, EveryCombinationEqualsADirectFitAndTheFirstBestIsKept) {
  TuningData data;
  std::vector<int> labels;
  const std::vector<float> train = data.Rows(540, 0, 0.5f, &labels);
  const std::vector<float> val_id = data.Rows(60, 0, 0.5f), val_ood = data.Rows(60, 0.4f, 0.8f);
  DetectorSettings settings;
  settings.nnguide_k = 10;
  FitAlternatives alt = SweepAlternatives(TuningData::kDim);
  EXPECT_EQ(alt.vim_dims, std::vector<int>{256});
  const MemoryFeatureRows rows(train.data(), 540, TuningData::kDim);
  DetectorFit fit = FitDetectors(rows, labels.data(), data.head, settings, 0, &alt);
  const DetectorFit untuned = fit;
  const DetectorTuning tuning =
      TuneDetectors(&fit, alt, val_id.data(), 60, val_ood.data(), 60, "cpu");
  ASSERT_EQ(tuning.trials.size(), 4u + 7 + 7 + 16 + 5 + 2 + 2 + 4 + 5);
  std::map<std::string, const TuningTrial*> chosen;
  std::map<std::string, double> best;
  int skipped = 0;
  for (const TuningTrial& t : tuning.trials) {
    if (!t.skipped.empty()) {
      ++skipped;
      EXPECT_FALSE(t.chosen);
      EXPECT_TRUE(t.skipped ==
                      "knn_k 1000 needs a bank of at least that many images (this "
                      "fit's: 540)" ||
                  t.skipped == "vim_dim 1000 needs features of more dimensions (these: 260)")
          << t.skipped;
      continue;
    }
    // The same settings, fitted directly (the clips and ViM from their own passes).
    DetectorSettings direct_settings = settings;
    for (const auto& [key, value] : t.settings) {
      for (const DetectorSettingDef& def : DetectorSettingTable()) {
        if (key == def.key) def.Set(&direct_settings, value);
      }
    }
    const DetectorFit direct =
        FitDetectors(train.data(), labels.data(), 540, data.head, direct_settings);
    const double auroc = ComputeMetrics(Oriented(direct, t.column, val_id),
                                        Oriented(direct, t.column, val_ood), MetricOptions{})
                             .auroc;
    EXPECT_NEAR(t.auroc, auroc, 1e-12)
        << t.column << " " << t.settings[0].first << "=" << t.settings[0].second;
    // The first best: nothing before the chosen one reaches it, nothing after exceeds it.
    if (!best.count(t.column) || t.auroc > best[t.column]) {
      best[t.column] = t.auroc;
      EXPECT_TRUE(t.chosen || chosen.count(t.column) == 0) << t.column;
    }
    if (t.chosen) {
      EXPECT_EQ(chosen.count(t.column), 0u) << t.column << " chosen twice";
      chosen[t.column] = &t;
    }
  }
  EXPECT_EQ(skipped, 2);
  ASSERT_EQ(chosen.size(), DetectorSweepTable().size());
  DetectorSettings tuned_settings = settings;
  for (const auto& [column, trial] : chosen) {
    EXPECT_EQ(trial->auroc, best[column]) << column;
    for (const auto& [key, value] : trial->settings) {
      for (const DetectorSettingDef& def : DetectorSettingTable()) {
        if (key != def.key) continue;
        EXPECT_EQ(def.Get(fit.settings), value) << key;
        def.Set(&tuned_settings, value);
      }
    }
  }
  // The tuned fit is a fit with the chosen settings, every column (residual takes ViM's dim).
  const DetectorFit direct =
      FitDetectors(train.data(), labels.data(), 540, data.head, tuned_settings);
  EXPECT_EQ(fit.react_threshold, direct.react_threshold);
  EXPECT_EQ(fit.vra_low, direct.vra_low);
  EXPECT_EQ(fit.vra_high, direct.vra_high);
  EXPECT_EQ(fit.vim_dim, direct.vim_dim);
  EXPECT_EQ(fit.vim_alpha, direct.vim_alpha);
  const std::vector<double> got = ScoresOf(fit, val_ood, 60), want = ScoresOf(direct, val_ood, 60);
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], 1e-9 * std::max(1.0, std::abs(want[i]))) << i;
  // The untouched detectors are as they were.
  EXPECT_EQ(fit.settings.dice_percentile, untuned.settings.dice_percentile);
  EXPECT_EQ(fit.bank, untuned.bank);

  // Far OOD: every combination reaches AUROC 1, and each detector keeps its first.
  DetectorFit far_fit = untuned;
  const std::vector<float> far = data.Rows(40, 25.0f, 0.5f);
  const DetectorTuning far_tuning =
      TuneDetectors(&far_fit, alt, val_id.data(), 60, far.data(), 40, "cpu");
  std::set<std::string> seen;
  for (const TuningTrial& t : far_tuning.trials) {
    if (!t.skipped.empty()) continue;
    if (t.auroc != 1.0) continue;
    EXPECT_EQ(t.chosen, seen.insert(t.column).second) << t.column;
  }
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
  EXPECT_FALSE(back.tuning);
  // A tuned fit keeps its search: the sets and every combination.
  fit.tuning = DetectorTuning{
      {{"id", "val", "v/", "/data/v", 10, std::string(64, 'b')},
       {"ood", "near", "n/", "/data/n", 7, std::string(64, 'c')}},
      {{"knn", {{"knn_k", 50}}, 0.75, "", true},
       {"knn", {{"knn_k", 1000}}, 0, "knn_k 1000 needs a bank", false},
       {"vra", {{"vra_high_percentile", 85}, {"vra_low_percentile", 1}}, 0.5, "", true}}};
  WriteFit(tmp / "t.fit", fit);
  const DetectorFit tuned = ReadFit(tmp / "t.fit");
  ASSERT_TRUE(tuned.tuning);
  ASSERT_EQ(tuned.tuning->sets.size(), 2u);
  EXPECT_EQ(tuned.tuning->sets[1].name, "near");
  EXPECT_EQ(tuned.tuning->sets[1].folder, "/data/n");
  EXPECT_EQ(tuned.tuning->sets[1].samples, 7);
  EXPECT_EQ(tuned.tuning->sets[0].content_sha256, std::string(64, 'b'));
  ASSERT_EQ(tuned.tuning->trials.size(), 3u);
  EXPECT_EQ(tuned.tuning->trials[1].skipped, "knn_k 1000 needs a bank");
  EXPECT_EQ(tuned.tuning->trials[2].settings, fit.tuning->trials[2].settings);
  EXPECT_EQ(tuned.tuning->trials[0].auroc, 0.75);
  EXPECT_TRUE(tuned.tuning->trials[0].chosen);

  const std::string bytes = ReadText(path);
  std::string bad_role = ReadText(tmp / "t.fit");
  bad_role.replace(bad_role.find("\"role\":\"ood\""), 12, "\"role\":\"x\"");
  struct Case {
    std::string name, contents, message;
  };
  const std::vector<Case> cases = {
      {"magic", "not a fit\n", "is not an oodscore fit file"},
      {"header", "OODSCORE-FIT 2\n{\"model_sha256\": 3}\n", "damaged header (line 2)"},
      {"old", "OODSCORE-FIT 1\n{}\n", "was made by an older oodscore (format 1"},
      {"truncated", bytes.substr(0, bytes.size() - 100), "is truncated: array 'nnguide_bank'"},
      {"tuning", bad_role, "/tuning/sets/1/role must be \"id\" or \"ood\", got \"x\""},
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

// The largest difference of two arrays, relative to the largest magnitude in the first.
template <typename T>
double RelativeDifference(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return INFINITY;
  double scale = 0, diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, std::abs(static_cast<double>(a[i])));
    diff = std::max(diff, std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

// ViM's complement N [D, c] as its projector N N^T [D, D]: the same subspace whatever the
// eigenvectors' signs.
std::vector<double> Projector(const DetectorFit& fit) {
  const std::size_t d = fit.head.dim, c = d - fit.vim_dim;
  std::vector<double> p(d * d, 0.0);
  for (std::size_t i = 0; i < d; ++i) {
    for (std::size_t j = 0; j < d; ++j) {
      for (std::size_t k = 0; k < c; ++k) {
        p[i * d + j] += fit.vim_complement[i * c + k] * fit.vim_complement[j * c + k];
      }
    }
  }
  return p;
}

// The fixture's training features in a spill file, as `fit` writes them.
std::unique_ptr<FeatureSpill> Spill(const Fixture& f, const std::filesystem::path& folder) {
  auto spill = std::make_unique<FeatureSpill>(folder, f.head.dim);
  for (std::size_t i = 0; i < f.labels.size(); ++i) spill->Append(&f.train[i * f.head.dim]);
  return spill;
}

TEST(DetectorsTest, StreamedInSmallBlocksTheStatisticsAreTheInMemoryOnes) {
  const Fixture f = LoadFixture("openood_scores.json");
  const DetectorFit whole = FitFixture(f);  // in memory, one block (240 rows < 4 Mi / 12)
  testing::TempDir tmp;
  const auto spill = Spill(f, tmp.path());
  // From the spill file in the same blocks: the same code, the same numbers.
  const DetectorFit same = FitDetectors(*spill, f.labels.data(), f.head, f.settings);
  EXPECT_EQ(same.class_means, whole.class_means);
  EXPECT_EQ(same.precision, whole.precision);
  EXPECT_EQ(same.rmds_precision, whole.rmds_precision);
  EXPECT_EQ(same.vim_complement, whole.vim_complement);
  EXPECT_EQ(same.vim_alpha, whole.vim_alpha);
  EXPECT_EQ(same.klm_templates, whole.klm_templates);
  EXPECT_EQ(same.relation_probs, whole.relation_probs);
  EXPECT_EQ(same.tempscale_temperature, whole.tempscale_temperature);
  // In 35 blocks of 7 rows instead of one: sums in another order, to 1e-9 of each array's
  // scale. The precisions are pseudo-inverses of covariances with an eigenvalue of 4.8e-8
  // against 0.43 (the fixture's near-degenerate direction): they amplify the sums' float64
  // rounding by that condition number, 1e7, so they get 1e-16 x 1e7 x 10.
  const DetectorFit streamed = FitDetectors(*spill, f.labels.data(), f.head, f.settings, 7);
  const std::vector<std::tuple<const char*, double, double>> arrays = {
      {"class_means", RelativeDifference(whole.class_means, streamed.class_means), 1e-9},
      {"precision", RelativeDifference(whole.precision, streamed.precision), 1e-8},
      {"vim_origin", RelativeDifference(whole.vim_origin, streamed.vim_origin), 1e-9},
      {"vim_complement (projector)", RelativeDifference(Projector(whole), Projector(streamed)),
       1e-9},
      {"train_mean", RelativeDifference(whole.train_mean, streamed.train_mean), 1e-9},
      {"rmds_precision", RelativeDifference(whole.rmds_precision, streamed.rmds_precision), 1e-8},
      {"she_means", RelativeDifference(whole.she_means, streamed.she_means), 1e-9},
      {"klm_templates", RelativeDifference(whole.klm_templates, streamed.klm_templates), 1e-9},
      {"vim_alpha",
       RelativeDifference(std::vector<double>{whole.vim_alpha},
                          std::vector<double>{streamed.vim_alpha}),
       1e-9}};
  for (const auto& [name, difference, tolerance] : arrays) {
    EXPECT_LE(difference, tolerance) << name;
  }
  // Selected, not summed: exactly equal.
  EXPECT_EQ(streamed.react_threshold, whole.react_threshold);
  EXPECT_EQ(streamed.vra_low, whole.vra_low);
  EXPECT_EQ(streamed.vra_high, whole.vra_high);
  EXPECT_EQ(streamed.class_counts, whole.class_counts);
  EXPECT_EQ(streamed.she_counts, whole.she_counts);
  EXPECT_EQ(streamed.bank, whole.bank);
  EXPECT_EQ(streamed.nnguide_bank, whole.nnguide_bank);
  EXPECT_EQ(streamed.bank_rows, 240);
  EXPECT_EQ(streamed.tempscale_rows, 240);
  // The head's float32 logits of 7 rows at a time: float32's rounding at most.
  EXPECT_LE(RelativeDifference(whole.relation_probs, streamed.relation_probs), 1e-6);
  EXPECT_NEAR(streamed.tempscale_temperature, whole.tempscale_temperature,
              1e-6 * whole.tempscale_temperature);
}

TEST(DetectorsTest, StatisticsEqualAStraightforwardReference) {
  const Fixture f = LoadFixture("openood_scores.json");
  testing::TempDir tmp;
  const auto spill = Spill(f, tmp.path());
  const DetectorFit fit = FitDetectors(*spill, f.labels.data(), f.head, f.settings, 5);
  const std::size_t n = f.labels.size(), d = f.head.dim, k = f.head.classes;
  std::vector<double> sums(k * d, 0.0), mean(d, 0.0);
  std::vector<std::int64_t> counts(k, 0);
  for (std::size_t i = 0; i < n; ++i) {
    ++counts[f.labels[i]];
    for (std::size_t j = 0; j < d; ++j) {
      sums[f.labels[i] * d + j] += f.train[i * d + j];
      mean[j] += f.train[i * d + j] / static_cast<double>(n);
    }
  }
  for (std::size_t c = 0; c < k; ++c) {
    for (std::size_t j = 0; j < d; ++j) sums[c * d + j] /= static_cast<double>(counts[c]);
  }
  EXPECT_EQ(fit.class_counts, counts);
  EXPECT_LE(RelativeDifference(sums, fit.class_means), 1e-12);
  EXPECT_LE(RelativeDifference(mean, fit.train_mean), 1e-12);
  // ReAct's clip: numpy's percentile of all N x D activations, on a sorted copy.
  std::vector<float> sorted = f.train;
  std::sort(sorted.begin(), sorted.end());
  const double pos = 0.9 * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(pos);
  const double a = sorted[lo], b = sorted[lo + 1], t = pos - static_cast<double>(lo);
  EXPECT_EQ(fit.react_threshold, t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t);
  // The KNN bank: each row over its norm (+ 1e-10), in float32.
  for (std::size_t i = 0; i < n; i += 37) {
    float norm = 0;
    for (std::size_t j = 0; j < d; ++j) norm += f.train[i * d + j] * f.train[i * d + j];
    for (std::size_t j = 0; j < d; ++j) {
      EXPECT_NEAR(fit.bank[i * d + j], f.train[i * d + j] / (std::sqrt(norm) + 1e-10f), 1e-6)
          << i << ", " << j;
    }
  }
}

TEST(DetectorsTest, ABankSampleIsSeededRecordedAndLeavesTheStatisticsAlone) {
  Fixture f = LoadFixture("openood_scores.json");
  const DetectorFit whole = FitFixture(f);
  f.settings.bank_size = 60;
  const DetectorFit sampled = FitFixture(f), again = FitFixture(f);
  EXPECT_EQ(sampled.train_samples, 240);
  EXPECT_EQ(sampled.bank_rows, 60);
  EXPECT_EQ(sampled.tempscale_rows, 60);
  const std::size_t d = f.head.dim, k = f.head.classes;
  ASSERT_EQ(sampled.bank.size(), 60 * d);
  ASSERT_EQ(sampled.relation_probs.size(), 60 * k);
  EXPECT_EQ(sampled.bank, again.bank);
  EXPECT_EQ(sampled.relation_probs, again.relation_probs);
  // Rows of the whole bank, in file order, from across the (class-sorted) training set.
  std::vector<std::size_t> rows;
  for (std::size_t i = 0; i < 60; ++i) {
    for (std::size_t j = 0; j < 240; ++j) {
      if (std::equal(sampled.bank.begin() + i * d, sampled.bank.begin() + (i + 1) * d,
                     whole.bank.begin() + j * d)) {
        rows.push_back(j);
        break;
      }
    }
  }
  ASSERT_EQ(rows.size(), 60u);
  EXPECT_TRUE(std::is_sorted(rows.begin(), rows.end()));
  EXPECT_GT(rows.back(), 180u);
  EXPECT_LT(rows.front(), 60u);
  for (std::size_t i = 0; i < 60; ++i) {
    EXPECT_TRUE(std::equal(sampled.relation_probs.begin() + i * k,
                           sampled.relation_probs.begin() + (i + 1) * k,
                           whole.relation_probs.begin() + rows[i] * k))
        << i;
  }
  // The statistics are over all 240 images still.
  EXPECT_EQ(sampled.class_means, whole.class_means);
  EXPECT_EQ(sampled.precision, whole.precision);
  EXPECT_EQ(sampled.react_threshold, whole.react_threshold);
  EXPECT_EQ(sampled.nnguide_bank, whole.nnguide_bank);
  // The same share as a fraction: the same rows; another seed: others.
  f.settings.bank_size = 0;
  f.settings.bank_fraction = 0.25;
  EXPECT_EQ(FitFixture(f).bank, sampled.bank);
  f.settings.bank_seed = 1;
  EXPECT_NE(FitFixture(f).bank, sampled.bank);
  // Recorded in the fit file, and read back.
  testing::TempDir tmp;
  WriteFit(tmp.path() / "s.fit", sampled);
  const DetectorFit read = ReadFit(tmp.path() / "s.fit");
  EXPECT_EQ(read.settings.bank_size, 60);
  EXPECT_EQ(read.settings.bank_seed, 0);
  EXPECT_EQ(read.bank_rows, 60);
  EXPECT_EQ(read.tempscale_rows, 60);
  EXPECT_EQ(read.bank, sampled.bank);
  const std::string text = ReadText(tmp / "s.fit");
  const std::string header = text.substr(0, text.find('\n', text.find('\n') + 1));
  EXPECT_NE(header.find("\"bank_rows\":60"), std::string::npos) << header;
  EXPECT_NE(header.find("\"bank_size\":60"), std::string::npos) << header;
  for (double v : ScoresOf(read, f.test, f.n_test)) EXPECT_TRUE(std::isfinite(v));
}

TEST(DetectorsTest, ABankSampleTooLargeTooSmallOrAskedTwiceIsRefused) {
  Fixture f = LoadFixture("openood_scores.json");
  struct Case {
    int size;
    double fraction;
    std::string says;
  };
  const std::vector<Case> cases = {
      {241, 1,
       "--bank-size 241 is more than the 240 training images: give at most 240, or leave it out "
       "to keep them all"},
      {49, 1,
       "a bank of 49 training images (--bank-size) is smaller than --knn-k 50: give a larger "
       "bank or a smaller --knn-k"},
      {0, 0.2, "a bank of 48 training images (--bank-fraction of 240) is smaller than --knn-k 50"},
      {60, 0.5, "--bank-size 60 and --bank-fraction 0.5 both ask for a bank sample: give one"},
  };
  for (const Case& c : cases) {
    f.settings.bank_size = c.size;
    f.settings.bank_fraction = c.fraction;
    try {
      FitFixture(f);
      ADD_FAILURE() << c.says << ": no error";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(c.says), std::string::npos) << e.what();
    }
  }
  // The whole set asked for by size is the whole bank, not a sample.
  f.settings.bank_size = 240;
  f.settings.bank_fraction = 1;
  f.settings.bank_seed = 5;
  const DetectorFit all = FitFixture(f);
  EXPECT_EQ(all.bank_rows, 240);
  EXPECT_EQ(all.bank, FitFixture(LoadFixture("openood_scores.json")).bank);
}

TEST(DetectorsTest, FitFilesFromBeforeBankSamplesReadAsTheWholeBank) {
  const Fixture f = LoadFixture();
  const DetectorFit fit = FitFixture(f);
  testing::TempDir tmp;
  WriteFit(tmp.path() / "new.fit", fit);
  const std::string text = ReadText(tmp / "new.fit");
  const std::size_t eol = text.find('\n', text.find('\n') + 1);
  const std::size_t magic = text.find('\n') + 1;
  nlohmann::json h = nlohmann::json::parse(text.substr(magic, eol - magic));
  for (const char* key : {"bank_rows", "tempscale_rows"}) h.erase(key);
  for (const char* key : {"bank_size", "bank_fraction", "bank_seed"}) h["settings"].erase(key);
  WriteText(tmp / "old.fit", text.substr(0, magic) + h.dump() + text.substr(eol));
  const DetectorFit old = ReadFit(tmp.path() / "old.fit");
  EXPECT_EQ(old.bank_rows, fit.train_samples);
  EXPECT_EQ(old.tempscale_rows, fit.train_samples);
  EXPECT_EQ(old.settings.bank_size, 0);
  EXPECT_EQ(old.settings.bank_fraction, 1);
  EXPECT_EQ(old.bank, fit.bank);
  // A bank larger than the training set is damage.
  h["bank_rows"] = fit.train_samples + 1;
  WriteText(tmp / "big.fit", text.substr(0, magic) + h.dump() + text.substr(eol));
  try {
    ReadFit(tmp.path() / "big.fit");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has inconsistent sizes in its header"), std::string::npos)
        << e.what();
  }
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

// Files in `folder` whose name starts with the spill file's.
int SpillFiles(const std::filesystem::path& folder) {
  int found = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(folder)) {
    found += e.path().filename().string().rfind(".oodscore-features", 0) == 0;
  }
  return found;
}

TEST_F(FitCliTest, ABankSampleIsRecordedInTheFitAndTheRunRecord) {
  auto fit =
      Cli("fit -q " + Headed() + "--train '" + (tmp_ / "id") +
          "' --knn-k 3 --nnguide-k 3 --bank-size 6 --bank-seed 2 -o '" + (tmp_ / "b.fit") + "'");
  ASSERT_EQ(fit.exit_code, 0) << fit.err;
  EXPECT_EQ(SpillFiles(tmp_.path()), 0);
  const DetectorFit stored = ReadFit(tmp_ / "b.fit");
  EXPECT_EQ(stored.train_samples, 12);
  EXPECT_EQ(stored.bank_rows, 6);
  EXPECT_EQ(stored.settings.bank_seed, 2);
  auto s = Cli("score -q " + Headed() + "--fit '" + (tmp_ / "b.fit") + "' -i '" + (tmp_ / "far") +
               "' -o '" + (tmp_ / "s.csv") + "'");
  ASSERT_EQ(s.exit_code, 0) << s.err;
  const auto stamp = nlohmann::json::parse(ReadText(tmp_ / "s.csv.json"));
  EXPECT_EQ(stamp["fit"]["train_samples"], 12);
  EXPECT_EQ(stamp["fit"]["bank_rows"], 6);
  EXPECT_EQ(stamp["fit"]["tempscale_rows"], 6);
  EXPECT_EQ(stamp["fit"]["bank_size"], 6);
  EXPECT_EQ(stamp["fit"]["bank_seed"], 2);
}

// fit --val --val-ood: the search is in the fit, and eval on a tuning set says the numbers are
// optimistic, whether it is the same folder or a copy of its images; other sets are not flagged.
TEST_F(FitCliTest, TuningOnValidationSetsIsRecordedAndFlaggedInEval) {
  auto alone = Cli("fit -q " + Headed() + "--train '" + (tmp_ / "id") + "' --val '" +
                   (tmp_ / "id") + "' -o '" + (tmp_ / "x.fit") + "'");
  EXPECT_EQ(alone.exit_code, 2);
  EXPECT_NE(alone.err.find("--val needs --val-ood NAME=DIR"), std::string::npos) << alone.err;
  auto fit =
      Cli("fit " + Headed() + "--train '" + (tmp_ / "id") + "' --knn-k 3 --nnguide-k 3 --val '" +
          (tmp_ / "id") + "' --val-ood far='" + (tmp_ / "far") + "' -o '" + (tmp_ / "t.fit") + "'");
  ASSERT_EQ(fit.exit_code, 0) << fit.err;
  EXPECT_NE(fit.err.find("parameter search (OpenOOD's APS)"), std::string::npos) << fit.err;
  EXPECT_NE(fit.err.find("(chosen)"), std::string::npos) << fit.err;
  const DetectorFit stored = ReadFit(tmp_ / "t.fit");
  ASSERT_TRUE(stored.tuning);
  ASSERT_EQ(stored.tuning->sets.size(), 2u);
  EXPECT_EQ(stored.tuning->sets[1].name, "far");
  EXPECT_EQ(stored.tuning->sets[1].samples, 12);
  // 12 training images: every swept k is above the bank, so knn keeps --knn-k 3; a 64-d
  // feature has no ViM subspace of 256 or 1000.
  EXPECT_EQ(stored.settings.knn_k, 3);
  int knn_skipped = 0;
  for (const TuningTrial& t : stored.tuning->trials) {
    knn_skipped += t.column == "knn" && !t.skipped.empty();
    if (t.column == "vim") EXPECT_NE(t.skipped.find("needs features of more"), std::string::npos);
  }
  EXPECT_EQ(knn_skipped, 5);
  // A copy of the OOD set's images under other names, and a set it was not tuned on.
  std::filesystem::create_directories(tmp_ / "copy");
  for (const auto& e : std::filesystem::directory_iterator(tmp_ / "far")) {
    std::filesystem::copy_file(e.path(), tmp_ / ("copy/c_" + e.path().filename().string()));
  }
  testing::WritePnm(tmp_ / "other/a.ppm", 16, 12, 3, 5);
  testing::WritePnm(tmp_ / "other/b.ppm", 16, 12, 3, 9);
  auto e = Cli("eval " + Headed() + "--fit '" + (tmp_ / "t.fit") + "' --id '" + (tmp_ / "id") +
               "' --ood far='" + (tmp_ / "far") + "' --ood copy='" + (tmp_ / "copy") +
               "' --ood other='" + (tmp_ / "other") + "' --out-dir '" + (tmp_ / "rep") + "'");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  const auto report = nlohmann::json::parse(ReadText(tmp_ / "rep/report.json"));
  const std::string warnings = report.at("warnings").dump();
  for (const std::string& w :
       {"'id' is the ID validation set 'val'", "'far' is the OOD validation set 'far'",
        "'copy' is the OOD validation set 'far'"}) {
    EXPECT_NE(warnings.find(w), std::string::npos) << w << "\n" << warnings;
    EXPECT_NE(e.err.find(w), std::string::npos) << w;
  }
  EXPECT_NE(warnings.find("(the same images): tuned on this set: the numbers are optimistic"),
            std::string::npos)
      << warnings;
  EXPECT_EQ(warnings.find("'other' is the"), std::string::npos) << warnings;
  // Scores made elsewhere: eval --from-scores matches the score files' images.
  ASSERT_EQ(Cli("score -q " + Headed() + "--fit '" + (tmp_ / "t.fit") + "' -i id='" +
                (tmp_ / "id") + "' -i other='" + (tmp_ / "other") + "' -i copy='" +
                (tmp_ / "copy") + "' -o '" + (tmp_ / "s.csv") + "'")
                .exit_code,
            0);
  auto from =
      Cli("eval -q --from-scores '" + (tmp_ / "s.csv") + "' --out-dir '" + (tmp_ / "rep2") + "'");
  ASSERT_EQ(from.exit_code, 0) << from.err;
  const std::string from_warnings =
      nlohmann::json::parse(ReadText(tmp_ / "rep2/report.json")).at("warnings").dump();
  EXPECT_NE(from_warnings.find("'copy' is the OOD validation set 'far'"), std::string::npos)
      << from_warnings;
  EXPECT_NE(from_warnings.find("'id' is the ID validation set 'val'"), std::string::npos)
      << from_warnings;
  EXPECT_EQ(from_warnings.find("'other' is the"), std::string::npos) << from_warnings;
}

TEST_F(FitCliTest, BankFlagsOutOfRangeAreRefusedAndNoSpillIsLeft) {
  struct Case {
    std::string flags, message;
  };
  const std::vector<Case> cases = {
      {"--bank-fraction 0", "must be a finite number > 0 and <= 1, got 0"},
      {"--bank-fraction 1.5", "must be a finite number > 0 and <= 1, got 1.5"},
      {"--bank-size -1", "must be a finite number >= 0"},
      // After every image is scored and spilled: the spill goes too.
      {"--bank-size 13", "--bank-size 13 is more than the 12 training images"},
  };
  for (const Case& c : cases) {
    auto r = Cli("fit -q " + Headed() + "--train '" + (tmp_ / "id") + "' --knn-k 3 --nnguide-k 3 " +
                 c.flags + " -o '" + (tmp_ / "x.fit") + "'");
    EXPECT_EQ(r.exit_code, 2) << c.flags << "\n" << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.flags << "\n" << r.err;
    EXPECT_NE(r.err.find(c.flags.substr(0, c.flags.find(' '))), std::string::npos) << r.err;
    EXPECT_EQ(SpillFiles(tmp_.path()), 0) << c.flags;
    EXPECT_FALSE(std::filesystem::exists(tmp_ / "x.fit")) << c.flags;
  }
  // A spill folder that cannot be written in: refused before the images are scored.
  auto r = Cli("fit " + Headed() + "--train '" + (tmp_ / "id") +
               "' --knn-k 3 --nnguide-k 3 --spill-dir '" + (tmp_ / "none") + "' -o '" +
               (tmp_ / "x.fit") + "'");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("cannot make the training features' spill file '" + (tmp_ / "none")),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("training accuracy"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace oodscore
