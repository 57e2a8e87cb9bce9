// paraxis/data/loader.h — batches in a deterministic, seeded order that can be resumed and sharded.
//
//   auto train = std::make_shared<ClassificationDataset>(load_fashion_mnist("train"));
//   Loader loader(train, {.batch_size = 64, .shuffle = true, .seed = 1});
//   Batch b = loader.next();                    // global batch: x (64, 784), y (64)
//   Batch mine = loader.next(/*dp=*/4, rank);   // only this rank's rows [16*rank, 16*rank + 16) of the next
//   one LoaderState s = loader.state();             // {epoch, batch}: save it in the checkpoint...
//   loader.restore(s);                          // ...and the run continues with exactly the same batches
//
// Order: with shuffle, epoch e visits the samples in the order shuffle_order(N, seed, e) — a Fisher-Yates
// permutation drawn from Philox(seed, stream_id("data.shuffle.<e>")), so any epoch is computed directly,
// without replaying earlier ones; without shuffle, in file order every epoch. Batch k of an epoch is
// positions [k*B, (k+1)*B) of that order. The last partial batch (N % B samples) is dropped by default
// (drop_last = true, so every step sees B rows); with drop_last = false it is returned as a smaller batch.
// All data-parallel ranks build the same loader (same seed) and each takes its rows of the global batch.
// A Loader caches the current epoch's order: use one per device thread.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "paraxis/data/dataset.h"

namespace paraxis {

struct LoaderOptions {
  int64_t batch_size = 32;  // global batch B (all data-parallel ranks together)
  bool shuffle       = true;
  uint64_t seed      = 0;
  bool drop_last     = true;  // drop the last N % B samples of each epoch
};

// Where the loader is: the next batch returned is batch `batch` of epoch `epoch`.
struct LoaderState {
  int64_t epoch                             = 0;
  int64_t batch                             = 0;
  bool operator==(const LoaderState&) const = default;
};

// The visiting order of epoch e: a permutation of [0, n). Durstenfeld's Fisher-Yates, for k = n-1 down to 1:
//   j = (u32(n-1-k) * (k+1)) >> 32   with u32 from Philox(seed, stream_id("data.shuffle.<epoch>"));
//   swap(order[k], order[j])
// starting from the identity. (The multiply-shift maps 32 random bits onto [0, k]; its bias, below k/2^32,
// is immaterial for datasets of millions of samples.)
std::vector<int64_t> shuffle_order(int64_t n, uint64_t seed, int64_t epoch);

class Loader {
 public:
  Loader(std::shared_ptr<const Dataset> data, LoaderOptions opt);

  int64_t batches_per_epoch() const;
  int64_t rows_in_batch(int64_t batch) const;  // B, or N % B for a kept last partial batch
  // Dataset row at position `position` of epoch `epoch`'s order.
  int64_t sample_index(int64_t epoch, int64_t position) const;
  // Batch `batch` of epoch `epoch` (rank's rows of it when dp > 1). Does not move the state.
  Batch batch(int64_t epoch, int64_t batch, int64_t dp = 1, int64_t rank = 0) const;
  // The batch at the state, then advances the state (to the next epoch after the last batch).
  Batch next(int64_t dp = 1, int64_t rank = 0);

  const LoaderState& state() const { return state_; }
  void restore(const LoaderState& s);
  const LoaderOptions& options() const { return opt_; }
  const Dataset& dataset() const { return *data_; }

 private:
  const std::vector<int64_t>& order(int64_t epoch) const;

  std::shared_ptr<const Dataset> data_;
  LoaderOptions opt_;
  LoaderState state_;
  mutable int64_t cached_epoch_ = -1;
  mutable std::vector<int64_t> cached_order_;
};

}  // namespace paraxis
