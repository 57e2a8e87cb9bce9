#include "paraxis/nn/maxpool2d.h"

#include <limits>

#include "paraxis/core/error.h"

namespace paraxis {

MaxPool2d::MaxPool2d(int64_t k, int64_t stride, std::string name)
    : Layer(std::move(name)), k_(k), stride_(stride) {
  PX_USER_CHECK(k > 0 && stride > 0, "maxpool2d {}: got k={} stride={}; both must be positive (e.g. 2, 2)",
                name_, k, stride);
}

Pool2dShape MaxPool2d::kernel_shape(const Shape& in) const {
  PX_USER_CHECK(in.size() == 4, "maxpool2d {}: input {} does not match expected (N, C, H, W)", name_,
                shape_str(in));
  PX_USER_CHECK(in[2] >= k_ && in[3] >= k_,
                "maxpool2d {}: input {} is smaller than the {}x{} window; use inputs of at least {}x{}",
                name_, shape_str(in), k_, k_, k_, k_);
  // The argmax is stored as int32 per plane.
  PX_USER_CHECK(in[2] * in[3] <= std::numeric_limits<int32_t>::max(),
                "maxpool2d {}: input plane {}x{} exceeds 2^31 elements; split the input", name_, in[2],
                in[3]);
  return Pool2dShape{in[0], in[1], in[2], in[3], k_, stride_};
}

Shape MaxPool2d::output_shape(const Shape& in) const {
  Pool2dShape s = kernel_shape(in);
  return {s.n, s.c, s.oh(), s.ow()};
}

Tensor MaxPool2d::forward(Ctx& ctx, const Tensor& x) {
  Pool2dShape s = kernel_shape(x.shape());
  Shape out     = {s.n, s.c, s.oh(), s.ow()};
  Tensor y      = Tensor::empty(out);               // (N, C, OH, OW)
  Tensor argmax = Tensor::empty(out, DType::kI32);  // (N, C, OH, OW) index into each input plane
  maxpool2d_forward(y.data(), argmax.data_i32(), x.data(), s);
  ctx.in_shape = x.shape();
  ctx.saved    = {argmax};
  return y;
}

Tensor MaxPool2d::backward_input(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(!ctx.saved.empty(), "maxpool2d {}: backward_input without forward", name_);
  check_shape(dy, output_shape(ctx.in_shape), "maxpool2d backward dy");
  Tensor dx = Tensor::empty(ctx.in_shape);  // (N, C, H, W)
  maxpool2d_backward(dx.data(), dy.data(), ctx.saved[0].data_i32(), kernel_shape(ctx.in_shape));
  ctx.saved.clear();  // no weight pass: the argmax is no longer needed
  return dx;
}

Cost MaxPool2d::cost(const Shape& in) const {
  Pool2dShape s    = kernel_shape(in);
  double in_elems  = static_cast<double>(shape_numel(in));
  double out_elems = static_cast<double>(s.n) * s.c * s.oh() * s.ow();
  Cost c;
  c.fwd_flops        = out_elems * s.k * s.k;               // comparisons
  c.bwd_input_flops  = out_elems;                           // one add per output
  c.fwd_bytes        = 4.0 * (in_elems + 2.0 * out_elems);  // read x; write y and the argmax
  c.bwd_input_bytes  = 4.0 * (in_elems + 2.0 * out_elems);  // write dx; read dy and the argmax
  c.activation_bytes = static_cast<int64_t>(4.0 * out_elems);
  return c;
}

}  // namespace paraxis
