// The scoring pipeline's batch ring, driven by a fake loader that "decodes" item i into its
// slot by writing i there: no images, no model.
#include "model/batch_ring.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "oodscore/error.h"

namespace oodscore {
namespace {

constexpr long kEmpty = -1;

// The caller's side of a ring: one buffer of item numbers per slot, and what the loads did.
struct FakeBuffers {
  explicit FakeBuffers(const BatchRingShape& shape)
      : data(shape.slots, std::vector<long>(shape.batch, kEmpty)),
        held(shape.slots),
        loads(shape.n_items) {}

  // The fake loader: item i "decoded" into slot s at pos.
  BatchRing::LoadFn Loader() {
    return [this](std::size_t i, std::size_t s, std::size_t pos) {
      if (held[s] || pos >= data[s].size()) {
        ++misplaced;
        return;
      }
      data[s][pos] = static_cast<long>(i);
      ++loads[i];
    };
  }

  std::vector<std::vector<long>> data;
  std::vector<std::atomic<bool>> held;  // the caller holds the slot (Wait .. Release)
  std::vector<std::atomic<int>> loads;  // per item
  std::atomic<int> misplaced{0};        // loads into a held slot or past the batch
};

// Takes every batch in order; returns the items delivered, in delivery order, and checks each
// batch's slot, size and contents on the way.
std::vector<long> TakeAll(BatchRing& ring, FakeBuffers& buffers, const BatchRingShape& shape) {
  std::vector<long> delivered;
  for (std::size_t b = 0; b < ring.batches(); ++b) {
    const std::size_t s = ring.Wait(b);
    EXPECT_EQ(s, b % shape.slots);
    buffers.held[s] = true;
    EXPECT_EQ(ring.first(b), b * shape.batch);
    EXPECT_EQ(ring.size(b), std::min(shape.batch, shape.n_items - b * shape.batch));
    for (std::size_t j = 0; j < shape.batch; ++j) {
      // Positions past a partial batch were never loaded (nor left over: they are reset).
      if (j < ring.size(b)) delivered.push_back(buffers.data[s][j]);
      EXPECT_EQ(buffers.data[s][j] == kEmpty, j >= ring.size(b)) << "batch " << b << " pos " << j;
      buffers.data[s][j] = kEmpty;
    }
    buffers.held[s] = false;
    ring.Release(b);
  }
  return delivered;
}

TEST(BatchRingTest, DeliversEveryItemOnceInOrder) {
  for (std::size_t n_items : {1, 10, 23, 64}) {
    for (std::size_t batch : {1, 3, 4, 7, 64}) {
      for (std::size_t slots : {1, 2, 3, 5}) {
        for (int workers : {1, 2, 3, 8}) {
          const BatchRingShape shape{n_items, batch, slots, workers};
          SCOPED_TRACE(std::to_string(n_items) + " items, batch " + std::to_string(batch) + ", " +
                       std::to_string(slots) + " slots, " + std::to_string(workers) + " workers");
          FakeBuffers buffers(shape);
          std::vector<long> delivered;
          {
            BatchRing ring(shape, buffers.Loader());
            EXPECT_EQ(ring.batches(), (n_items + batch - 1) / batch);
            delivered = TakeAll(ring, buffers, shape);
          }
          ASSERT_EQ(delivered.size(), n_items);
          for (std::size_t i = 0; i < n_items; ++i) {
            EXPECT_EQ(delivered[i], static_cast<long>(i));
            EXPECT_EQ(buffers.loads[i], 1) << "item " << i;
          }
          EXPECT_EQ(buffers.misplaced, 0);
        }
      }
    }
  }
}

TEST(BatchRingTest, LastBatchHasTheRemainder) {
  const BatchRingShape shape{10, 4, 2, 3};
  FakeBuffers buffers(shape);
  BatchRing ring(shape, buffers.Loader());
  ASSERT_EQ(ring.batches(), 3u);
  EXPECT_EQ(ring.size(0), 4u);
  EXPECT_EQ(ring.size(1), 4u);
  EXPECT_EQ(ring.first(2), 8u);
  EXPECT_EQ(ring.size(2), 2u);
  EXPECT_EQ(TakeAll(ring, buffers, shape), (std::vector<long>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(BatchRingTest, MoreSlotsThanBatchesAndNoItems) {
  const BatchRingShape shape{5, 4, 6, 2};
  FakeBuffers buffers(shape);
  BatchRing ring(shape, buffers.Loader());
  EXPECT_EQ(TakeAll(ring, buffers, shape), (std::vector<long>{0, 1, 2, 3, 4}));
  // No items: no batches, and the workers stop at once.
  BatchRing empty({0, 4, 3, 2}, [](std::size_t, std::size_t, std::size_t) {
    ADD_FAILURE() << "a load with no items";
  });
  EXPECT_EQ(empty.batches(), 0u);
}

// A load that throws stops the ring: Wait rethrows it, the batch holding the item is never
// delivered, and the workers (some waiting for a slot) are joined.
TEST(BatchRingTest, ALoadThatThrowsStopsTheRing) {
  for (std::size_t slots : {1, 2, 4}) {
    for (int workers : {1, 2, 8}) {
      SCOPED_TRACE(std::to_string(slots) + " slots, " + std::to_string(workers) + " workers");
      const BatchRingShape shape{40, 4, slots, workers};
      FakeBuffers buffers(shape);
      const BatchRing::LoadFn load = buffers.Loader();
      std::size_t taken = 0;
      try {
        BatchRing ring(shape, [&](std::size_t i, std::size_t s, std::size_t pos) {
          if (i == 13) throw std::runtime_error("cannot decode item 13");
          load(i, s, pos);
        });
        for (std::size_t b = 0; b < ring.batches(); ++b) {
          ring.Wait(b);
          ring.Release(b);
          ++taken;
        }
        ADD_FAILURE() << "every batch was delivered";
      } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "cannot decode item 13");
      }
      EXPECT_LE(taken, 13u / 4);
      for (std::size_t i = 0; i < shape.n_items; ++i) EXPECT_LE(buffers.loads[i], 1);
    }
  }
}

TEST(BatchRingTest, EveryLoadThrowingGivesOneError) {
  BatchRing ring({30, 3, 2, 4}, [](std::size_t i, std::size_t, std::size_t) {
    throw Error("item " + std::to_string(i));
  });
  try {
    ring.Wait(0);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("item ", 0), 0u) << e.what();
  }
  EXPECT_THROW(ring.Wait(0), Error);  // stays stopped
}

// The caller may stop taking batches (its own error): destroying the ring joins workers that
// wait for the slot it still holds.
TEST(BatchRingTest, StopsWhenTheCallerLeavesEarly) {
  for (int workers : {1, 4}) {
    const BatchRingShape shape{100, 5, 2, workers};
    FakeBuffers buffers(shape);
    auto ring = std::make_unique<BatchRing>(shape, buffers.Loader());
    ring->Wait(0);
    ring->Release(0);
    ring->Wait(1);
    ring.reset();
    // Batches 0 and 1 were loaded, batch 2 (the released slot) maybe, batch 3 (the held
    // slot) never.
    for (std::size_t i = 0; i < 10; ++i) EXPECT_EQ(buffers.loads[i], 1) << i;
    for (std::size_t i = 10; i < 15; ++i) EXPECT_LE(buffers.loads[i], 1) << i;
    for (std::size_t i = 15; i < shape.n_items; ++i) EXPECT_EQ(buffers.loads[i], 0) << i;
    EXPECT_EQ(buffers.misplaced, 0);
  }
}

TEST(BatchRingTest, RefusesAnEmptyShape) {
  const auto none = [](std::size_t, std::size_t, std::size_t) {};
  EXPECT_THROW(BatchRing({10, 0, 2, 1}, none), Error);
  EXPECT_THROW(BatchRing({10, 2, 0, 1}, none), Error);
  EXPECT_THROW(BatchRing({10, 2, 2, 0}, none), Error);
}

}  // namespace
}  // namespace oodscore
