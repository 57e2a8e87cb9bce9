#include "paraxis/parallel/data_parallel.h"

#include <algorithm>

#include "paraxis/core/error.h"

namespace paraxis {

DataParallel::DataParallel(const std::vector<Param*>& params, const std::vector<int>& blocks,
                           Communicator* dp_comm, int dp, int dp_rank, bool zero1, double bucket_mb,
                           RecordFn record)
    : comm_(dp_comm),
      dp_(dp),
      rank_(dp_rank),
      zero1_(zero1 && dp > 1),
      record_(std::move(record)),
      params_(params) {
  std::vector<pipeline::ParamSlot> slots;
  for (size_t i = 0; i < params.size(); ++i) {
    slots.push_back({blocks[i], params[i]->value.numel()});
    numel_ += params[i]->value.numel();
  }
  const int64_t padded = zero1_ ? (numel_ + dp - 1) / dp * dp : numel_;
  flat_value_          = Tensor::zeros({std::max<int64_t>(padded, 1)});
  flat_grad_           = Tensor::zeros({std::max<int64_t>(padded, 1)});
  int64_t off          = 0;
  for (Param* p : params) {  // values move into the flat buffer, gradients are views of the other
    const int64_t n = p->value.numel();
    Tensor v        = flat_value_.slice(off, off + n).view(p->value.shape());
    v.copy_from(p->value);
    p->value = v;
    p->grad  = flat_grad_.slice(off, off + n).view(p->value.shape());
    off += n;
  }
  buckets_ = pipeline::layout_grad_buckets(slots, pipeline::grad_bucket_elems(bucket_mb * 1024 * 1024));
  state_.resize(buckets_.size());
  const int nblocks = blocks.empty() ? 0 : *std::max_element(blocks.begin(), blocks.end()) + 1;
  block_buckets_.assign(nblocks, {});
  block_counts_.assign(nblocks, {});
  size_t i = 0;
  for (int b = 0; b < static_cast<int>(buckets_.size()); ++b)
    for (int k = 0; k < buckets_[b].params; ++k, ++i) {
      auto& bks = block_buckets_[blocks[i]];
      if (bks.empty() || bks.back() != b) bks.push_back(b), block_counts_[blocks[i]].push_back(0);
      ++block_counts_[blocks[i]].back();
    }
  if (zero1_) make_shard(params);
}

// One pseudo-parameter per (parameter ∩ this rank's shard): the optimizer's state then covers the shard.
void DataParallel::make_shard(const std::vector<Param*>& params) {
  shard_len_   = flat_value_.numel() / dp_;
  shard_begin_ = rank_ * shard_len_;
  grad_shard_  = Tensor::zeros({shard_len_});
  value_shard_ = Tensor::zeros({shard_len_});
  int64_t off  = 0;
  for (Param* p : params) {
    const int64_t lo = std::max(off, shard_begin_),
                  hi = std::min(off + p->value.numel(), shard_begin_ + shard_len_);
    if (lo < hi) {
      Param q;
      q.name          = fmt::format("{}[{}:{}]", p->name, lo - off, hi - off);
      q.value         = flat_value_.slice(lo, hi);
      q.grad          = grad_shard_.slice(lo - shard_begin_, hi - shard_begin_);
      q.full_shape    = {hi - lo};
      q.tp_replicated = p->tp_replicated;  // the grad norm counts replicated pieces on tp rank 0 only
      shard_params_.push_back(q);
    }
    off += p->value.numel();
  }
}

std::vector<Param*> DataParallel::optimizer_params() {
  if (!zero1_) return params_;
  std::vector<Param*> out;
  for (Param& q : shard_params_) out.push_back(&q);
  return out;
}

void DataParallel::begin_step() {
  for (size_t b = 0; b < buckets_.size(); ++b) state_[b] = Bucket{buckets_[b].params};
}

void DataParallel::launch(int b) {
  Bucket& s  = state_[b];
  s.t_launch = trace::now_ns();
  s.work = comm_->all_reduce_async(flat_grad_.data() + buckets_[b].begin, buckets_[b].end - buckets_[b].begin,
                                   ReduceOp::kAverage);
  s.launched = true;
}

void DataParallel::arm(int b, int action) {
  PX_CHECK(b >= 0 && b < static_cast<int>(state_.size()), "REDUCE_GRAD{}: the device has {} buckets", b,
           state_.size());
  state_[b].armed  = true;
  state_[b].action = action;
  if (state_[b].pending == 0 && !state_[b].launched) launch(b);
}

void DataParallel::block_done(int block) {
  if (block >= static_cast<int>(block_buckets_.size())) return;
  for (size_t k = 0; k < block_buckets_[block].size(); ++k) {
    const int b = block_buckets_[block][k];
    state_[b].pending -= block_counts_[block][k];
    if (state_[b].pending == 0 && state_[b].armed && !state_[b].launched) launch(b);
  }
}

void DataParallel::reduce(int b, int action) {
  arm(b, action);
  PX_CHECK(state_[b].launched,
           "REDUCE_GRAD{} runs before its {} gradients are final (the schedule places it "
           "too early)",
           b, state_[b].pending);
}

void DataParallel::wait_all() {
  for (size_t b = 0; b < state_.size(); ++b) {
    if (!state_[b].launched || state_[b].waited) continue;
    state_[b].work.wait();
    state_[b].waited = true;
    if (record_)
      record_(trace::Kind::kAllReduce, state_[b].t_launch, (buckets_[b].end - buckets_[b].begin) * 4,
              state_[b].action);
  }
}

void DataParallel::reduce_scatter(int action) {
  const int64_t t = trace::now_ns();
  comm_->reduce_scatter(grad_shard_.data(), flat_grad_.data(), shard_len_, ReduceOp::kAverage);
  if (record_) record_(trace::Kind::kReduceScatter, t, numel_ * 4, action);
}

void DataParallel::all_gather(int action) {
  value_shard_.copy_from(flat_value_.slice(shard_begin_, shard_begin_ + shard_len_));
  const int64_t t = trace::now_ns();
  comm_->all_gather(flat_value_.data(), value_shard_.data(), shard_len_);
  if (record_) record_(trace::Kind::kAllGather, t, numel_ * 4, action);
}

void DataParallel::zero_grads(bool fused) {
  if (zero1_ && !fused) grad_shard_.zero_();
  // The fused update zeroed the optimizer's own gradients; with ZeRO-1 those are the shard, and the full
  // accumulation buffer remains.
  if (!fused || zero1_) flat_grad_.zero_();
}

}  // namespace paraxis
