#include "paraxis/nn/layernorm.h"

#include "paraxis/core/error.h"
#include "paraxis/kernels/fused.h"
#include "paraxis/kernels/layernorm.h"

namespace paraxis {

LayerNorm::LayerNorm(int64_t features, std::string name, float eps)
    : Layer(std::move(name)), c_(features), eps_(eps) {
  PX_USER_CHECK(features > 0, "layernorm {}: features must be positive, got {}", name_, features);
  weight_ = make_param(join_name(name_, "weight"), {c_});
  bias_   = make_param(join_name(name_, "bias"), {c_});
  weight_.value.fill_(1.0f);
}

void LayerNorm::init(uint64_t /*seed*/) {
  weight_.value.fill_(1.0f);
  bias_.value.zero_();
}

void LayerNorm::collect_params(std::vector<Param*>& out) {
  out.push_back(&weight_);
  out.push_back(&bias_);
}

void LayerNorm::check_input(const Tensor& x) const {
  PX_USER_CHECK(x.defined() && x.dtype() == DType::kF32 && x.ndim() >= 1 && x.dim(-1) == c_,
                "layernorm {}: input {} must be F32 ending in {} features", name_,
                x.defined() ? shape_str(x.shape()) : "undefined", c_);
}

Tensor LayerNorm::forward(Ctx& ctx, const Tensor& x) {
  check_input(x);
  int64_t n   = x.numel() / c_;
  Tensor y    = Tensor::empty(x.shape());
  Tensor stat = Tensor::empty({2, n});  // mean (N), 1/std (N)
  layernorm_forward(y.data(), stat.data(), stat.data() + n, x.data(), weight_.value.data(),
                    bias_.value.data(), n, c_, eps_);
  ctx.in_shape = x.shape();
  ctx.saved    = {x, stat};
  return y;
}

Tensor LayerNorm::forward_residual(Ctx& ctx, const Tensor& x, const Tensor& f, DropoutMask drop, Tensor& h) {
  check_input(x);
  check_shape(f, x.shape(), "layernorm residual branch");
  int64_t n   = x.numel() / c_;
  h           = Tensor::empty(x.shape());
  Tensor y    = Tensor::empty(x.shape());
  Tensor stat = Tensor::empty({2, n});
  residual_layernorm_forward(h.data(), y.data(), stat.data(), stat.data() + n, x.data(), f.data(),
                             weight_.value.data(), bias_.value.data(), n, c_, eps_, drop);
  ctx.in_shape = x.shape();
  ctx.saved    = {h, stat};
  return y;
}

Tensor LayerNorm::backward_input(Ctx& ctx, const Tensor& dy) {
  return backward_input_residual(ctx, dy, Tensor());
}

Tensor LayerNorm::backward_input_residual(Ctx& ctx, const Tensor& dy, const Tensor& dres) {
  PX_CHECK(ctx.saved.size() == 2, "layernorm {}: backward_input without forward", name_);
  check_shape(dy, ctx.in_shape, "layernorm backward dy");
  if (dres.defined()) check_shape(dres, ctx.in_shape, "layernorm backward residual gradient");
  int64_t n         = dy.numel() / c_;
  Tensor dx         = Tensor::empty(ctx.in_shape);
  Tensor part       = Tensor::zeros({2, c_});  // dw | db of this dy, added by backward_weight
  const float* stat = ctx.saved[1].data();
  layernorm_backward_fused(dx.data(), part.data(), part.data() + c_, dy.data(),
                           dres.defined() ? dres.data() : nullptr, ctx.saved[0].data(), weight_.value.data(),
                           stat, stat + n, n, c_);
  ctx.saved = {part};  // the input and statistics are no longer needed
  return dx;
}

void LayerNorm::backward_weight(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(!ctx.saved.empty(), "layernorm {}: backward_weight without forward", name_);
  check_shape(dy, ctx.in_shape, "layernorm backward dy");
  if (ctx.saved.size() == 1) {  // backward_input computed the sums
    const float* part = ctx.saved[0].data();
    float *dw = weight_.grad.data(), *db = bias_.grad.data();
    for (int64_t j = 0; j < c_; ++j) dw[j] += part[j], db[j] += part[c_ + j];
  } else {
    int64_t n         = dy.numel() / c_;
    const float* stat = ctx.saved[1].data();
    layernorm_backward_weight(weight_.grad.data(), bias_.grad.data(), dy.data(), ctx.saved[0].data(), stat,
                              stat + n, n, c_);
  }
  ctx.saved.clear();
}

Cost LayerNorm::cost(const Shape& in) const {
  double n = static_cast<double>(shape_numel(in) / c_), nc = n * c_;
  Cost c;
  c.fwd_flops        = 8.0 * nc;  // sum, centred square, normalise, scale, shift
  c.bwd_input_flops  = 10.0 * nc;
  c.bwd_weight_flops = 5.0 * nc;
  c.fwd_bytes        = 4.0 * (2 * nc + 2 * n + 2 * c_);
  c.bwd_input_bytes  = 4.0 * (3 * nc + 2 * n + c_);
  c.bwd_weight_bytes = 4.0 * (2 * nc + 2 * n + 4 * c_);
  c.param_bytes      = 8 * c_;
  c.activation_bytes = static_cast<int64_t>(4.0 * (nc + 2 * n));
  return c;
}

}  // namespace paraxis
