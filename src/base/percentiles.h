// Exact percentiles of many float32 values without a copy of them: numpy.percentile's default
// (linear interpolation between the order statistics around q/100 (n - 1)), found by a radix
// select on each value's ordered 32-bit key in two passes over the values (a histogram of the
// keys' high 16 bits, then of the low 16 bits within each bucket an order statistic fell in):
// 512 KiB per order statistic, whatever n is. `oodscore fit`'s ReAct and VRA clips over all N x D
// training activations, and DICE's cut.
#ifndef OODSCORE_SRC_BASE_PERCENTILES_H_
#define OODSCORE_SRC_BASE_PERCENTILES_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace oodscore {

// One block of the values.
using ValueBlock = std::function<void(const float* values, std::size_t count)>;
// Calls `block` on every value once, in blocks of any size; the same values at every call.
using ValuePass = std::function<void(const ValueBlock& block)>;

// The percentiles `qs` (each in [0, 100]) of the n values `pass` yields; calls `pass` twice.
// REQUIRES: no NaN among the values. -0.0 and 0.0 are equal values (either may be returned).
// n = 0 gives NaNs.
std::vector<double> StreamingPercentiles(std::uint64_t n, const std::vector<double>& qs,
                                         const ValuePass& pass);

// The same for values in memory.
std::vector<double> Percentiles(const float* values, std::size_t n, const std::vector<double>& qs);

// A float's key whose unsigned order is the float's order (-0.0 just below 0.0), and back.
std::uint32_t OrderedKey(float v);
float FromOrderedKey(std::uint32_t key);

}  // namespace oodscore

#endif  // OODSCORE_SRC_BASE_PERCENTILES_H_
