// What the layout changes (SpatialToBatch, SpatialToWhole) do with the redistributed (N', C, H, W) tensor:
// flatten it (at the flatten block), or run the block they replace on it (a block that needs whole images,
// such as AlexNet's adaptive average pooling, which then sits after the layout change).
#include "parallel/spatial/layers.h"
#include "paraxis/core/error.h"

namespace paraxis {

namespace {
Ctx& then_ctx(Ctx& ctx) {
  if (ctx.children.empty()) ctx.children.resize(1);
  ctx.children[0].training   = ctx.training;
  ctx.children[0].step       = ctx.step;
  ctx.children[0].microbatch = ctx.microbatch;
  return ctx.children[0];
}
}  // namespace

Shape layout_change_shape(const Layer* then, const Shape& whole) {
  if (then) return then->output_shape(whole);
  return {whole[0], whole[1] * whole[2] * whole[3]};
}

Tensor after_layout_change(Layer* then, Ctx& ctx, Tensor whole) {
  if (then) return then->forward(then_ctx(ctx), whole);
  return whole.view(layout_change_shape(nullptr, whole.shape()));
}

Tensor before_layout_change(Layer* then, Ctx& ctx, const Tensor& dy, const Shape& whole) {
  if (!then) return dy.view(whole);
  PX_CHECK(!ctx.children.empty(), "layout change {}: backward without forward", then->name());
  Tensor dx = then->backward_input(ctx.children[0], dy);
  check_shape(dx, whole, "layout change backward");
  return dx;
}

}  // namespace paraxis
