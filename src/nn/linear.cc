#include "paraxis/nn/linear.h"

#include <algorithm>
#include <cmath>

#include "paraxis/core/error.h"
#include "paraxis/kernels/activation.h"
#include "paraxis/kernels/fused.h"
#include "paraxis/kernels/linear.h"

namespace paraxis {

Linear::Linear(int64_t in, int64_t out, std::string name, bool bias)
    : Layer(std::move(name)), in_(in), out_(out), has_bias_(bias) {
  PX_USER_CHECK(in > 0 && out > 0, "linear {}: sizes must be positive, got in={} out={}", name_, in, out);
  weight_ = make_param(join_name(name_, "weight"), {out, in});
  if (has_bias_) bias_ = make_param(join_name(name_, "bias"), {out});
}

void Linear::init(uint64_t seed) {
  // The fan-in of the full weight: a row-parallel shard holds only in / tp of the columns.
  float bound = 1.0f / std::sqrt(static_cast<float>(weight_.full_shape[1]));
  init_param_uniform(weight_, -bound, bound, seed);
  if (has_bias_) init_param_uniform(bias_, -bound, bound, seed);
}

void Linear::collect_params(std::vector<Param*>& out) {
  out.push_back(&weight_);
  if (has_bias_) out.push_back(&bias_);
}

uint16_t* Linear::round_weight() {
  rounded_from_ = nullptr;
  if (!linear_rounds_weights()) return nullptr;
  weight_bf16_.resize(static_cast<size_t>(in_ * out_));
  rounded_from_ = weight_.value.data();
  return weight_bf16_.data();
}

const uint16_t* Linear::rounded_weight() const {
  const bool fresh = rounded_from_ && rounded_from_ == weight_.value.data() && linear_rounds_weights();
  return fresh ? weight_bf16_.data() : nullptr;
}

Shape Linear::output_shape(const Shape& in) const {
  Shape s  = in;
  s.back() = out_;
  return s;
}

Tensor Linear::forward(Ctx& ctx, const Tensor& x) {
  PX_USER_CHECK(x.ndim() >= 1 && x.dim(-1) == in_, "linear {}: input shape {} does not end in {} features",
                name_, shape_str(x.shape()), in_);
  int64_t n = x.numel() / in_;
  Tensor y  = Tensor::empty(output_shape(x.shape()));
  linear_forward(y.data(), x.data(), weight_.value.data(), has_bias_ ? bias_.value.data() : nullptr, n, in_,
                 out_, round_weight());
  ctx.in_shape = x.shape();
  ctx.saved    = {x};
  if (!gelu_) return y;
  Tensor g = Tensor::empty(y.shape());  // y is the pre-activation u, kept for gelu'(u)
  gelu_forward(g.data(), y.data(), y.numel());
  ctx.saved.push_back(y);
  return g;
}

Tensor Linear::backward_input(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(!ctx.saved.empty(), "linear {}: backward_input without forward", name_);
  check_shape(dy, output_shape(ctx.in_shape), "linear backward dy");
  Tensor dx = Tensor::empty(ctx.in_shape);
  if (gelu_) {
    PX_CHECK(ctx.saved.size() == 2, "linear {}: backward_input twice or without forward", name_);
    Tensor du = Tensor::empty(dy.shape());
    Tensor db = has_bias_ ? Tensor::zeros({out_}) : Tensor();  // added to the gradient by backward_weight
    gelu_backward_bias(du.data(), has_bias_ ? db.data() : nullptr, dy.data(), ctx.saved[1].data(),
                       dy.numel() / out_, out_);
    ctx.saved = {ctx.saved[0], du, db};  // the weight pass needs du, not dy
    linear_backward_input(dx.data(), du.data(), weight_.value.data(), du.numel() / out_, in_, out_,
                          rounded_weight());
    return dx;
  }
  linear_backward_input(dx.data(), dy.data(), weight_.value.data(), dy.numel() / out_, in_, out_,
                        rounded_weight());
  return dx;
}

void Linear::backward_weight(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(!ctx.saved.empty(), "linear {}: backward_weight without forward", name_);
  check_shape(dy, output_shape(ctx.in_shape), "linear backward dy");
  const Tensor& x = ctx.saved[0];
  PX_CHECK(!gelu_ || ctx.saved.size() == 3, "linear {}: backward_weight before backward_input", name_);
  const Tensor& g = gelu_ ? ctx.saved[1] : dy;  // the gradient at the product's output
  if (defer_) {
    pending_.emplace_back(x, g);  // views of the stashed input and the gradient: no copy
  } else if (gelu_ && has_bias_) {
    linear_backward_weight(weight_.grad.data(), nullptr, g.data(), x.data(), g.numel() / out_, in_, out_);
    const float* db = ctx.saved[2].data();
    float* bias     = bias_.grad.data();
    for (int64_t j = 0; j < out_; ++j) bias[j] += db[j];
  } else {
    linear_backward_weight(weight_.grad.data(), has_bias_ ? bias_.grad.data() : nullptr, g.data(), x.data(),
                           g.numel() / out_, in_, out_);
  }
  ctx.saved.clear();
}

bool Linear::defer_weight_grads(bool on) {
  if (!on) flush_weight_grads();
  defer_ = on;
  return true;
}

void Linear::flush_weight_grads() {
  if (pending_.empty()) return;
  int64_t rows = 0;
  for (const auto& [x, dy] : pending_) rows += dy.numel() / out_;
  // One GEMM over every kept micro-batch: dW += [dy_1; …; dy_m]^T [x_1; …; x_m]. Concatenating the rows costs
  // rows·(in + out) floats of copying; the m separate calls each read and wrote the whole (out, in) gradient.
  Tensor xs = Tensor::empty({rows, in_}), dys = Tensor::empty({rows, out_});  // (rows, in), (rows, out)
  int64_t r = 0;
  for (const auto& [x, dy] : pending_) {
    const int64_t n = dy.numel() / out_;
    std::copy(x.data(), x.data() + n * in_, xs.data() + r * in_);
    std::copy(dy.data(), dy.data() + n * out_, dys.data() + r * out_);
    r += n;
  }
  pending_.clear();
  linear_backward_weight(weight_.grad.data(), has_bias_ ? bias_.grad.data() : nullptr, dys.data(), xs.data(),
                         rows, in_, out_);
}

int64_t Linear::deferred_bytes() const {
  int64_t bytes = 0;
  for (const auto& [x, dy] : pending_) bytes += static_cast<int64_t>(x.nbytes() + dy.nbytes());
  return bytes;
}

Cost Linear::cost(const Shape& in) const {
  double n = static_cast<double>(shape_numel(in) / in_);
  Cost c;
  c.fwd_flops        = 2.0 * n * in_ * out_ + (has_bias_ ? n * out_ : 0.0);
  c.bwd_input_flops  = 2.0 * n * in_ * out_;
  c.bwd_weight_flops = 2.0 * n * in_ * out_ + (has_bias_ ? n * out_ : 0.0);
  double wbytes      = 4.0 * (in_ * out_ + (has_bias_ ? out_ : 0));
  c.fwd_bytes        = 4.0 * n * (in_ + out_) + wbytes;
  c.bwd_input_bytes  = 4.0 * n * (in_ + out_) + wbytes;
  c.bwd_weight_bytes = 4.0 * n * (in_ + out_) + 2.0 * wbytes;
  c.param_bytes      = static_cast<int64_t>(wbytes);
  c.activation_bytes = static_cast<int64_t>(4.0 * n * in_);
  if (gelu_) {  // the epilogue: as the GELU layer's figures (flops of its erf and exp), u kept
    const double m = n * out_;
    c.fwd_flops += 20.0 * m;
    c.bwd_input_flops += 24.0 * m;
    c.fwd_bytes += 8.0 * m;
    c.bwd_input_bytes += 12.0 * m;
    c.activation_bytes += static_cast<int64_t>(4.0 * m);
  }
  return c;
}

}  // namespace paraxis
