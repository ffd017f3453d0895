#include "oodscore/metrics.h"

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

#ifndef OODSCORE_FIXTURE_DIR
#error "OODSCORE_FIXTURE_DIR must name tests/fixtures"
#endif

namespace oodscore {
namespace {

constexpr double kTol = 1e-12;
constexpr FprConvention kAll[] = {FprConvention::kExact, FprConvention::kHendrycks,
                                  FprConvention::kOpenOod, FprConvention::kPytorchOod};

Metrics Compute(const std::vector<double>& id, const std::vector<double>& ood,
                FprConvention c = FprConvention::kExact, double tpr = 0.95) {
  MetricOptions options;
  options.convention = c;
  options.tpr = tpr;
  return ComputeMetrics(id, ood, options);
}

std::string ErrorMessage(const std::vector<double>& id, const std::vector<double>& ood,
                         double tpr = 0.95) {
  try {
    Compute(id, ood, FprConvention::kExact, tpr);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// Example W of docs/METRICS.md.
std::vector<double> ExampleWId() {
  std::vector<double> id;
  for (int s = 20; s >= 3; --s) id.push_back(s);
  id.push_back(1.0);
  id.push_back(0.0);
  return id;
}
const std::vector<double> kExampleWOod = {2.5, 1.0, 1.0, 0.5, 0.5, -1, -2, -3, -4, -5};

TEST(MetricsTest, ExampleWMatchesTheDocumentedValues) {
  const std::vector<double> id = ExampleWId();
  const Metrics exact = Compute(id, kExampleWOod, FprConvention::kExact);
  EXPECT_NEAR(exact.auroc, 0.965, kTol);
  EXPECT_NEAR(exact.aupr_in, 0.98318, 5e-6);
  EXPECT_NEAR(exact.aupr_out, 0.92197, 5e-6);
  EXPECT_FALSE(exact.aupr_is_trapezoid);
  EXPECT_NEAR(exact.fpr_at_tpr, 0.30, kTol);
  EXPECT_EQ(exact.threshold, 1.0);
  EXPECT_NEAR(exact.tpr_achieved, 0.95, kTol);
  EXPECT_NEAR(Compute(id, kExampleWOod, FprConvention::kHendrycks).fpr_at_tpr, 0.50, kTol);
  const Metrics openood = Compute(id, kExampleWOod, FprConvention::kOpenOod);
  EXPECT_NEAR(openood.fpr_at_tpr, 0.10, kTol);
  EXPECT_TRUE(openood.aupr_is_trapezoid);
  EXPECT_NEAR(openood.aupr_in, 0.98507, 5e-6);
  EXPECT_NEAR(openood.aupr_out, 0.92273, 5e-6);
  EXPECT_NEAR(Compute(id, kExampleWOod, FprConvention::kPytorchOod).fpr_at_tpr, 0.10, kTol);
}

TEST(MetricsTest, ExampleDShowsVertexDroppingOnlyInOpenOod) {
  std::vector<double> id;
  for (int s = 100; s >= 84; --s) id.push_back(s);
  id.insert(id.end(), {50, 49, 48});
  const std::vector<double> ood = {50, 49, 48, 10, 9, 8, 7, 6, 5, 4};
  EXPECT_NEAR(Compute(id, ood, FprConvention::kExact).fpr_at_tpr, 0.20, kTol);
  EXPECT_NEAR(Compute(id, ood, FprConvention::kHendrycks).fpr_at_tpr, 0.20, kTol);
  EXPECT_NEAR(Compute(id, ood, FprConvention::kOpenOod).fpr_at_tpr, 0.15, kTol);
  // Classes swapped and scores negated: now OpenOOD's dropped vertex moves its point.
  std::vector<double> id_m, ood_m;
  for (double x : ood) id_m.push_back(-x);
  for (double x : id) ood_m.push_back(-x);
  EXPECT_NEAR(Compute(id_m, ood_m, FprConvention::kOpenOod).fpr_at_tpr, 0.30, kTol);
  EXPECT_NEAR(Compute(id_m, ood_m, FprConvention::kPytorchOod).fpr_at_tpr, 0.20, kTol);
}

TEST(MetricsTest, AurocCountsTiesAsHalf) {
  EXPECT_EQ(Compute({1.0}, {1.0}).auroc, 0.5);
  EXPECT_EQ(Compute({1.0, 2.0}, {1.0}).auroc, 0.75);
  EXPECT_EQ(Compute({2.0, 2.0, 2.0}, {2.0, 2.0}).auroc, 0.5);
  EXPECT_EQ(Compute({3.0, 4.0}, {1.0, 2.0}).auroc, 1.0);
  EXPECT_EQ(Compute({1.0, 2.0}, {3.0, 4.0}).auroc, 0.0);
}

TEST(MetricsTest, ExactThresholdUsesIntegerCeilOfTprTimesN) {
  std::vector<double> id;
  for (int s = 0; s < 20; ++s) id.push_back(s);
  // 0.95 * 20 = 19 exactly as intended: the 19th largest ID score is 1.
  const IdThreshold t = ThresholdFromId(id, 0.95);
  EXPECT_EQ(t.threshold, 1.0);
  EXPECT_EQ(t.tpr_achieved, 0.95);
  EXPECT_EQ(t.n, 20u);
  EXPECT_EQ(ThresholdFromId(id, 0.1).threshold, 18.0);  // k = 2, not 3
  EXPECT_EQ(ThresholdFromId(id, 1.0).threshold, 0.0);
  EXPECT_EQ(ThresholdFromId(id, 1e-9).threshold, 19.0);
  EXPECT_EQ(Compute(id, {0.5}).threshold, 1.0);
}

TEST(MetricsTest, TiedThresholdReportsTheHigherAchievedTpr) {
  const IdThreshold t = ThresholdFromId({5, 4, 3, 3, 3, 3, 3, 3, 3, 3}, 0.5);
  EXPECT_EQ(t.threshold, 3.0);
  EXPECT_EQ(t.tpr_achieved, 1.0);
  const Metrics m = Compute({5, 4, 3, 3, 3, 3, 3, 3, 3, 3}, {3, 0}, FprConvention::kExact, 0.5);
  EXPECT_EQ(m.threshold, 3.0);
  EXPECT_EQ(m.tpr_achieved, 1.0);
  EXPECT_EQ(m.fpr_at_tpr, 0.5);
}

TEST(MetricsTest, HendrycksPicksRecallBelowLevelWhenFloatRoundingSaysSo) {
  // n_id = 10: |0.9 - 0.95| < |1.0 - 0.95| in double, so recall 0.9 wins.
  const std::vector<double> id = {10, 9, 8, 7, 6, 5, 4, 3, 2, -5};
  const std::vector<double> ood = {1.5, 0.5, -1, -2, -3, -4, -6, -7};
  const Metrics h = Compute(id, ood, FprConvention::kHendrycks);
  EXPECT_EQ(h.tpr_achieved, 0.9);
  EXPECT_EQ(h.threshold, -4.0);  // the lowest score on the recall-0.9 plateau
  EXPECT_EQ(h.fpr_at_tpr, 0.75);
  EXPECT_EQ(Compute(id, ood, FprConvention::kExact).fpr_at_tpr, 0.75);
}

TEST(MetricsTest, NegativeZeroIsTheSameScoreAsZero) {
  const Metrics m = Compute({-0.0}, {0.0});
  EXPECT_EQ(m.auroc, 0.5);
  EXPECT_EQ(m.fpr_at_tpr, 1.0);
  EXPECT_EQ(m.threshold, 0.0);
  EXPECT_FALSE(std::signbit(m.threshold));
  EXPECT_FALSE(std::signbit(ThresholdFromId({-0.0}, 0.95).threshold));
}

TEST(MetricsTest, InfinityIsAValidExtremeScore) {
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> id = {inf, inf, 3, 2, 1};
  const std::vector<double> ood = {inf, 2, -inf, -inf};
  const std::vector<double> id_finite = {1e300, 1e300, 3, 2, 1};
  const std::vector<double> ood_finite = {1e300, 2, -1e300, -1e300};
  for (FprConvention c : kAll) {
    SCOPED_TRACE(ConventionName(c));
    const Metrics a = Compute(id, ood, c), b = Compute(id_finite, ood_finite, c);
    EXPECT_EQ(a.auroc, b.auroc);
    EXPECT_EQ(a.aupr_in, b.aupr_in);
    EXPECT_EQ(a.aupr_out, b.aupr_out);
    EXPECT_EQ(a.fpr_at_tpr, b.fpr_at_tpr);
    EXPECT_EQ(a.detection_error, b.detection_error);
  }
}

TEST(MetricsTest, InputOrderDoesNotChangeAnyValue) {
  std::mt19937_64 rng(7);
  std::vector<double> id, ood;
  for (int i = 0; i < 300; ++i) id.push_back(static_cast<int>(rng() % 20));
  for (int i = 0; i < 200; ++i) ood.push_back(static_cast<int>(rng() % 15));
  std::vector<double> id2 = id, ood2 = ood;
  std::shuffle(id2.begin(), id2.end(), rng);
  std::reverse(ood2.begin(), ood2.end());
  for (FprConvention c : kAll) {
    const Metrics a = Compute(id, ood, c), b = Compute(id2, ood2, c);
    EXPECT_EQ(a.auroc, b.auroc);
    EXPECT_EQ(a.aupr_in, b.aupr_in);
    EXPECT_EQ(a.fpr_at_tpr, b.fpr_at_tpr);
    EXPECT_EQ(a.threshold, b.threshold);
  }
}

TEST(MetricsTest, LargeInputsWithSpecialValuesMatchBruteForce) {
  // Above the radix-sort cutoff, with signed zeros, infinities, subnormals and many ties.
  const double inf = std::numeric_limits<double>::infinity();
  const double specials[] = {-0.0, 0.0, inf, -inf, 5e-324, -5e-324, 1e308, -1e308, 0.5, -0.5};
  std::mt19937_64 rng(5);
  std::vector<double> id, ood;
  for (int i = 0; i < 40000; ++i) {
    const std::uint64_t r = rng();
    id.push_back(r % 4 == 0 ? specials[r % 10] : static_cast<double>(r % 1000) / 7 - 60);
  }
  for (int i = 0; i < 300; ++i) {
    const std::uint64_t r = rng();
    ood.push_back(r % 3 == 0 ? specials[r % 10] : static_cast<double>(r % 900) / 7 - 80);
  }
  std::uint64_t doubled_pairs = 0;
  for (double a : id) {
    for (double b : ood) doubled_pairs += a > b ? 2 : (a == b ? 1 : 0);
  }
  const Metrics m = Compute(id, ood);
  EXPECT_NEAR(m.auroc, doubled_pairs / (2.0 * id.size() * ood.size()), 1e-15);
  const IdThreshold t = ThresholdFromId(id, 0.95);
  EXPECT_EQ(m.threshold, t.threshold);
  EXPECT_EQ(m.tpr_achieved, t.tpr_achieved);
  const auto ood_accepted =
      std::count_if(ood.begin(), ood.end(), [&](double x) { return x >= t.threshold; });
  EXPECT_EQ(m.fpr_at_tpr, static_cast<double>(ood_accepted) / ood.size());
  const std::vector<RocPoint> roc = RocCurve(id, ood, id.size() + ood.size() + 1);
  double area = 0;
  for (std::size_t i = 1; i < roc.size(); ++i) {
    area += (roc[i].fpr - roc[i - 1].fpr) * (roc[i].tpr + roc[i - 1].tpr) / 2;
  }
  EXPECT_NEAR(area, m.auroc, 1e-12);
}

TEST(MetricsTest, EmptySetIsAnErrorNamingTheSet) {
  EXPECT_EQ(ErrorMessage({}, {1.0}), "no id scores: the set is empty");
  EXPECT_EQ(ErrorMessage({1.0}, {}), "no ood scores: the set is empty");
  EXPECT_THROW(ThresholdFromId({}, 0.95), Error);
  EXPECT_THROW(RocCurve({1.0}, {}), Error);
}

TEST(MetricsTest, NanIsAnErrorNamingTheSetAndIndex) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(ErrorMessage({1.0, nan}, {1.0}), "id score at index 1 is nan");
  EXPECT_EQ(ErrorMessage({1.0}, {0.0, 1.0, nan}), "ood score at index 2 is nan");
}

TEST(MetricsTest, TprOutsideZeroToOneIsAUsageError) {
  EXPECT_EQ(ErrorMessage({1.0}, {0.0}, 0.0), "tpr must be in (0, 1], got 0");
  EXPECT_EQ(ErrorMessage({1.0}, {0.0}, 1.5), "tpr must be in (0, 1], got 1.5");
  EXPECT_EQ(ErrorMessage({1.0}, {0.0}, std::nan("")), "tpr must be in (0, 1], got nan");
  try {
    ThresholdFromId({1.0}, -0.5);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), kExitUsage);
  }
}

TEST(MetricsTest, ConventionNamesRoundTrip) {
  for (FprConvention c : kAll) {
    FprConvention parsed = FprConvention::kExact;
    ASSERT_TRUE(ParseConvention(ConventionName(c), &parsed)) << ConventionName(c);
    EXPECT_EQ(parsed, c);
  }
  FprConvention unchanged = FprConvention::kHendrycks;
  EXPECT_FALSE(ParseConvention("pytorch_ood", &unchanged));
  EXPECT_EQ(unchanged, FprConvention::kHendrycks);
  EXPECT_STREQ(ConventionPositiveClass(FprConvention::kExact), "id");
  EXPECT_STREQ(ConventionPositiveClass(FprConvention::kHendrycks), "id");
  EXPECT_STREQ(ConventionPositiveClass(FprConvention::kOpenOod), "ood");
  EXPECT_STREQ(ConventionPositiveClass(FprConvention::kPytorchOod), "ood");
}

TEST(MetricsTest, RocCurveRunsFromOriginToOneOneAndIntegratesToAuroc) {
  const std::vector<double> id = ExampleWId();
  const std::vector<RocPoint> roc = RocCurve(id, kExampleWOod);
  ASSERT_EQ(roc.size(), 1u + 27u);  // (0,0) + 27 distinct scores
  EXPECT_EQ(roc.front().fpr, 0.0);
  EXPECT_EQ(roc.front().tpr, 0.0);
  EXPECT_EQ(roc.back().fpr, 1.0);
  EXPECT_EQ(roc.back().tpr, 1.0);
  double area = 0;
  for (std::size_t i = 1; i < roc.size(); ++i) {
    EXPECT_GE(roc[i].fpr, roc[i - 1].fpr);
    EXPECT_GE(roc[i].tpr, roc[i - 1].tpr);
    area += (roc[i].fpr - roc[i - 1].fpr) * (roc[i].tpr + roc[i - 1].tpr) / 2;
  }
  EXPECT_NEAR(area, 0.965, kTol);
}

TEST(MetricsTest, RocCurveThinsToMaxPointsKeepingTheEnds) {
  std::vector<double> id, ood;
  for (int i = 0; i < 5000; ++i) id.push_back(i * 0.5 + 0.25);
  for (int i = 0; i < 3000; ++i) ood.push_back(i * 0.5);
  for (std::size_t max_points : {2u, 3u, 100u, 512u}) {
    const std::vector<RocPoint> roc = RocCurve(id, ood, max_points);
    ASSERT_EQ(roc.size(), max_points);
    EXPECT_EQ(roc.front().fpr, 0.0);
    EXPECT_EQ(roc.back().fpr, 1.0);
    EXPECT_EQ(roc.back().tpr, 1.0);
  }
  EXPECT_THROW(RocCurve(id, ood, 1), Error);
}

TEST(MetricsTest, NoBootstrapMeansNoIntervals) {
  EXPECT_FALSE(Compute({1, 2, 3}, {0, 1}).has_ci);
  MetricOptions options;
  options.bootstrap = -1;
  EXPECT_THROW(ComputeMetrics({1.0}, {0.0}, options), Error);
}

// The documented resampling: one mt19937_64 seeded with `seed`; per resample n_id draws of an
// ID position, then n_ood draws of an OOD position, each an unbiased x % n by rejection.
std::size_t DrawIndex(std::mt19937_64& rng, std::uint64_t n) {
  const std::uint64_t rem = (std::numeric_limits<std::uint64_t>::max() % n + 1) % n;
  std::uint64_t x = rng();
  while (rem != 0 && x >= 0 - rem) x = rng();
  return static_cast<std::size_t>(x % n);
}

double Percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * (v.size() - 1);
  const std::size_t lo = static_cast<std::size_t>(pos);
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - lo) * (v[hi] - v[lo]);
}

