#include "base/percentiles.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace oodscore {

std::uint32_t OrderedKey(float v) {
  std::uint32_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  return (bits & 0x8000'0000u) != 0 ? ~bits : bits | 0x8000'0000u;
}

float FromOrderedKey(std::uint32_t key) {
  const std::uint32_t bits = (key & 0x8000'0000u) != 0 ? key & 0x7fff'ffffu : ~key;
  float v;
  std::memcpy(&v, &bits, sizeof(v));
  return v;
}

namespace {

constexpr std::size_t kBuckets = 1 << 16;

// The bucket holding the 0-based rank `*rank` of a histogram, and the rank within it.
std::uint32_t FindBucket(const std::vector<std::uint64_t>& histogram, std::uint64_t* rank) {
  for (std::uint32_t b = 0; b < histogram.size(); ++b) {
    if (*rank < histogram[b]) return b;
    *rank -= histogram[b];
  }
  return static_cast<std::uint32_t>(histogram.size() - 1);  // unreachable for rank < n
}

// The values of 0-based ranks `ranks` among the n values: two passes.
std::vector<float> OrderStatistics(const std::vector<std::uint64_t>& ranks, const ValuePass& pass) {
  std::vector<std::uint64_t> high(kBuckets, 0);
  pass([&](const float* v, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) ++high[OrderedKey(v[i]) >> 16];
  });
  // Each rank's bucket and its rank within; one low-bits histogram per distinct bucket.
  std::vector<std::uint32_t> bucket(ranks.size());
  std::vector<std::uint64_t> within(ranks.size());
  std::vector<int> slot(kBuckets, -1);
  int slots = 0;
  for (std::size_t r = 0; r < ranks.size(); ++r) {
    within[r] = ranks[r];
    bucket[r] = FindBucket(high, &within[r]);
    if (slot[bucket[r]] < 0) slot[bucket[r]] = slots++;
  }
  std::vector<std::vector<std::uint64_t>> low(slots, std::vector<std::uint64_t>(kBuckets, 0));
  pass([&](const float* v, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
      const std::uint32_t key = OrderedKey(v[i]);
      const int s = slot[key >> 16];
      if (s >= 0) ++low[s][key & 0xffffu];
    }
  });
  std::vector<float> values(ranks.size());
  for (std::size_t r = 0; r < ranks.size(); ++r) {
    const std::uint32_t bits = FindBucket(low[slot[bucket[r]]], &within[r]);
    values[r] = FromOrderedKey((bucket[r] << 16) | bits);
  }
  return values;
}

}  // namespace

std::vector<double> StreamingPercentiles(std::uint64_t n, const std::vector<double>& qs,
                                         const ValuePass& pass) {
  if (n == 0) return std::vector<double>(qs.size(), std::numeric_limits<double>::quiet_NaN());
  // Per percentile, the order statistics at floor(pos) and the one after (numpy's _lerp).
  std::vector<double> positions;
  std::vector<std::uint64_t> ranks;
  for (double q : qs) {
    const double pos = q / 100.0 * static_cast<double>(n - 1);
    const auto lo = static_cast<std::uint64_t>(std::floor(pos));
    positions.push_back(pos);
    ranks.push_back(lo);
    ranks.push_back(std::min(lo + 1, n - 1));
  }
  const std::vector<float> at = OrderStatistics(ranks, pass);
  std::vector<double> out;
  for (std::size_t i = 0; i < qs.size(); ++i) {
    const double a = at[2 * i];
    const std::uint64_t lo = ranks[2 * i];
    if (lo + 1 >= n) {
      out.push_back(a);
      continue;
    }
    const double b = at[2 * i + 1];
    const double t = positions[i] - static_cast<double>(lo);
    out.push_back(t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t);  // numpy's _lerp
  }
  return out;
}

std::vector<double> Percentiles(const float* values, std::size_t n, const std::vector<double>& qs) {
  return StreamingPercentiles(n, qs, [&](const ValueBlock& block) { block(values, n); });
}

}  // namespace oodscore
