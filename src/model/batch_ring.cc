#include "model/batch_ring.h"

#include <algorithm>
#include <string>
#include <utility>

#include "oodscore/error.h"

namespace oodscore {

BatchRing::BatchRing(const BatchRingShape& shape, LoadFn load)
    : shape_(shape),
      n_batches_(shape.batch == 0 ? 0 : (shape.n_items + shape.batch - 1) / shape.batch),
      load_(std::move(load)) {
  if (shape.batch == 0 || shape.slots == 0 || shape.workers < 1) {
    throw Error("internal error: a batch ring of " + std::to_string(shape.batch) +
                "-item batches, " + std::to_string(shape.slots) + " slots and " +
                std::to_string(shape.workers) + " workers");
  }
  slots_.resize(shape.slots);
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    slots_[i].batch = i;
    slots_[i].remaining = i < n_batches_ ? size(i) : 0;
  }
  try {
    for (int t = 0; t < shape.workers; ++t) threads_.emplace_back([this] { Work(); });
  } catch (...) {
    Stop();
    throw;
  }
}

BatchRing::~BatchRing() { Stop(); }

std::size_t BatchRing::size(std::size_t b) const {
  return std::min(shape_.batch, shape_.n_items - first(b));
}

std::size_t BatchRing::Wait(std::size_t b) {
  const std::size_t slot = b % slots_.size();
  std::unique_lock<std::mutex> lock(mu_);
  batch_ready_.wait(lock, [&] { return failure_ || slots_[slot].remaining == 0; });
  if (failure_) std::rethrow_exception(failure_);
  return slot;
}

void BatchRing::Release(std::size_t b) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    SlotState& slot = slots_[b % slots_.size()];
    const std::size_t next = b + slots_.size();
    if (next < n_batches_) {
      slot.batch = next;
      slot.remaining = size(next);
    }
  }
  slot_free_.notify_all();
}

void BatchRing::Work() {
  for (;;) {
    std::size_t item, slot;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (stop_ || next_item_ >= shape_.n_items) return;
      item = next_item_++;
      const std::size_t b = item / shape_.batch;
      slot = b % slots_.size();
      slot_free_.wait(lock, [&] { return stop_ || slots_[slot].batch == b; });
      if (stop_) return;
    }
    try {
      load_(item, slot, item % shape_.batch);
    } catch (...) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!failure_) failure_ = std::current_exception();
        stop_ = true;
      }
      slot_free_.notify_all();
      batch_ready_.notify_all();
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (--slots_[slot].remaining == 0) batch_ready_.notify_all();
  }
}

void BatchRing::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  slot_free_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

}  // namespace oodscore
