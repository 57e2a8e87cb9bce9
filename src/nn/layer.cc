#include "paraxis/nn/layer.h"

#include <cstring>
#include <set>

#include "paraxis/core/error.h"

namespace paraxis {

namespace {
void collect_stash(const Ctx& c, std::set<const void*>& seen, int64_t& bytes) {
  for (const Tensor& t : c.saved)
    if (t.defined() && seen.insert(t.raw()).second) bytes += static_cast<int64_t>(t.nbytes());
  for (const Ctx& ch : c.children) collect_stash(ch, seen, bytes);
}
}  // namespace

int64_t Ctx::stashed_bytes() const {
  std::set<const void*> seen;
  int64_t bytes = 0;
  collect_stash(*this, seen, bytes);
  return bytes;
}

Cost& Cost::operator+=(const Cost& o) {
  fwd_flops += o.fwd_flops;
  bwd_input_flops += o.bwd_input_flops;
  bwd_weight_flops += o.bwd_weight_flops;
  fwd_bytes += o.fwd_bytes;
  bwd_input_bytes += o.bwd_input_bytes;
  bwd_weight_bytes += o.bwd_weight_bytes;
  param_bytes += o.param_bytes;
  activation_bytes += o.activation_bytes;
  return *this;
}

void Layer::zero_grad() {
  for (Param* p : params()) p->grad.zero_();
}

Param make_param(const std::string& name, const Shape& shape) {
  Param p;
  p.name       = name;
  p.value      = Tensor::zeros(shape);
  p.grad       = Tensor::zeros(shape);
  p.full_shape = shape;
  return p;
}

void mark_shard(Param& p, const Shape& full_shape, int dim, int64_t begin, int groups) {
  PX_CHECK(dim >= 0 && dim < static_cast<int>(full_shape.size()) && groups >= 1 &&
               p.value.ndim() == static_cast<int>(full_shape.size()),
           "mark_shard {}: bad dim {} or groups {} for {}", p.name, dim, groups, shape_str(full_shape));
  int64_t local = p.value.dim(dim), full = full_shape[dim];
  PX_CHECK(local % groups == 0 && full % groups == 0 && begin >= 0 && begin + local / groups <= full / groups,
           "mark_shard {}: shard {} at {} ({} groups) does not fit {}", p.name, shape_str(p.value.shape()),
           begin, groups, shape_str(full_shape));
  p.full_shape    = full_shape;
  p.shard_dim     = dim;
  p.shard_begin   = begin;
  p.shard_groups  = groups;
  p.tp_replicated = false;
}

namespace {
// Calls f(local_offset, full_offset, run) for each contiguous run of the shard inside the full tensor.
template <class F>
void for_each_shard_run(const Param& p, const Shape& local_shape, F f) {
  if (p.shard_dim < 0 || local_shape == p.full_shape) {
    f(int64_t{0}, int64_t{0}, shape_numel(local_shape));
    return;
  }
  const Shape& fs = p.full_shape;
  const int dim   = p.shard_dim;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < dim; ++i) outer *= fs[i];
  for (size_t i = dim + 1; i < fs.size(); ++i) inner *= fs[i];
  const int64_t ld = local_shape[dim], fd = fs[dim];
  const int64_t lg = ld / p.shard_groups, fg = fd / p.shard_groups;
  for (int64_t o = 0; o < outer; ++o)
    for (int g = 0; g < p.shard_groups; ++g)
      f((o * ld + g * lg) * inner, (o * fd + g * fg + p.shard_begin) * inner, lg * inner);
}
}  // namespace

void init_param_uniform(Param& p, float lo, float hi, uint64_t seed) {
  Philox rng(seed, stream_id(p.name));
  float* v = p.value.data();
  for_each_shard_run(p, p.value.shape(), [&](int64_t l, int64_t g, int64_t n) {
    for (int64_t i = 0; i < n; ++i) v[l + i] = lo + (hi - lo) * rng.uniform(g + i);
  });
}

void init_param_normal(Param& p, float mean, float stddev, uint64_t seed) {
  Philox rng(seed, stream_id(p.name));
  float* v = p.value.data();
  for_each_shard_run(p, p.value.shape(), [&](int64_t l, int64_t g, int64_t n) {
    for (int64_t i = 0; i < n; ++i) v[l + i] = mean + stddev * rng.normal(g + i);
  });
}

void copy_full_to_shard(const Param& p, Tensor& shard, const Tensor& full) {
  PX_CHECK(full.shape() == p.full_shape && shard.dtype() == full.dtype(), "copy_full_to_shard {}: {} vs {}",
           p.name, shape_str(full.shape()), shape_str(p.full_shape));
  const size_t es = dtype_size(full.dtype());
  auto* dst       = static_cast<char*>(shard.raw());
  auto* src       = static_cast<const char*>(full.raw());
  for_each_shard_run(p, shard.shape(), [&](int64_t l, int64_t g, int64_t n) {
    std::memcpy(dst + l * es, src + g * es, n * es);
  });
}

void copy_shard_to_full(const Param& p, Tensor& full, const Tensor& shard) {
  PX_CHECK(full.shape() == p.full_shape && shard.dtype() == full.dtype(), "copy_shard_to_full {}: {} vs {}",
           p.name, shape_str(full.shape()), shape_str(p.full_shape));
  const size_t es = dtype_size(full.dtype());
  auto* dst       = static_cast<char*>(full.raw());
  auto* src       = static_cast<const char*>(shard.raw());
  for_each_shard_run(p, shard.shape(), [&](int64_t l, int64_t g, int64_t n) {
    std::memcpy(dst + g * es, src + l * es, n * es);
  });
}

std::string join_name(const std::string& prefix, const std::string& leaf) {
  return prefix.empty() ? leaf : prefix + "." + leaf;
}

}  // namespace paraxis
