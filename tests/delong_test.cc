#include "oodscore/delong.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "oodscore/error.h"
#include "oodscore/metrics.h"

#ifndef OODSCORE_FIXTURE_DIR
#error "OODSCORE_FIXTURE_DIR must name tests/fixtures"
#endif

namespace oodscore {
namespace {

using Vec = std::vector<double>;

// 2 ID vs 2 OOD by hand. a: id {3, 1}, ood {2, 0}: pairs 3>2, 3>0, 1<2, 1>0, AUC 3/4;
// placements id {1, 1/2}, ood {1/2, 1}; each variance sum (1/4)^2 * 2 / 1 = 1/8, so
// var_a = 1/8 / 2 + 1/8 / 2 = 1/8. b: id {3, 2}, ood {2, 0}: the tie counts half, AUC 7/8;
// placements id {1, 3/4}, ood {3/4, 1}: var_b = (1/32) / 2 + (1/32) / 2 = 1/32.
TEST(Delong, TwoByTwoByHand) {
  const DelongResult r = DelongUnpaired({3, 1}, {2, 0}, {3, 2}, {2, 0});
  EXPECT_DOUBLE_EQ(r.auc_a, 0.75);
  EXPECT_DOUBLE_EQ(r.auc_b, 0.875);
  EXPECT_DOUBLE_EQ(r.var_a, 0.125);
  EXPECT_DOUBLE_EQ(r.var_b, 1.0 / 32);
  EXPECT_DOUBLE_EQ(r.variance, 0.125 + 1.0 / 32);
  EXPECT_DOUBLE_EQ(r.z, -0.125 / std::sqrt(0.125 + 1.0 / 32));
  EXPECT_FALSE(r.paired);

  // Paired: deviations id a {1/4, -1/4}, b {1/8, -1/8}; ood a {-1/4, 1/4}, b {-1/8, 1/8}:
  // each co-moment 2 * (1/32) / 1 = 1/16, covariance 1/32 + 1/32 = 1/16.
  const DelongResult p = DelongPaired({3, 1}, {2, 0}, {3, 2}, {2, 0});
  EXPECT_TRUE(p.paired);
  EXPECT_DOUBLE_EQ(p.covariance, 1.0 / 16);
  EXPECT_DOUBLE_EQ(p.variance, 0.125 + 1.0 / 32 - 2.0 / 16);
  EXPECT_DOUBLE_EQ(p.z, -0.125 / std::sqrt(1.0 / 32));
  EXPECT_DOUBLE_EQ(p.p, std::erfc(std::fabs(p.z) / std::sqrt(2.0)));
}

TEST(Delong, IdenticalScoresPairedGiveZeroAndOne) {
  const Vec id{1, 2, 2, 5}, ood{0, 2, 3};
  const DelongResult r = DelongPaired(id, ood, id, ood);
  EXPECT_EQ(r.variance, 0.0);
  EXPECT_EQ(r.z, 0.0);
  EXPECT_EQ(r.p, 1.0);
}

TEST(Delong, NoVarianceUnpairedIsNan) {
  const DelongResult r = DelongUnpaired({5, 6}, {1, 2}, {3, 4}, {0, 1});
  EXPECT_EQ(r.auc_a, 1.0);
  EXPECT_TRUE(std::isnan(r.z));
  EXPECT_TRUE(std::isnan(r.p));
}

TEST(Delong, RefusesTooFewNanAndUnequalPairs) {
  EXPECT_THROW(DelongPaired({1}, {0, 1}, {1}, {0, 1}), Error);
  EXPECT_THROW(DelongUnpaired({1, NAN}, {0, 1}, {1, 2}, {0, 1}), Error);
  EXPECT_THROW(DelongPaired({1, 2}, {0, 1}, {1, 2, 3}, {0, 1}), Error);
}

TEST(Delong, AucEqualsComputeMetricsAuroc) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> g(0, 1);
  for (int round = 0; round < 20; ++round) {
    Vec id(3 + round * 7), ood(2 + round * 5);
    for (double& x : id) x = std::round(g(rng) * 4 + 1) / 4;  // many ties
    for (double& x : ood) x = std::round(g(rng) * 4) / 4;
    if (round == 3) id[0] = -0.0, ood[0] = 0.0;
    if (round == 4) id[1] = std::numeric_limits<double>::infinity();
    const Metrics m = ComputeMetrics(id, ood, MetricOptions{});
    const DelongResult r = DelongUnpaired(id, ood, ood, id);
    EXPECT_EQ(r.auc_a, m.auroc) << "round " << round;
    EXPECT_EQ(r.auc_b, ComputeMetrics(ood, id, MetricOptions{}).auroc) << "round " << round;
  }
}

TEST(Delong, StudentTwoSidedP) {
  EXPECT_NEAR(StudentTwoSidedP(0, 5), 1.0, 1e-15);
  // t = 2.570581835636314 is the 0.975 quantile with 5 degrees of freedom.
  EXPECT_NEAR(StudentTwoSidedP(2.570581835636314, 5), 0.05, 1e-12);
  EXPECT_NEAR(StudentTwoSidedP(-1, 1), 0.5, 1e-14);  // Cauchy
  EXPECT_EQ(StudentTwoSidedP(std::numeric_limits<double>::infinity(), 3), 0.0);
  EXPECT_TRUE(std::isnan(StudentTwoSidedP(NAN, 3)));
}

double Value(const nlohmann::json& v) {
  if (v.is_null()) return std::numeric_limits<double>::quiet_NaN();
  if (v.is_string()) {
    const double inf = std::numeric_limits<double>::infinity();
    return v.get<std::string>() == "inf" ? inf : -inf;
  }
  return v.get<double>();
}

void ExpectClose(double got, const nlohmann::json& want, double tol, const std::string& what) {
  const double w = Value(want);
  if (std::isnan(w)) {
    EXPECT_TRUE(std::isnan(got)) << what << ": got " << got << ", pROC NaN";
  } else if (std::isinf(w)) {
    EXPECT_EQ(got, w) << what;
  } else {
    EXPECT_LE(std::fabs(got - w), tol) << what << ": got " << got << ", pROC " << w;
  }
}

// Golden values from R's pROC (scripts/fixtures/make_delong_fixtures.R).
TEST(Delong, MatchesProc) {
  const std::string path = std::string(OODSCORE_FIXTURE_DIR) + "/delong_golden.json";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  const nlohmann::json golden = nlohmann::json::parse(in);
  int checked = 0;
  for (const nlohmann::json& c : golden.at("cases")) {
    const std::string name = c.at("name").get<std::string>();
    const Vec id_a = c.at("id_a").get<Vec>(), ood_a = c.at("ood_a").get<Vec>();
    const Vec id_b = c.at("id_b").get<Vec>(), ood_b = c.at("ood_b").get<Vec>();
    for (const char* kind : {"paired", "unpaired"}) {
      if (!c.contains(kind)) continue;
      const nlohmann::json& want = c.at(kind);
      const bool paired = std::string(kind) == "paired";
      const DelongResult r = paired ? DelongPaired(id_a, ood_a, id_b, ood_b)
                                    : DelongUnpaired(id_a, ood_a, id_b, ood_b);
      const std::string what = name + " " + kind;
      ExpectClose(r.auc_a, want.at("auc_a"), 1e-12, what + " auc_a");
      ExpectClose(r.auc_b, want.at("auc_b"), 1e-12, what + " auc_b");
      ExpectClose(r.z, want.at("z"), 1e-8, what + " z");
      ExpectClose(r.p, want.at("p"), 1e-8, what + " p");
      EXPECT_EQ(r.auc_a, ComputeMetrics(id_a, ood_a, MetricOptions{}).auroc) << what;
      ++checked;
    }
  }
  EXPECT_GE(checked, 14);
}

}  // namespace
}  // namespace oodscore
