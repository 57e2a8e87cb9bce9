// PLACEHOLDER ReLU from branch h/conv (see include/paraxis/nn/activation.h); drop at merge time.
#include "paraxis/core/error.h"
#include "paraxis/nn/activation.h"

namespace paraxis {

ReLU::ReLU(std::string name) : Layer(std::move(name)) {}

Tensor ReLU::forward(Ctx& ctx, const Tensor& x) {
  Tensor y       = Tensor::empty(x.shape());
  const float* a = x.data();
  float* o       = y.data();
  for (int64_t i = 0; i < x.numel(); ++i) o[i] = a[i] > 0.0f ? a[i] : 0.0f;
  ctx.in_shape = x.shape();
  ctx.saved    = {y};  // the mask is y > 0
  return y;
}

Tensor ReLU::backward_input(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(!ctx.saved.empty(), "relu {}: backward_input without forward", name_);
  check_shape(dy, ctx.in_shape, "relu backward dy");
  Tensor dx      = Tensor::empty(ctx.in_shape);
  const float* y = ctx.saved[0].data();
  const float* g = dy.data();
  float* o       = dx.data();
  for (int64_t i = 0; i < dy.numel(); ++i) o[i] = y[i] > 0.0f ? g[i] : 0.0f;
  ctx.saved.clear();
  return dx;
}

Cost ReLU::cost(const Shape& in) const {
  double n = static_cast<double>(shape_numel(in));
  Cost c;
  c.fwd_flops        = n;
  c.bwd_input_flops  = n;
  c.fwd_bytes        = 8.0 * n;
  c.bwd_input_bytes  = 12.0 * n;
  c.activation_bytes = static_cast<int64_t>(4.0 * n);
  return c;
}

}  // namespace paraxis
