#include "paraxis/data/loader.h"

#include <fmt/format.h>

#include <numeric>

#include "paraxis/core/error.h"
#include "paraxis/core/rng.h"
#include "paraxis/data/shard.h"

namespace paraxis {

std::vector<int64_t> shuffle_order(int64_t n, uint64_t seed, int64_t epoch) {
  PX_CHECK(n >= 0 && n < (int64_t{1} << 32), "shuffle of {} samples (at most 2^32)", n);
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  const Philox rng(seed, stream_id(fmt::format("data.shuffle.{}", epoch)));
  for (int64_t k = n - 1; k >= 1; --k) {
    uint64_t j = (static_cast<uint64_t>(rng.u32(n - 1 - k)) * static_cast<uint64_t>(k + 1)) >> 32;
    std::swap(order[k], order[j]);
  }
  return order;
}

Loader::Loader(std::shared_ptr<const Dataset> data, LoaderOptions opt) : data_(std::move(data)), opt_(opt) {
  PX_CHECK(data_ != nullptr, "loader without a dataset");
  const int64_t n = data_->size();
  PX_USER_CHECK(opt_.batch_size >= 1, "batch size {} must be at least 1", opt_.batch_size);
  PX_USER_CHECK(n >= 1, "{} has no samples", data_->describe());
  PX_USER_CHECK(!opt_.drop_last || opt_.batch_size <= n,
                "batch size {} exceeds the {} samples of {}; use a batch "
                "of at most {}",
                opt_.batch_size, n, data_->describe(), n);
}

int64_t Loader::batches_per_epoch() const {
  const int64_t n = data_->size(), b = opt_.batch_size;
  return opt_.drop_last ? n / b : (n + b - 1) / b;
}

int64_t Loader::rows_in_batch(int64_t batch) const {
  PX_CHECK(batch >= 0 && batch < batches_per_epoch(), "batch {} of an epoch of {}", batch,
           batches_per_epoch());
  return std::min(opt_.batch_size, data_->size() - batch * opt_.batch_size);
}

const std::vector<int64_t>& Loader::order(int64_t epoch) const {
  if (cached_epoch_ != epoch) {
    cached_order_ = shuffle_order(data_->size(), opt_.seed, epoch);
    cached_epoch_ = epoch;
  }
  return cached_order_;
}

int64_t Loader::sample_index(int64_t epoch, int64_t position) const {
  PX_CHECK(epoch >= 0 && position >= 0 && position < data_->size(), "position {} of epoch {} ({} samples)",
           position, epoch, data_->size());
  return opt_.shuffle ? order(epoch)[position] : position;
}

Batch Loader::batch(int64_t epoch, int64_t batch, int64_t dp, int64_t rank) const {
  const int64_t rows = rows_in_batch(batch);
  PX_USER_CHECK(
      rows == opt_.batch_size || rows % dp == 0,
      "the last partial batch of the epoch has {} rows "
      "({} samples % batch {}), which does not split over data-parallel size {}; keep drop_last (the "
      "default) when training data-parallel",
      rows, data_->size(), opt_.batch_size, dp);
  RowRange mine = dp_shard_rows(rows, dp, rank);
  std::vector<int64_t> indices;
  indices.reserve(mine.size());
  for (int64_t r = mine.begin; r < mine.end; ++r)
    indices.push_back(sample_index(epoch, batch * opt_.batch_size + r));
  return data_->gather(indices);
}

Batch Loader::next(int64_t dp, int64_t rank) {
  Batch b = batch(state_.epoch, state_.batch, dp, rank);
  if (++state_.batch == batches_per_epoch()) {
    state_.batch = 0;
    ++state_.epoch;
  }
  return b;
}

void Loader::restore(const LoaderState& s) {
  PX_USER_CHECK(
      s.epoch >= 0 && s.batch >= 0 && s.batch < batches_per_epoch(),
      "loader state (epoch {}, batch {}) does not fit this data: {} batches per epoch of {} with batch "
      "size {}; was the checkpoint written with another dataset or batch size?",
      s.epoch, s.batch, batches_per_epoch(), data_->describe(), opt_.batch_size);
  state_ = s;
}

}  // namespace paraxis