TEST(MetricsTest, BootstrapEqualsRecomputingOnExplicitResamples) {
  std::mt19937_64 data_rng(11);
  std::vector<double> id, ood;
  for (int i = 0; i < 60; ++i) id.push_back(static_cast<int>(data_rng() % 12) + 2);
  for (int i = 0; i < 45; ++i) ood.push_back(static_cast<int>(data_rng() % 12));
  for (FprConvention c : kAll) {
    SCOPED_TRACE(ConventionName(c));
    MetricOptions options;
    options.convention = c;
    options.bootstrap = 200;
    options.seed = 42;
    const Metrics m = ComputeMetrics(id, ood, options);
    ASSERT_TRUE(m.has_ci);

    // Resample positions of the sorted arrays, as the implementation documents.
    std::vector<double> a = id, b = ood;
    std::sort(a.begin(), a.end(), std::greater<double>());
    std::sort(b.begin(), b.end(), std::greater<double>());
    std::mt19937_64 rng(options.seed);
    std::vector<double> aurocs, fprs;
    for (int r = 0; r < options.bootstrap; ++r) {
      std::vector<double> ra, rb;
      for (std::size_t i = 0; i < a.size(); ++i) ra.push_back(a[DrawIndex(rng, a.size())]);
      for (std::size_t i = 0; i < b.size(); ++i) rb.push_back(b[DrawIndex(rng, b.size())]);
      const Metrics s = Compute(ra, rb, c);
      aurocs.push_back(s.auroc);
      fprs.push_back(s.fpr_at_tpr);
    }
    EXPECT_NEAR(m.auroc_ci.lo, Percentile(aurocs, 0.025), kTol);
    EXPECT_NEAR(m.auroc_ci.hi, Percentile(aurocs, 0.975), kTol);
    EXPECT_NEAR(m.fpr_ci.lo, Percentile(fprs, 0.025), kTol);
    EXPECT_NEAR(m.fpr_ci.hi, Percentile(fprs, 0.975), kTol);
    EXPECT_LE(m.auroc_ci.lo, m.auroc);
    EXPECT_GE(m.auroc_ci.hi, m.auroc);
  }
}

