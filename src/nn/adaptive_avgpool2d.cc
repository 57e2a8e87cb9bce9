#include "paraxis/nn/adaptive_avgpool2d.h"

#include "paraxis/core/error.h"

namespace paraxis {

AdaptiveAvgPool2d::AdaptiveAvgPool2d(int64_t oh, int64_t ow, std::string name)
    : Layer(std::move(name)), oh_(oh), ow_(ow) {
  PX_USER_CHECK(oh > 0 && ow > 0,
                "adaptive_avgpool2d {}: got output {}x{}; both sizes must be positive (e.g. 6x6)", name_, oh,
                ow);
}

AdaptivePool2dShape AdaptiveAvgPool2d::kernel_shape(const Shape& in) const {
  PX_USER_CHECK(in.size() == 4 && in[2] > 0 && in[3] > 0,
                "adaptive_avgpool2d {}: input {} does not match expected (N, C, H, W) with H, W >= 1", name_,
                shape_str(in));
  return AdaptivePool2dShape{in[0], in[1], in[2], in[3], oh_, ow_};
}

Shape AdaptiveAvgPool2d::output_shape(const Shape& in) const {
  const AdaptivePool2dShape s = kernel_shape(in);
  return {s.n, s.c, s.oh, s.ow};
}

Tensor AdaptiveAvgPool2d::forward(Ctx& ctx, const Tensor& x) {
  const AdaptivePool2dShape s = kernel_shape(x.shape());
  Tensor y                    = Tensor::empty({s.n, s.c, s.oh, s.ow});
  adaptive_avgpool2d_forward(y.data(), x.data(), s);
  ctx.in_shape = x.shape();
  return y;
}

Tensor AdaptiveAvgPool2d::backward_input(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(!ctx.in_shape.empty(), "adaptive_avgpool2d {}: backward_input without forward", name_);
  const AdaptivePool2dShape s = kernel_shape(ctx.in_shape);
  check_shape(dy, {s.n, s.c, s.oh, s.ow}, "adaptive_avgpool2d backward dy");
  Tensor dx = Tensor::empty(ctx.in_shape);
  adaptive_avgpool2d_backward(dx.data(), dy.data(), s);
  return dx;
}

Cost AdaptiveAvgPool2d::cost(const Shape& in) const {
  const AdaptivePool2dShape s = kernel_shape(in);
  double reads                = 0;  // input elements read over every bin of a plane (bins may overlap)
  for (int64_t i = 0; i < s.oh; ++i)
    for (int64_t j = 0; j < s.ow; ++j)
      reads += static_cast<double>(adaptive_bin_end(i, s.h, s.oh) - adaptive_bin_begin(i, s.h, s.oh)) *
               (adaptive_bin_end(j, s.w, s.ow) - adaptive_bin_begin(j, s.w, s.ow));
  const double planes = static_cast<double>(s.n) * s.c, in_elems = planes * s.h * s.w;
  const double out_elems = planes * s.oh * s.ow;
  Cost c;
  c.fwd_flops       = planes * reads;  // one add per bin member
  c.bwd_input_flops = planes * reads;
  c.fwd_bytes       = 4.0 * (in_elems + out_elems);
  c.bwd_input_bytes = 4.0 * (in_elems + out_elems);
  return c;  // nothing stored for the backward but the input's shape
}

}  // namespace paraxis
