// The exact streaming percentiles (src/base/percentiles.h) against numpy's linear
// interpolation on a sorted copy, and the ordered float keys they select on.
#include "base/percentiles.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <vector>

namespace oodscore {
namespace {

// numpy.percentile(v, q) (method "linear"): on a sorted copy, as numpy computes it.
double NumpyPercentile(std::vector<float> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q / 100.0 * static_cast<double>(v.size() - 1);
  const std::size_t lo = static_cast<std::size_t>(std::floor(pos));
  const double a = v[lo];
  if (lo + 1 >= v.size()) return a;
  const double b = v[lo + 1], t = pos - static_cast<double>(lo);
  return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
}

// The same values in blocks of `block`.
std::vector<double> InBlocks(const std::vector<float>& v, const std::vector<double>& qs,
                             std::size_t block) {
  int passes = 0;
  const auto out = StreamingPercentiles(v.size(), qs, [&](const ValueBlock& fn) {
    ++passes;
    for (std::size_t i = 0; i < v.size(); i += block)
      fn(v.data() + i, std::min(block, v.size() - i));
  });
  EXPECT_EQ(passes, 2);
  return out;
}

const std::vector<double> kQs = {0, 0.5, 10, 25, 33.3, 50, 66.7, 90, 99.9, 100};

TEST(PercentilesTest, TiesNegativesAndSignedZerosAsNumpy) {
  // Sorted: -1, -0, 0, 2, 3, 3, 3 (numpy: q=10 -> -0.4, q=25 -> 0, q=50 -> 2, q=90 -> 3).
  const std::vector<float> v = {3, -1, 0.0f, -0.0f, 3, 3, 2};
  const std::vector<double> got = Percentiles(v.data(), v.size(), {10, 25, 50, 90});
  EXPECT_DOUBLE_EQ(got[0], -0.4);
  EXPECT_EQ(got[1], 0.0);
  EXPECT_EQ(got[2], 2.0);
  EXPECT_EQ(got[3], 3.0);
}

TEST(PercentilesTest, EqualASortedCopyForManyShapesOfData) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  struct Case {
    const char* name;
    std::size_t n;
    std::function<float()> draw;
  };
  const std::vector<Case> cases = {
      {"one value", 1, [&] { return 2.5f; }},
      {"two values", 2, [&] { return normal(rng); }},
      {"normal", 10007, [&] { return normal(rng); }},
      {"relu (half zeros)", 5000, [&] { return std::max(0.0f, normal(rng)); }},
      {"signed zeros", 301, [&] { return rng() % 2 ? 0.0f : -0.0f; }},
      {"few distinct, negative", 4096, [&] { return -static_cast<float>(rng() % 5); }},
      {"one bucket (close values)", 3000,
       [&] { return 1.0f + static_cast<float>(rng() % 1000) * 1e-7f; }},
      {"infinities and denormals", 999,
       [&] {
         const float pick[] = {-std::numeric_limits<float>::infinity(),
                               std::numeric_limits<float>::infinity(),
                               std::numeric_limits<float>::denorm_min(),
                               -std::numeric_limits<float>::denorm_min(),
                               1e30f,
                               -1e-30f};
         return pick[rng() % 6];
       }},
  };
  for (const Case& c : cases) {
    std::vector<float> v(c.n);
    for (float& x : v) x = c.draw();
    for (std::size_t block : {std::size_t{1}, std::size_t{7}, c.n}) {
      const std::vector<double> got = InBlocks(v, kQs, block);
      for (std::size_t i = 0; i < kQs.size(); ++i) {
        const double want = NumpyPercentile(v, kQs[i]);
        if (std::isnan(want)) {  // inf - inf in numpy's lerp
          EXPECT_TRUE(std::isnan(got[i])) << c.name << ", q " << kQs[i];
        } else {
          EXPECT_EQ(got[i], want) << c.name << ", q " << kQs[i] << ", block " << block;
        }
      }
    }
  }
}

TEST(PercentilesTest, OrderStatisticsEqualNthElement) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> small(-3, 3);
  std::vector<float> v(2000);
  for (float& x : v) x = static_cast<float>(small(rng)) * 0.5f;
  for (double q : {0.0, 12.5, 50.0, 87.5, 100.0}) {
    std::vector<float> copy = v;
    const std::size_t k = static_cast<std::size_t>(q / 100 * (v.size() - 1));
    std::nth_element(copy.begin(), copy.begin() + k, copy.end());
    // At a whole position the percentile is the order statistic itself.
    const double pos = q / 100 * (v.size() - 1);
    if (pos == std::floor(pos)) {
      EXPECT_EQ(Percentiles(v.data(), v.size(), {q})[0], copy[k]) << q;
    }
  }
}

TEST(PercentilesTest, OrderedKeysSortAsTheFloats) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> ascending = {-inf,
                                        -3e38f,
                                        -1.5f,
                                        -std::numeric_limits<float>::denorm_min(),
                                        -0.0f,
                                        0.0f,
                                        std::numeric_limits<float>::denorm_min(),
                                        1e-30f,
                                        1.0f,
                                        3e38f,
                                        inf};
  for (std::size_t i = 0; i < ascending.size(); ++i) {
    const float back = FromOrderedKey(OrderedKey(ascending[i]));
    EXPECT_EQ(std::signbit(back), std::signbit(ascending[i])) << ascending[i];
    EXPECT_EQ(back, ascending[i]);
    if (i > 0) EXPECT_LT(OrderedKey(ascending[i - 1]), OrderedKey(ascending[i])) << ascending[i];
  }
}

TEST(PercentilesTest, NoValuesGiveNan) {
  EXPECT_TRUE(std::isnan(Percentiles(nullptr, 0, {50})[0]));
}

}  // namespace
}  // namespace oodscore