TEST(MetricsTest, BootstrapIsDeterministicForASeed) {
  const std::vector<double> id = ExampleWId();
  MetricOptions options;
  options.bootstrap = 50;
  options.seed = 3;
  const Metrics a = ComputeMetrics(id, kExampleWOod, options);
  const Metrics b = ComputeMetrics(id, kExampleWOod, options);
  EXPECT_EQ(a.auroc_ci.lo, b.auroc_ci.lo);
  EXPECT_EQ(a.fpr_ci.hi, b.fpr_ci.hi);
}

// A mean row's interval, recomputed as documented: per resample one draw of the ID set's sorted
// positions, then each OOD set's, from one mt19937_64; the mean of the sets' metrics.
TEST(MetricsTest, MeanOverSetsBootstrapEqualsRecomputingOnExplicitResamples) {
  std::mt19937_64 data_rng(5);
  std::vector<double> id, near, far;
  for (int i = 0; i < 50; ++i) id.push_back(static_cast<int>(data_rng() % 12) + 2);
  for (int i = 0; i < 31; ++i) near.push_back(static_cast<int>(data_rng() % 12) + 1);
  for (int i = 0; i < 17; ++i) far.push_back(static_cast<int>(data_rng() % 6));
  for (FprConvention c : kAll) {
    SCOPED_TRACE(ConventionName(c));
    MetricOptions options;
    options.convention = c;
    options.bootstrap = 150;
    options.seed = 9;
    Metrics mean;
    BootstrapMeanOverSets(id, {&near, &far}, options, &mean);
    ASSERT_TRUE(mean.has_ci);

    std::vector<double> a = id;
    std::vector<std::vector<double>> oods = {near, far};
    std::sort(a.begin(), a.end(), std::greater<double>());
    for (auto& b : oods) std::sort(b.begin(), b.end(), std::greater<double>());
    std::mt19937_64 rng(options.seed);
    std::vector<double> aurocs, fprs;
    for (int r = 0; r < options.bootstrap; ++r) {
      std::vector<double> ra;
      for (std::size_t i = 0; i < a.size(); ++i) ra.push_back(a[DrawIndex(rng, a.size())]);
      double auroc = 0, fpr = 0;
      std::vector<std::vector<double>> rb(oods.size());
      for (std::size_t o = 0; o < oods.size(); ++o) {
        for (std::size_t i = 0; i < oods[o].size(); ++i) {
          rb[o].push_back(oods[o][DrawIndex(rng, oods[o].size())]);
        }
      }
      for (const auto& b : rb) {
        const Metrics s = Compute(ra, b, c);
        auroc += s.auroc / 2;
        fpr += s.fpr_at_tpr / 2;
      }
      aurocs.push_back(auroc);
      fprs.push_back(fpr);
    }
    EXPECT_NEAR(mean.auroc_ci.lo, Percentile(aurocs, 0.025), kTol);
    EXPECT_NEAR(mean.auroc_ci.hi, Percentile(aurocs, 0.975), kTol);
    EXPECT_NEAR(mean.fpr_ci.lo, Percentile(fprs, 0.025), kTol);
    EXPECT_NEAR(mean.fpr_ci.hi, Percentile(fprs, 0.975), kTol);
    const double point = (Compute(id, near, c).auroc + Compute(id, far, c).auroc) / 2;
    EXPECT_LE(mean.auroc_ci.lo, point);
    EXPECT_GE(mean.auroc_ci.hi, point);
    EXPECT_LT(mean.auroc_ci.lo, mean.auroc_ci.hi);
  }
}

