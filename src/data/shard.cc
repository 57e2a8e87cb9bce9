#include "paraxis/data/shard.h"

#include "paraxis/core/error.h"

namespace paraxis {

std::string divisors_list(int64_t n) {
  std::vector<int64_t> d;
  for (int64_t i = 1; i <= n; ++i)
    if (n % i == 0) d.push_back(i);
  std::string out;
  for (size_t i = 0; i < d.size(); ++i) {
    if (i > 0) out += i + 1 == d.size() ? " or " : ", ";
    out += std::to_string(d[i]);
  }
  return out;
}

RowRange dp_shard_rows(int64_t global_batch, int64_t dp, int64_t rank) {
  PX_USER_CHECK(dp >= 1, "data-parallel size {} must be at least 1", dp);
  PX_USER_CHECK(
      global_batch >= 1 && global_batch % dp == 0,
      "global batch {} is not divisible by data-parallel size {}; use a batch that is a multiple of "
      "{}, or --dp {}",
      global_batch, dp, dp, divisors_list(std::max<int64_t>(global_batch, 1)));
  PX_CHECK(rank >= 0 && rank < dp, "data-parallel rank {} outside [0, {})", rank, dp);
  const int64_t per_rank = global_batch / dp;
  return {rank * per_rank, (rank + 1) * per_rank};
}

Batch shard_batch(const Batch& global, int64_t dp, int64_t rank) {
  RowRange r = dp_shard_rows(global.rows(), dp, rank);
  return {global.x.slice(r.begin, r.end), global.y.slice(r.begin, r.end)};
}

std::vector<Batch> split_microbatches(const Batch& batch, int64_t m) {
  const int64_t b = batch.rows();
  PX_USER_CHECK(m >= 1 && b % m == 0,
                "batch of {} rows does not split into {} micro-batches; use {} "
                "micro-batches",
                b, m, divisors_list(std::max<int64_t>(b, 1)));
  std::vector<Batch> out;
  for (int64_t j = 0; j < m; ++j)
    out.push_back({batch.x.slice(j * b / m, (j + 1) * b / m), batch.y.slice(j * b / m, (j + 1) * b / m)});
  return out;
}

}  // namespace paraxis
