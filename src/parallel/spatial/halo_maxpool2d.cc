// SpatialMaxPool2d: max pooling on this member's output rows; a window that crosses a slab edge reads the
// rows beyond it from the halo (the same output-side rule as the convolution, pad 0), and its gradient goes
// back to their owner.
#include "parallel/spatial/layers.h"
#include "paraxis/core/error.h"

namespace paraxis {

SpatialMaxPool2d::SpatialMaxPool2d(std::unique_ptr<MaxPool2d> pool, int64_t h_in, const SpInfo& sp)
    : Layer(pool->name()),
      pool_(std::move(pool)),
      halo_(h_in, (h_in - pool_->kernel()) / pool_->stride() + 1, pool_->kernel(), pool_->stride(), 0, sp,
            false) {}

Pool2dShape SpatialMaxPool2d::window_shape(const Shape& in) const {
  PX_USER_CHECK(in.size() == 4 && in[2] == halo_.own_in().size(),
                "maxpool2d {}: input {} does not match expected (N, C, {}, W) (this device's rows)", name_,
                shape_str(in), halo_.own_in().size());
  return Pool2dShape{in[0], in[1], halo_.window_rows(), in[3], pool_->kernel(), pool_->stride()};
}

Shape SpatialMaxPool2d::output_shape(const Shape& in) const {
  Pool2dShape s = window_shape(in);
  return {s.n, s.c, s.oh(), s.ow()};
}

Tensor SpatialMaxPool2d::forward(Ctx& ctx, const Tensor& x) {
  const Pool2dShape s = window_shape(x.shape());
  Tensor win          = halo_.gather(x, 0);  // (N, C, window rows, W)
  const Shape out     = {s.n, s.c, s.oh(), s.ow()};
  Tensor y            = Tensor::empty(out);               // (N, C, own rows, OW)
  Tensor argmax       = Tensor::empty(out, DType::kI32);  // index into each window plane
  maxpool2d_forward(y.data(), argmax.data_i32(), win.data(), s);
  ctx.in_shape = x.shape();
  ctx.saved    = {argmax};
  return y;
}

Tensor SpatialMaxPool2d::backward_input(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(!ctx.saved.empty(), "maxpool2d {}: backward_input without forward", name_);
  const Pool2dShape s = window_shape(ctx.in_shape);
  Tensor dwin         = Tensor::empty({s.n, s.c, s.h, s.w});  // (N, C, window rows, W)
  maxpool2d_backward(dwin.data(), dy.data(), ctx.saved[0].data_i32(), s);
  ctx.saved.clear();
  return halo_.scatter_add(std::move(dwin), 0);
}

Cost SpatialMaxPool2d::cost(const Shape& in) const {
  const Pool2dShape s = window_shape(in);
  return pool_->cost({s.n, s.c, s.h, s.w});
}

}  // namespace paraxis
