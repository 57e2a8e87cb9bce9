// Conjugate mappings, column- and row-parallel layers and their builders (tensor_parallel.h).
#include "paraxis/parallel/tensor_parallel.h"

#include <cmath>
#include <cstring>

#include "nn/child_ctx.h"
#include "paraxis/comm/communicator.h"
#include "paraxis/core/error.h"
#include "paraxis/nn/attention.h"
#include "paraxis/nn/conv2d.h"
#include "paraxis/nn/linear.h"

namespace paraxis {

void copy_to_region_backward(const TpInfo& tp, Tensor& dx) {
  if (tp.size > 1 && dx.defined()) tp.comm->all_reduce(dx.data(), dx.numel(), ReduceOp::kSum);
}

void reduce_from_region_forward(const TpInfo& tp, Tensor& y) {
  if (tp.size > 1) tp.comm->all_reduce(y.data(), y.numel(), ReduceOp::kSum);
}

Tensor scatter_last_dim(const TpInfo& tp, const Tensor& full) {
  if (tp.size == 1) return full;
  const int64_t kf = full.dim(-1), rows = full.numel() / kf;
  PX_CHECK(kf % tp.size == 0, "scatter_last_dim: {} columns over tp {}", kf, tp.size);
  const int64_t k = kf / tp.size;
  Shape s         = full.shape();
  s.back()        = k;
  Tensor out      = Tensor::empty(s);
  const float* in = full.data() + tp.rank * k;
  float* o        = out.data();
  for (int64_t r = 0; r < rows; ++r) std::memcpy(o + r * k, in + r * kf, k * sizeof(float));
  return out;
}

Tensor gather_last_dim(const TpInfo& tp, const Tensor& shard) {
  if (tp.size == 1) return shard;
  const int64_t k = shard.dim(-1), rows = shard.numel() / k, kf = k * tp.size;
  Tensor parts = Tensor::empty({tp.size, rows, k});  // (tp, rows, k): all_gather stacks rank-major
  tp.comm->all_gather(parts.data(), shard.data(), rows * k);
  Shape s    = shard.shape();
  s.back()   = kf;
  Tensor out = Tensor::empty(s);
  for (int r = 0; r < tp.size; ++r)
    for (int64_t i = 0; i < rows; ++i)
      std::memcpy(out.data() + i * kf + r * k, parts.data() + (r * rows + i) * k, k * sizeof(float));
  return out;
}

// ---------------------------------------------------------------------------------------------------------

ColumnParallel::ColumnParallel(std::unique_ptr<Layer> local, const TpInfo& tp, bool gather_output)
    : Layer(local ? local->name() : ""), local_(std::move(local)), tp_(tp), gather_output_(gather_output) {
  PX_CHECK(local_ != nullptr, "column parallel: null local layer");
}

Tensor ColumnParallel::forward(Ctx& ctx, const Tensor& x) {
  ctx.in_shape = x.shape();
  Tensor y     = local_->forward(child_ctx(ctx, 0, 1), x);
  return gather_output_ ? gather_last_dim(tp_, y) : y;
}

Tensor ColumnParallel::backward_input(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(ctx.children.size() == 1, "column parallel {}: backward_input without forward", name_);
  Tensor d = dy;
  if (gather_output_) {
    d         = scatter_last_dim(tp_, dy);
    ctx.saved = {d};  // the weight pass needs the local output gradient
  }
  Tensor dx = local_->backward_input(ctx.children[0], d);
  copy_to_region_backward(tp_, dx);  // the input was replicated: sum every rank's part of its gradient
  return dx;
}

void ColumnParallel::backward_weight(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(ctx.children.size() == 1, "column parallel {}: backward_weight without forward", name_);
  local_->backward_weight(ctx.children[0], gather_output_ ? ctx.saved.at(0) : dy);
  ctx.saved.clear();
}

Shape ColumnParallel::output_shape(const Shape& in) const {
  Shape s = local_->output_shape(in);
  if (gather_output_) s.back() *= tp_.size;
  return s;
}

Cost ColumnParallel::cost(const Shape& in) const {
  return local_->cost(in);
}

// ---------------------------------------------------------------------------------------------------------

RowParallel::RowParallel(std::unique_ptr<Layer> local, Param bias, TpInit bias_init, float bias_bound,
                         const TpInfo& tp)
    : Layer(local ? local->name() : ""),
      local_(std::move(local)),
      bias_(std::move(bias)),
      bias_init_(bias_init),
      bias_bound_(bias_bound),
      tp_(tp) {
  PX_CHECK(local_ != nullptr, "row parallel: null local layer");
}

namespace {
// Channels of y along which a bias runs: dim 1 of (N, C, H, W), else the last dimension.
void bias_layout(const Shape& s, int64_t& outer, int64_t& channels, int64_t& inner) {
  if (s.size() == 4) {
    outer = s[0], channels = s[1], inner = s[2] * s[3];
  } else {
    channels = s.back(), inner = 1, outer = shape_numel(s) / channels;
  }
}
}  // namespace

Tensor RowParallel::forward(Ctx& ctx, const Tensor& x) {
  ctx.in_shape = x.shape();
  Tensor y     = local_->forward(child_ctx(ctx, 0, 1), x);  // this rank's partial sum
  reduce_from_region_forward(tp_, y);
  if (bias_.value.defined()) {
    int64_t outer, ch, inner;
    bias_layout(y.shape(), outer, ch, inner);
    PX_CHECK(ch == bias_.value.numel(), "row parallel {}: {} channels, bias {}", name_, ch,
             bias_.value.numel());
    float* yp       = y.data();
    const float* bp = bias_.value.data();
#pragma omp parallel for if (outer * ch * inner > (1 << 16))
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t c = 0; c < ch; ++c) {
        float* row = yp + (o * ch + c) * inner;
        for (int64_t i = 0; i < inner; ++i) row[i] += bp[c];
      }
  }
  return y;
}

