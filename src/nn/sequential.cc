#include "paraxis/nn/sequential.h"

#include "nn/child_ctx.h"
#include "paraxis/core/error.h"
#include "paraxis/kernels/elementwise.h"

namespace paraxis {

Sequential& Sequential::add(std::unique_ptr<Layer> layer) {
  PX_CHECK(layer != nullptr, "sequential {}: adding a null layer", name_);
  layers_.push_back(std::move(layer));
  return *this;
}

Tensor Sequential::forward(Ctx& ctx, const Tensor& x) {
  ctx.in_shape = x.shape();
  Tensor h     = x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    Ctx& c = child_ctx(ctx, i, layers_.size());
    c.dy   = Tensor();
    h      = layers_[i]->forward(c, h);
  }
  return h;
}

Tensor Sequential::backward_input(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(ctx.children.size() == layers_.size(), "sequential {}: backward_input without forward", name_);
  Tensor g = dy;
  for (size_t i = layers_.size(); i-- > 0;) {
    ctx.children[i].dy = g;  // the weight pass of child i needs its own output gradient
    g                  = layers_[i]->backward_input(ctx.children[i], g);
  }
  return g;
}

void Sequential::backward_weight(Ctx& ctx, const Tensor& /*dy*/) {
  PX_CHECK(ctx.children.size() == layers_.size(), "sequential {}: backward_weight without forward", name_);
  for (size_t i = layers_.size(); i-- > 0;) {
    Ctx& c = ctx.children[i];
    PX_CHECK(c.dy.defined(), "sequential {}: backward_weight before backward_input (child {})", name_,
             layers_[i]->name());
    layers_[i]->backward_weight(c, c.dy);
    c.dy = Tensor();
  }
}

Shape Sequential::output_shape(const Shape& in) const {
  Shape s = in;
  for (const auto& l : layers_) s = l->output_shape(s);
  return s;
}

Cost Sequential::cost(const Shape& in) const {
  Cost total;
  Shape s = in;
  for (const auto& l : layers_) {
    total += l->cost(s);
    s = l->output_shape(s);
  }
  return total;
}

void Sequential::collect_params(std::vector<Param*>& out) {
  for (auto& l : layers_) l->collect_params(out);
}

void Sequential::collect_layers(std::vector<Layer*>& out) {
  for (auto& l : layers_) l->collect_layers(out);
}

void Sequential::init(uint64_t seed) {
  for (auto& l : layers_) l->init(seed);
}

Residual::Residual(std::unique_ptr<Sequential> f) : Layer(f ? f->name() : ""), f_(std::move(f)) {
  PX_CHECK(f_ != nullptr, "residual: null branch");
}

Tensor Residual::forward(Ctx& ctx, const Tensor& x) {
  Tensor fx = f_->forward(child_ctx(ctx, 0, 1), x);
  PX_USER_CHECK(fx.shape() == x.shape(), "residual {}: branch output {} differs from its input {}", name_,
                shape_str(fx.shape()), shape_str(x.shape()));
  Tensor y = Tensor::empty(x.shape());
  add(y.data(), x.data(), fx.data(), x.numel());
  ctx.in_shape = x.shape();
  return y;
}

Tensor Residual::backward_input(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(ctx.children.size() == 1, "residual {}: backward_input without forward", name_);
  check_shape(dy, ctx.in_shape, "residual backward dy");
  Tensor dfx = f_->backward_input(ctx.children[0], dy);
  // dx = dy + df; add in place unless the branch handed dy itself back (an identity branch).
  if (dfx.same_storage(dy)) {
    Tensor dx = Tensor::empty(dy.shape());
    add(dx.data(), dy.data(), dfx.data(), dy.numel());
    return dx;
  }
  add_inplace(dfx.data(), dy.data(), dy.numel());
  return dfx;
}

void Residual::backward_weight(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(ctx.children.size() == 1, "residual {}: backward_weight without forward", name_);
  f_->backward_weight(ctx.children[0], dy);
}

Cost Residual::cost(const Shape& in) const {
  Cost c   = f_->cost(in);
  double n = static_cast<double>(shape_numel(in));
  c.fwd_flops += n;
  c.bwd_input_flops += n;
  c.fwd_bytes += 12.0 * n;
  c.bwd_input_bytes += 12.0 * n;
  return c;
}

}  // namespace paraxis