TEST(MetricsTest, MeanOverOneSetHasThatSetsIntervalAndBadInputsThrow) {
  const std::vector<double> id = ExampleWId();
  MetricOptions options;
  options.bootstrap = 80;
  options.seed = 17;
  const Metrics one = ComputeMetrics(id, kExampleWOod, options);
  Metrics mean;
  mean.auroc = 0.25;  // left alone: only the intervals are set
  BootstrapMeanOverSets(id, {&kExampleWOod}, options, &mean);
  EXPECT_EQ(mean.auroc, 0.25);
  EXPECT_EQ(mean.auroc_ci.lo, one.auroc_ci.lo);
  EXPECT_EQ(mean.auroc_ci.hi, one.auroc_ci.hi);
  EXPECT_EQ(mean.fpr_ci.lo, one.fpr_ci.lo);
  EXPECT_EQ(mean.fpr_ci.hi, one.fpr_ci.hi);
  EXPECT_THROW(BootstrapMeanOverSets(id, {}, options, &mean), Error);
  const std::vector<double> with_nan = {0.5, std::nan("")};
  EXPECT_THROW(BootstrapMeanOverSets(id, {&kExampleWOod, &with_nan}, options, &mean), Error);
  options.bootstrap = 0;
  EXPECT_THROW(BootstrapMeanOverSets(id, {&kExampleWOod}, options, &mean), Error);
}

