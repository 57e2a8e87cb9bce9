// paraxis/data/shard.h — splitting a global batch among data-parallel ranks and into micro-batches.
//
//   RowRange r = dp_shard_rows(/*global_batch=*/64, /*dp=*/4, /*rank=*/1);   // rows [16, 32)
//   Batch mine = shard_batch(global, /*dp=*/4, /*rank=*/1);                  // views, no copy
//   std::vector<Batch> micro = split_microbatches(mine, /*m=*/4);            // 4 views of 4 rows each
//
// Rank r of dp gets rows [r*B/dp, (r+1)*B/dp) of the global batch of B rows, so the shards of all ranks,
// concatenated in rank order, are exactly the global batch (and micro-batch j of m is rows [j*b/m,
// (j+1)*b/m) of a batch of b). Sizes that do not divide are user errors listing the valid values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "paraxis/data/dataset.h"

namespace paraxis {

struct RowRange {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};

RowRange dp_shard_rows(int64_t global_batch, int64_t dp, int64_t rank);
Batch shard_batch(const Batch& global, int64_t dp, int64_t rank);
std::vector<Batch> split_microbatches(const Batch& batch, int64_t m);

// "1, 2, 4 or 8": the divisors of n, for error messages that offer the valid choices.
std::string divisors_list(int64_t n);

}  // namespace paraxis
