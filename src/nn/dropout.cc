#include "paraxis/nn/dropout.h"

#include <fmt/format.h>

#include "paraxis/core/error.h"
#include "paraxis/kernels/elementwise.h"

namespace paraxis {

Dropout::Dropout(float p, std::string name) : Layer(std::move(name)), p_(p) {
  PX_USER_CHECK(p >= 0.0f && p < 1.0f, "dropout {}: probability {} must be in [0, 1); use e.g. 0.1", name_,
                p);
}

Philox Dropout::mask_rng(const Ctx& ctx) const {
  return Philox(seed_, stream_id(fmt::format("{}/step{}/mb{}", name_, ctx.step, ctx.microbatch)));
}

Tensor Dropout::forward(Ctx& ctx, const Tensor& x) {
  PX_USER_CHECK(x.defined() && x.dtype() == DType::kF32, "dropout {}: input must be a defined F32 tensor",
                name_);
  ctx.in_shape = x.shape();
  if (!active(ctx)) return x;
  Tensor y = Tensor::empty(x.shape());
  dropout_forward(y.data(), x.data(), x.numel(), p_, mask_rng(ctx));
  return y;
}

Tensor Dropout::backward_input(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(!ctx.in_shape.empty(), "dropout {}: backward_input without forward", name_);
  check_shape(dy, ctx.in_shape, "dropout backward dy");
  if (!active(ctx)) return dy;
  Tensor dx = Tensor::empty(dy.shape());
  dropout_backward(dx.data(), dy.data(), dy.numel(), p_, mask_rng(ctx));
  return dx;
}

Cost Dropout::cost(const Shape& in) const {
  Cost c;
  if (p_ == 0.0f) return c;
  double n          = static_cast<double>(shape_numel(in));
  c.fwd_flops       = 2.0 * n;  // compare and scale (the Philox rounds are integer work, not counted)
  c.bwd_input_flops = 2.0 * n;
  c.fwd_bytes       = 8.0 * n;
  c.bwd_input_bytes = 8.0 * n;
  return c;  // nothing stored: the mask is regenerated
}

}  // namespace paraxis