// Golden values from scikit-learn and ports of the peers' code
// (scripts/fixtures/make_metric_fixtures.py).
nlohmann::json LoadGolden() {
  const std::string path = std::string(OODSCORE_FIXTURE_DIR) + "/metrics_golden.json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open '" + path + "'");
  return nlohmann::json::parse(in);
}

TEST(MetricsTest, MatchesScikitLearnGoldenValuesForEveryConvention) {
  const nlohmann::json golden = LoadGolden();
  ASSERT_GE(golden.at("cases").size(), 30u);
  for (const nlohmann::json& c : golden.at("cases")) {
    const std::string name = c.at("name");
    const auto id = c.at("id").get<std::vector<double>>();
    const auto ood = c.at("ood").get<std::vector<double>>();
    const double tpr = c.at("tpr");
    const nlohmann::json& want = c.at("expected");
    for (FprConvention conv : kAll) {
      SCOPED_TRACE(name + " / " + ConventionName(conv));
      const Metrics m = Compute(id, ood, conv, tpr);
      const bool trapezoid = conv == FprConvention::kOpenOod || conv == FprConvention::kPytorchOod;
      EXPECT_EQ(m.n_id, id.size());
      EXPECT_EQ(m.n_ood, ood.size());
      EXPECT_NEAR(m.auroc, want.at("auroc").get<double>(), kTol);
      EXPECT_EQ(m.aupr_is_trapezoid, trapezoid);
      EXPECT_NEAR(m.aupr_in, want.at(trapezoid ? "aupr_in_trapezoid" : "aupr_in").get<double>(),
                  kTol);
      EXPECT_NEAR(m.aupr_out, want.at(trapezoid ? "aupr_out_trapezoid" : "aupr_out").get<double>(),
                  kTol);
      EXPECT_NEAR(m.detection_error, want.at("detection_error").get<double>(), kTol);
      const nlohmann::json& point = want.at(ConventionName(conv));
      EXPECT_NEAR(m.fpr_at_tpr, point.at("fpr").get<double>(), kTol);
      EXPECT_EQ(m.threshold, point.at("threshold").get<double>());
      EXPECT_NEAR(m.tpr_achieved, point.at("tpr_achieved").get<double>(), kTol);
    }
    SCOPED_TRACE(name);
    const IdThreshold t = ThresholdFromId(id, tpr);
    EXPECT_EQ(t.threshold, want.at("exact").at("threshold").get<double>());
    EXPECT_NEAR(t.tpr_achieved, want.at("exact").at("tpr_achieved").get<double>(), kTol);
  }
}

}  // namespace
}  // namespace oodscore
