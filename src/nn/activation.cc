#include "paraxis/nn/activation.h"

#include "paraxis/core/error.h"
#include "paraxis/kernels/activation.h"

namespace paraxis {

namespace {
void check_float_input(const Tensor& x, const char* kind, const std::string& name) {
  PX_USER_CHECK(x.defined() && x.dtype() == DType::kF32, "{} {}: input must be a defined F32 tensor, got {}",
                kind, name, x.defined() ? dtype_name(x.dtype()) : "an undefined tensor");
}
}  // namespace

Tensor ReLU::forward(Ctx& ctx, const Tensor& x) {
  check_float_input(x, "relu", name_);
  Tensor y = Tensor::empty(x.shape());
  relu_forward(y.data(), x.data(), x.numel());
  ctx.in_shape = x.shape();
  ctx.saved    = {y};  // the sign of y is the mask; a following Linear keeps the same tensor, not a copy
  return y;
}

Tensor ReLU::backward_input(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(!ctx.saved.empty(), "relu {}: backward_input without forward", name_);
  check_shape(dy, ctx.in_shape, "relu backward dy");
  Tensor dx = Tensor::empty(ctx.in_shape);
  relu_backward(dx.data(), dy.data(), ctx.saved[0].data(), dy.numel());
  ctx.saved.clear();
  return dx;
}

void ReLU::backward_weight(Ctx& ctx, const Tensor& /*dy*/) {
  ctx.saved.clear();
}

Cost ReLU::cost(const Shape& in) const {
  double n = static_cast<double>(shape_numel(in));
  Cost c;
  c.fwd_flops        = n;
  c.bwd_input_flops  = n;
  c.fwd_bytes        = 8.0 * n;   // read x, write y
  c.bwd_input_bytes  = 12.0 * n;  // read dy, y; write dx
  c.activation_bytes = static_cast<int64_t>(4.0 * n);
  return c;
}

Tensor GELU::forward(Ctx& ctx, const Tensor& x) {
  check_float_input(x, "gelu", name_);
  Tensor y = Tensor::empty(x.shape());
  gelu_forward(y.data(), x.data(), x.numel());
  ctx.in_shape = x.shape();
  ctx.saved    = {x};
  return y;
}

Tensor GELU::backward_input(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(!ctx.saved.empty(), "gelu {}: backward_input without forward", name_);
  check_shape(dy, ctx.in_shape, "gelu backward dy");
  Tensor dx = Tensor::empty(ctx.in_shape);
  gelu_backward(dx.data(), dy.data(), ctx.saved[0].data(), dy.numel());
  ctx.saved.clear();
  return dx;
}

void GELU::backward_weight(Ctx& ctx, const Tensor& /*dy*/) {
  ctx.saved.clear();
}

// Flops of the erf polynomial and exp counted as the arithmetic the fast kernel performs (about 20 and 24).
Cost GELU::cost(const Shape& in) const {
  double n = static_cast<double>(shape_numel(in));
  Cost c;
  c.fwd_flops        = 20.0 * n;
  c.bwd_input_flops  = 24.0 * n;
  c.fwd_bytes        = 8.0 * n;
  c.bwd_input_bytes  = 12.0 * n;
  c.activation_bytes = static_cast<int64_t>(4.0 * n);
  return c;
}

}  // namespace paraxis
