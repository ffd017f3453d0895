// The scoring pipeline's batch ring (src/model/pipeline.cc): worker threads load items into a
// bounded ring of batch slots while the calling thread takes the batches, in order.
//
// Items 0 .. n_items - 1 form batches of `batch` items (the last one may be shorter); batch b
// lives in slot b % slots. A slot's buffers belong to the caller: the ring only says which
// batch a slot holds and when it is complete, so it never allocates per item.
#ifndef OODSCORE_SRC_MODEL_BATCH_RING_H_
#define OODSCORE_SRC_MODEL_BATCH_RING_H_

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace oodscore {

struct BatchRingShape {
  std::size_t n_items = 0;
  std::size_t batch = 1;  // items per batch, >= 1
  std::size_t slots = 1;  // batches in flight, >= 1
  int workers = 1;        // loading threads, >= 1
};

class BatchRing {
 public:
  // Loads item `item` into position `pos` (item % batch) of slot `slot`. Runs on a worker
  // thread, concurrently with the loads of other positions of the same slot, never while
  // the caller holds that slot (between Wait and Release). An exception it throws stops the
  // ring and is rethrown by Wait.
  using LoadFn = std::function<void(std::size_t item, std::size_t slot, std::size_t pos)>;

  // Starts the workers. Throws oodscore::Error on a shape that breaks the bounds above.
  BatchRing(const BatchRingShape& shape, LoadFn load);
  // Stops the workers (those loading finish their item first) and joins them, whether or not
  // every batch was taken.
  ~BatchRing();
  BatchRing(const BatchRing&) = delete;
  BatchRing& operator=(const BatchRing&) = delete;

  std::size_t batches() const { return n_batches_; }
  std::size_t first(std::size_t b) const { return b * shape_.batch; }  // batch b's first item
  std::size_t size(std::size_t b) const;                               // batch b's item count

  // Blocks until every item of batch b is loaded, and returns its slot, which the caller then
  // holds. Batches are taken in order, 0 .. batches() - 1, each released before the next is
  // waited for. Rethrows the first exception a load threw (the ring is stopped then).
  std::size_t Wait(std::size_t b);
  // Hands batch b's slot to batch b + slots, for the workers to fill.
  void Release(std::size_t b);

 private:
  struct SlotState {
    std::size_t batch = 0;      // the batch this slot holds
    std::size_t remaining = 0;  // its items not loaded yet
  };

  void Work();
  void Stop();

  const BatchRingShape shape_;
  const std::size_t n_batches_;
  const LoadFn load_;
  std::vector<SlotState> slots_;
  std::size_t next_item_ = 0;  // the next item a worker takes
  bool stop_ = false;
  std::exception_ptr failure_;  // the first exception a load threw
  std::mutex mu_;
  std::condition_variable slot_free_, batch_ready_;
  std::vector<std::thread> threads_;
};

}  // namespace oodscore

#endif  // OODSCORE_SRC_MODEL_BATCH_RING_H_
