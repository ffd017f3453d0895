#include "oodscore/scores.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "oodscore/error.h"
#include "oodscore/format.h"

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
  // The feature-space scores: energies lower = ID, the rest higher = ID.
  const std::vector<std::pair<std::string, Orientation>> features = {
      {"react_energy", Orientation::kLowerIsId},
      {"ash_energy", Orientation::kLowerIsId},
      {"mahalanobis", Orientation::kHigherIsId},
      {"knn", Orientation::kHigherIsId},
      {"vim", Orientation::kHigherIsId}};
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
// K < M and K > M = 100), made by scripts/make_gen_fixtures.py.
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
  EXPECT_NEAR(s.gen, -(std::pow(rest / (1 + rest), 0.1) +
                       2 * std::pow(std::exp(-60.0) / (1 + rest), 0.1)),
              1e-15);
  ScoreInfo info;
  ASSERT_TRUE(LookupScore("gen", &info));
  EXPECT_EQ(info.orientation, Orientation::kHigherIsId);
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
