// SpatialConv2d: a convolution on this member's output rows. The forward gathers the window rows (input
// halo, zero padding only at the image border, made explicit so the kernel runs with pad 0); the input
// gradient is the window's gradient sent back to the rows' owners (output-gradient halo, the adjoint).
#include <algorithm>

#include "parallel/spatial/layers.h"
#include "paraxis/core/error.h"

namespace paraxis {

namespace {
int64_t conv_out(int64_t h, const Conv2d& c) {
  return (h + 2 * c.pad() - c.kernel()) / c.stride() + 1;
}
}  // namespace

SpatialConv2d::SpatialConv2d(std::unique_ptr<Conv2d> conv, int64_t h_in, const SpInfo& sp, bool input_whole)
    : Layer(conv->name()),
      conv_(std::move(conv)),
      halo_(h_in, conv_out(h_in, *conv_), conv_->kernel(), conv_->stride(), conv_->pad(), sp, input_whole) {}

Conv2dShape SpatialConv2d::window_shape(const Shape& in) const {
  PX_USER_CHECK(in.size() == 4 && in[1] == conv_->in_channels() && in[2] == halo_.own_in().size(),
                "conv2d {}: input {} does not match expected (N, {}, {}, W) (this device's rows)", name_,
                shape_str(in), conv_->in_channels(), halo_.own_in().size());
  const int64_t p = conv_->pad();
  return Conv2dShape{
      in[0],           in[1], halo_.window_rows(), in[3] + 2 * p, conv_->out_channels(), conv_->kernel(),
      conv_->stride(), 0};
}

Shape SpatialConv2d::output_shape(const Shape& in) const {
  Conv2dShape s = window_shape(in);
  return {s.n, s.cout, s.oh(), s.ow()};
}

Tensor SpatialConv2d::forward(Ctx& ctx, const Tensor& x) {
  const Conv2dShape s = window_shape(x.shape());
  PX_CHECK(s.oh() == halo_.own_out().size(), "conv2d {}: window gives {} rows, owns {}", name_, s.oh(),
           halo_.own_out().size());
  Tensor win = halo_.gather(x, conv_->pad());                 // (N, Cin, window rows, W + 2 pad)
  Tensor y   = Tensor::empty({s.n, s.cout, s.oh(), s.ow()});  // (N, Cout, own rows, OW)
  conv2d_forward(y.data(), win.data(), conv_->weight().value.data(),
                 conv_->has_bias() ? conv_->bias().value.data() : nullptr, s);
  ctx.in_shape = x.shape();
  ctx.saved    = {win};  // for the weight gradient
  return y;
}

Tensor SpatialConv2d::backward_input(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(!ctx.saved.empty(), "conv2d {}: backward_input without forward", name_);
  check_shape(dy, output_shape(ctx.in_shape), "spatial conv2d backward dy");
  const Conv2dShape s = window_shape(ctx.in_shape);
  Tensor dwin         = Tensor::empty(ctx.saved[0].shape());  // (N, Cin, window rows, W + 2 pad)
  conv2d_backward_data(dwin.data(), dy.data(), conv_->weight().value.data(), s);
  return halo_.scatter_add(dwin, conv_->pad());
}

void SpatialConv2d::backward_weight(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(!ctx.saved.empty(), "conv2d {}: backward_weight without forward", name_);
  conv2d_backward_weights(conv_->weight().grad.data(),
                          conv_->has_bias() ? conv_->bias().grad.data() : nullptr, dy.data(),
                          ctx.saved[0].data(), window_shape(ctx.in_shape));
  ctx.saved.clear();
}

Cost SpatialConv2d::cost(const Shape& in) const {
  // The single-device layer's cost on an input whose padded height is this window (same output rows).
  const Conv2dShape s = window_shape(in);
  return conv_->cost({s.n, s.cin, std::max<int64_t>(1, s.h - 2 * conv_->pad()), in[3]});
}

}  // namespace paraxis
