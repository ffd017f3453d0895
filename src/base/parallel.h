// ParallelFor: runs fn(0) .. fn(n - 1) on up to one thread per core, each index once, in no
// particular order. The first exception thrown (bad_alloc, oodscore::Error) is rethrown in the
// caller once every thread has stopped. Results must not depend on the order: each fn(i)
// writes only its own slot.
#ifndef OODSCORE_SRC_BASE_PARALLEL_H_
#define OODSCORE_SRC_BASE_PARALLEL_H_

#include <cstddef>
#include <functional>

namespace oodscore {

void ParallelFor(std::size_t n, const std::function<void(std::size_t)>& fn);

}  // namespace oodscore

#endif  // OODSCORE_SRC_BASE_PARALLEL_H_