Tensor RowParallel::backward_input(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(ctx.children.size() == 1, "row parallel {}: backward_input without forward", name_);
  return local_->backward_input(ctx.children[0], dy);  // dy is replicated: the local input grad is exact
}

void RowParallel::backward_weight(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(ctx.children.size() == 1, "row parallel {}: backward_weight without forward", name_);
  local_->backward_weight(ctx.children[0], dy);
  if (!bias_.value.defined()) return;
  // Every rank sees the same dy, so the replicated bias gets the same gradient everywhere.
  int64_t outer, ch, inner;
  bias_layout(dy.shape(), outer, ch, inner);
  const float* d = dy.data();
  float* db      = bias_.grad.data();
  if (inner == 1) {
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t c = 0; c < ch; ++c) db[c] += d[o * ch + c];
  } else {
    for (int64_t c = 0; c < ch; ++c) {
      double s = 0;
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) s += d[(o * ch + c) * inner + i];
      db[c] += static_cast<float>(s);
    }
  }
}

Cost RowParallel::cost(const Shape& in) const {
  Cost c = local_->cost(in);
  if (bias_.value.defined()) {
    double n = static_cast<double>(shape_numel(local_->output_shape(in)));
    c.fwd_flops += n;
    c.bwd_weight_flops += n;
    c.param_bytes += 4 * bias_.value.numel();
  }
  return c;
}

void RowParallel::collect_params(std::vector<Param*>& out) {
  local_->collect_params(out);
  if (bias_.value.defined()) out.push_back(&bias_);
}

void RowParallel::init(uint64_t seed) {
  local_->init(seed);
  if (!bias_.value.defined()) return;
  if (bias_init_ == TpInit::kUniformFanIn)
    init_param_uniform(bias_, -bias_bound_, bias_bound_, seed);
  else
    bias_.value.zero_();
}

// ---------------------------------------------------------------------------------------------------------

namespace {

std::unique_ptr<Linear> make_linear(int64_t in, int64_t out, const std::string& name, TpInit init,
                                    bool bias) {
  if (init == TpInit::kNormal002) return std::make_unique<NormalInitLinear>(in, out, name, bias);
  return std::make_unique<Linear>(in, out, name, bias);
}

void check_split(int64_t n, int parts, const std::string& what) {
  PX_USER_CHECK(parts >= 1 && n % parts == 0, "{}: {} is not divisible by {}; use a --tp that divides {}",
                what, n, parts, n);
}

}  // namespace

std::unique_ptr<Layer> column_parallel_linear(int64_t in, int64_t out, const std::string& name,
                                              const TpInfo& tp, TpInit init, bool bias, int groups,
                                              bool gather_output) {
  check_split(out, tp.size * groups, name + " output features");
  auto l              = make_linear(in, out / tp.size, name, init, bias);
  const int64_t begin = tp.rank * (out / (int64_t{tp.size} * groups));
  mark_shard(l->weight(), {out, in}, 0, begin, groups);
  if (bias) mark_shard(l->bias(), {out}, 0, begin, groups);
  return std::make_unique<ColumnParallel>(std::move(l), tp, gather_output);
}

std::unique_ptr<Layer> row_parallel_linear(int64_t in, int64_t out, const std::string& name, const TpInfo& tp,
                                           TpInit init, bool bias) {
  check_split(in, tp.size, name + " input features");
  auto l = make_linear(in / tp.size, out, name, init, /*bias=*/false);
  mark_shard(l->weight(), {out, in}, 1, tp.rank * (in / tp.size));
  Param b = bias ? make_param(join_name(name, "bias"), {out}) : Param{};
  return std::make_unique<RowParallel>(std::move(l), std::move(b), init,
                                       1.0f / std::sqrt(static_cast<float>(in)), tp);
}

std::unique_ptr<Layer> column_parallel_conv2d(int64_t cin, int64_t cout, int64_t k, int64_t stride,
                                              int64_t pad, const std::string& name, const TpInfo& tp) {
  check_split(cout, tp.size, name + " output channels");
  auto conv           = std::make_unique<Conv2d>(cin, cout / tp.size, k, stride, pad, name);
  const int64_t begin = tp.rank * (cout / tp.size);
  mark_shard(conv->weight(), {cout, cin, k, k}, 0, begin);
  mark_shard(conv->bias(), {cout}, 0, begin);
  return std::make_unique<ColumnParallel>(std::move(conv), tp);
}

std::unique_ptr<Layer> row_parallel_conv2d(int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t pad,
                                           const std::string& name, const TpInfo& tp) {
  check_split(cin, tp.size, name + " input channels");
  auto conv = std::make_unique<Conv2d>(cin / tp.size, cout, k, stride, pad, name, /*bias=*/false);
  mark_shard(conv->weight(), {cout, cin, k, k}, 1, tp.rank * (cin / tp.size));
  return std::make_unique<RowParallel>(std::move(conv), make_param(join_name(name, "bias"), {cout}),
                                       TpInit::kUniformFanIn,
                                       1.0f / std::sqrt(static_cast<float>(cin * k * k)), tp);
}

}  // namespace paraxis
