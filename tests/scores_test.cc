#include "oodscore/scores.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base/format.h"
#include "oodscore/card.h"
#include "oodscore/error.h"

namespace oodscore {
namespace {

TEST(ScoresTest, EnergyIsNegativeLogSumExp) {
  const float logits[] = {1.0f, 2.0f, 3.0f};
  LogitScores s;
  ComputeLogitScores(logits, 3, {1.0, 2.0}, &s);
  const double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  EXPECT_NEAR(s.energy[0], -lse, 1e-15);
  const double lse2 = std::log(std::exp(0.5) + std::exp(1.0) + std::exp(1.5));
  EXPECT_NEAR(s.energy[1], -2.0 * lse2, 1e-14);
  EXPECT_EQ(s.pred, 2);
  EXPECT_DOUBLE_EQ(s.maxlogit, 3.0);
  EXPECT_NEAR(s.msp, std::exp(3.0 - lse), 1e-15);
  EXPECT_NEAR(s.log_msp, 3.0 - lse, 1e-15);
  double h = 0;
  for (float f : logits) h -= std::exp(f - lse) * (f - lse);
  EXPECT_NEAR(s.entropy, h, 1e-15);
}

TEST(ScoresTest, LargeLogitsDoNotOverflow) {
  const float logits[] = {1000.0f, 990.0f};
  LogitScores s;
  ComputeLogitScores(logits, 2, {1.0}, &s);
  EXPECT_TRUE(std::isfinite(s.energy[0]));
  EXPECT_NEAR(s.energy[0], -(1000.0 + std::log1p(std::exp(-10.0))), 1e-12);
}

// Finite float64 logits give finite scores, even where a difference of logits overflows.
TEST(ScoresTest, ExtremeFloat64LogitsGiveFiniteEntropy) {
  const double logits[] = {1e308, -1e308, 0};
  LogitScores s;
  ComputeLogitScores(logits, 3, {1.0}, &s);
  ASSERT_TRUE(s.finite);
  EXPECT_EQ(s.entropy, 0.0);  // one class holds all of the probability
  EXPECT_EQ(s.energy[0], -1e308);
  EXPECT_EQ(s.msp, 1.0);
  EXPECT_TRUE(std::isfinite(s.gen)) << s.gen;
}

TEST(ScoresTest, LogMspKeepsRankingWhereMspSaturates) {
  const float a[] = {60.0f, 0.0f}, b[] = {50.0f, 0.0f};
  LogitScores sa, sb;
  ComputeLogitScores(a, 2, {1.0}, &sa);
  ComputeLogitScores(b, 2, {1.0}, &sb);
  EXPECT_EQ(sa.msp, sb.msp);          // both round to 1.0 in double
  EXPECT_GT(sa.log_msp, sb.log_msp);  // still ordered
}

TEST(ScoresTest, ArgmaxTakesFirstOfEqualMaxima) {
  const float logits[] = {2.0f, 5.0f, 5.0f};
  LogitScores s;
  ComputeLogitScores(logits, 3, {1.0}, &s);
  EXPECT_EQ(s.pred, 1);
}

TEST(ScoresTest, NonFiniteLogitsAreFlagged) {
  const float logits[] = {1.0f, std::numeric_limits<float>::quiet_NaN()};
  LogitScores s;
  ComputeLogitScores(logits, 2, {1.0}, &s);
  EXPECT_FALSE(s.finite);
}

TEST(ScoresTest, KnownColumnsHaveTheirOrientation) {
  ScoreInfo info;
  ASSERT_TRUE(LookupScore("energy", &info));
  EXPECT_EQ(info.orientation, Orientation::kLowerIsId);
  ASSERT_TRUE(LookupScore("energy_T1000", &info));
  EXPECT_EQ(info.orientation, Orientation::kLowerIsId);
  ASSERT_TRUE(LookupScore("msp", &info));
  EXPECT_EQ(info.orientation, Orientation::kHigherIsId);
  EXPECT_EQ(info.rank_column, "log_msp");
  ASSERT_TRUE(LookupScore("entropy", &info));
  EXPECT_EQ(info.orientation, Orientation::kLowerIsId);
  EXPECT_FALSE(LookupScore("path", &info));
  EXPECT_FALSE(LookupScore("energy_Tx", &info));
  EXPECT_FALSE(LookupScore("log_msp", &info));
  // The feature-space scores: our energies lower = ID, the rest (OpenOOD's conf) higher = ID.
  std::vector<std::pair<std::string, Orientation>> features = {
      {"react_energy", Orientation::kLowerIsId}, {"ash_energy", Orientation::kLowerIsId}};
  for (const char* name :
       {"mahalanobis", "knn", "vim", "scale", "dice", "vra", "fdbd", "nci", "gradnorm", "she",
        "residual", "rmds", "klm", "tempscale", "relation", "nnguide"}) {
    features.emplace_back(name, Orientation::kHigherIsId);
  }
  ASSERT_EQ(FeatureScoreNames().size(), features.size());
  for (std::size_t i = 0; i < features.size(); ++i) {
    EXPECT_EQ(FeatureScoreNames()[i], features[i].first);
    ASSERT_TRUE(LookupScore(features[i].first, &info)) << features[i].first;
    EXPECT_EQ(info.orientation, features[i].second) << features[i].first;
    EXPECT_TRUE(IsFeatureScore(features[i].first));
    EXPECT_EQ(CheckedScoreName(features[i].first), features[i].first);
  }
  EXPECT_FALSE(IsFeatureScore("energy"));
  try {
    CheckedScoreName("vin");
    ADD_FAILURE() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'vim'"), std::string::npos) << e.what();
  }
}

// GEN against OpenOOD v1.5's GENPostprocessor on float64 logits, K from 2 to 1000 (so both
// K < M and K > M = 100), made by scripts/fixtures/make_gen_fixtures.py.
TEST(ScoresTest, GenEqualsTheReferenceCode) {
  std::ifstream in(std::string(OODSCORE_FIXTURE_DIR) + "/gen_scores.json");
  ASSERT_TRUE(in.good());
  const nlohmann::json fixture = nlohmann::json::parse(in);
  ASSERT_EQ(fixture["gamma"].get<double>(), kGenGamma);
  ASSERT_EQ(fixture["M"].get<int>(), kGenTopM);
  int n = 0;
  for (const auto& c : fixture["cases"]) {
    const std::vector<double> logits = c["logits"];
    const std::vector<float> f(logits.begin(), logits.end());  // exact: made from float32
    LogitScores s;
    ComputeLogitScores(f.data(), static_cast<int>(f.size()), {1.0}, &s);
    const double want = c["gen"];
    EXPECT_NEAR(s.gen, want, 1e-12 * std::fabs(want)) << "K = " << f.size();
    ++n;
  }
  EXPECT_EQ(n, 30);
  // Saturated: the reference's 1 - p rounds to 0 for the top class; here it is rest / S.
  const std::vector<float> sat = {60.0f, 0.0f, 0.0f};
  LogitScores s;
  ComputeLogitScores(sat.data(), 3, {1.0}, &s);
  const double rest = 2 * std::exp(-60.0);
  EXPECT_NEAR(s.gen,
              -(std::pow(rest / (1 + rest), 0.1) + 2 * std::pow(std::exp(-60.0) / (1 + rest), 0.1)),
              1e-15);
  ScoreInfo info;
  ASSERT_TRUE(LookupScore("gen", &info));
  EXPECT_EQ(info.orientation, Orientation::kHigherIsId);
}

// The catalogue is the one list of scores: every other list is derived from it.
TEST(ScoreCatalogueTest, RowsAreUniqueAndFindable) {
  std::set<std::string> names;
  for (const ScoreDef& d : ScoreCatalogue()) {
    EXPECT_TRUE(names.insert(d.name).second) << "twice: " << d.name;
    EXPECT_EQ(d.value == nullptr, d.needs == ScoreNeeds::kScoreFile) << d.name;
    EXPECT_NE(std::string(d.formula), "") << d.name;
    const std::string column = d.needs == ScoreNeeds::kTemperature ? "energy_T2" : d.name;
    EXPECT_EQ(FindScore(column), &d) << column;
    if (d.rank_column != nullptr) {
      // A rank column is a column of its own, and no score.
      ASSERT_NE(FindScore(d.rank_column), nullptr) << d.rank_column;
      EXPECT_EQ(FindScore(d.rank_column)->needs, ScoreNeeds::kRankKey);
    }
  }
  EXPECT_EQ(FindScore("path"), nullptr);
  EXPECT_EQ(FindScore("energy_Tx"), nullptr);
  EXPECT_EQ(FindScore("energy_T-1"), nullptr);
  EXPECT_EQ(FindScore("energy")->needs, ScoreNeeds::kLogits);
}

// The score CSV's columns, in the order every earlier release wrote them.
TEST(ScoreCatalogueTest, RunColumnsKeepTheScoreFileOrder) {
  auto names = [](const std::vector<ScoreColumn>& columns) {
    std::vector<std::string> v;
    for (const auto& c : columns) v.push_back(c.name);
    return v;
  };
  EXPECT_EQ(names(RunScoreColumns({1.0}, false, false)),
            (std::vector<std::string>{"energy", "msp", "maxlogit", "log_msp", "entropy", "gen"}));
  EXPECT_EQ(
      names(RunScoreColumns({1.0, 2.0, 0.5}, true, true)),
      (std::vector<std::string>{
          "energy",   "msp",  "maxlogit",     "energy_T2",  "energy_T0.5", "log_msp",  "entropy",
          "gen",      "odin", "react_energy", "ash_energy", "mahalanobis", "knn",      "vim",
          "scale",    "dice", "vra",          "fdbd",       "nci",         "gradnorm", "she",
          "residual", "rmds", "klm",          "tempscale",  "relation",    "nnguide"}));
  EXPECT_EQ(names(RunScoreColumns({1.0}, false, true)).size(), 24u);
}

// Each column reads its own field: distinct values in every field, each found once.
TEST(ScoreCatalogueTest, ColumnsReadTheirOwnValues) {
  LogitScores s;
  s.energy = {-1.0, -2.0, -3.0};
  s.msp = 0.5;
  s.log_msp = std::log(0.5);
  s.maxlogit = 7;
  s.entropy = 0.25;
  s.gen = -0.125;
  s.odin = 0.75;
  std::map<std::string, double> expected = {
      {"energy", -1},    {"msp", 0.5},        {"maxlogit", 7},
      {"energy_T2", -2}, {"energy_T0.5", -3}, {"log_msp", std::log(0.5)},
      {"entropy", 0.25}, {"gen", -0.125},     {"odin", 0.75}};
  for (const std::string& name : FeatureScoreNames()) {
    s.feature.push_back(10.0 + static_cast<double>(s.feature.size()));
    expected[name] = s.feature.back();
  }
  const auto columns = RunScoreColumns({1.0, 2.0, 0.5}, true, true);
  ASSERT_EQ(columns.size(), expected.size());
  for (const auto& c : columns) EXPECT_EQ(c.Value(s), expected.at(c.name)) << c.name;
  // The feature columns are FeatureScoreNames() in order: the detectors' output order.
  std::vector<std::string> fit_columns;
  for (const auto& c : columns) {
    if (c.def->needs == ScoreNeeds::kFit) fit_columns.push_back(c.name);
  }
  EXPECT_EQ(fit_columns, FeatureScoreNames());
}

TEST(ScoreCatalogueTest, DerivedListsAndTexts) {
  EXPECT_EQ(LogitScoreNames(),
            (std::vector<std::string>{"energy", "msp", "maxlogit", "entropy", "gen"}));
  // eval's defaults: energy at each temperature once, then the rest in catalogue order.
  EXPECT_EQ(DefaultReportScores({2.0, 1.0, 2.0}, true, false),
            (std::vector<std::string>{"energy", "energy_T2", "msp", "maxlogit", "entropy", "gen",
                                      "odin"}));
  EXPECT_EQ(DefaultReportScores({}, false, true).size(), 23u);
  EXPECT_EQ(KnownScoresText(),
            "energy, msp, maxlogit, energy_T<t> (e.g. energy_T2), entropy, gen, odin (with "
            "--odin), react_energy, ash_energy, mahalanobis, knn, vim, scale, dice, vra, fdbd, "
            "nci, gradnorm, she, residual, rmds, klm, tempscale, relation, nnguide (with --fit)");
  const std::string help = ScoreHelpText();
  for (const ScoreDef& d : ScoreCatalogue()) {
    const bool listed = help.find("  " + std::string(d.name) + " ") != std::string::npos;
    EXPECT_EQ(listed, d.needs != ScoreNeeds::kRankKey && d.needs != ScoreNeeds::kScoreFile)
        << d.name;
  }
  EXPECT_NE(help.find("  energy        -T*logsumexp(f/T) at T = 1; lower = ID"), std::string::npos)
      << help;
  EXPECT_NE(help.find(" knn (Sun et al., ICML 2022);"), std::string::npos) << help;
  EXPECT_NE(help.find("higher = ID, with --fit"), std::string::npos) << help;
}

TEST(ScoreCatalogueTest, OrientationTexts) {
  for (const Orientation o : {Orientation::kHigherIsId, Orientation::kLowerIsId}) {
    EXPECT_EQ(ParseOrientationKey(OrientationKey(o)), o);
  }
  EXPECT_STREQ(OrientationKey(Orientation::kLowerIsId), "lower_is_id");
  EXPECT_STREQ(OrientationText(Orientation::kHigherIsId), "higher = ID");
  EXPECT_EQ(ParseOrientationKey("higher"), std::nullopt);
}

// A card keeps the orientation it states, which must be the catalogue's; a card without one
// takes the catalogue's.
TEST(ScoreCatalogueTest, CardOrientationIsChecked) {
  auto card_text = [](const std::string& score, const std::string& orientation) {
    std::string text = R"({"kind": "oodscore-detector-card", "score": ")" + score +
                       R"(", "threshold": 0.5, "model": {"sha256": "ab"}, "preset": null)";
    if (!orientation.empty()) text += R"(, "orientation": ")" + orientation + "\"";
    return text + "}";
  };
  EXPECT_EQ(ParseCard(card_text("msp", "higher_is_id"), "c.json").orientation,
            Orientation::kHigherIsId);
  EXPECT_EQ(ParseCard(card_text("entropy", ""), "c.json").orientation, Orientation::kLowerIsId);
  try {
    ParseCard(card_text("energy", "higher_is_id"), "c.json");
    FAIL() << "accepted a card that contradicts the catalogue";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "detector card 'c.json': /orientation \"higher_is_id\" contradicts score "
                 "'energy', which is lower = ID");
  }
  try {
    ParseCard(card_text("energy", "down"), "c.json");
    FAIL() << "accepted an unknown orientation";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/orientation must be"), std::string::npos) << e.what();
  }
  // IsOod follows the card's orientation: msp >= threshold is ID.
  const DetectorCard msp = ParseCard(card_text("msp", "higher_is_id"), "c.json");
  EXPECT_FALSE(msp.IsOod(0.75));
  EXPECT_TRUE(msp.IsOod(0.25));
  EXPECT_EQ(msp.ApplyColumn(), "msp");
}

TEST(ScoresTest, EnergyColumnNamesUseShortestTemperature) {
  EXPECT_EQ(EnergyColumn(1.0), "energy");
  EXPECT_EQ(EnergyColumn(0.5), "energy_T0.5");
  EXPECT_EQ(EnergyColumn(1000), "energy_T1000");
}

TEST(FormatTest, DoublesRoundTripExactly) {
  for (double v : {0.1, 1.0 / 3.0, -7.123456789012345e-300, 1e308, 5e-324, -0.0, 123456789.0}) {
    auto back = ParseDouble(FormatDouble(v));
    ASSERT_TRUE(back.has_value()) << v;
    EXPECT_EQ(*back, v) << FormatDouble(v);
  }
  EXPECT_EQ(FormatDouble(0.1), "0.1");
  EXPECT_EQ(FormatDouble(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_TRUE(std::isinf(*ParseDouble("inf")));
  EXPECT_FALSE(ParseDouble("1.5x").has_value());
  EXPECT_FALSE(ParseDouble("").has_value());
  EXPECT_FALSE(ParseDouble(" 1").has_value());
}

}  // namespace
}  // namespace oodscore
