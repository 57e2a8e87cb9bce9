#include "paraxis/nn/transformer.h"

#include <optional>

#include "nn/child_ctx.h"
#include "paraxis/core/error.h"
#include "paraxis/kernels/elementwise.h"
#include "paraxis/kernels/fused.h"
#include "paraxis/nn/attention.h"

namespace paraxis {

namespace {
// Children of the block's ctx, in the order of parts().
enum Part : size_t { kLn1, kAttn, kAttnDrop, kLn2, kFc1, kFc2, kMlpDrop, kParts };

BlockParts single_device_parts(int64_t width, int64_t heads, const std::string& name, float dropout) {
  BlockParts p;
  p.ln1    = std::make_unique<LayerNorm>(width, join_name(name, "ln1"));
  p.attn   = std::make_unique<CausalSelfAttention>(width, heads, join_name(name, "attn"));
  p.ln2    = std::make_unique<LayerNorm>(width, join_name(name, "ln2"));
  auto fc1 = std::make_unique<NormalInitLinear>(width, 4 * width, join_name(name, "mlp.fc1"));
  fc1->fuse_gelu();
  p.fc1 = std::move(fc1);
  p.fc2 = std::make_unique<NormalInitLinear>(4 * width, width, join_name(name, "mlp.fc2"));
  if (dropout > 0.0f) {
    p.attn_drop = std::make_unique<Dropout>(dropout, join_name(name, "attn.drop"));
    p.mlp_drop  = std::make_unique<Dropout>(dropout, join_name(name, "mlp.drop"));
  }
  return p;
}

// The dropout of a branch for this ctx (the rng lives in `rng`, which must outlive the mask).
DropoutMask mask_of(const Dropout* d, const Ctx& c, std::optional<Philox>& rng) {
  if (!d || !c.training || d->p() == 0.0f) return {};
  rng.emplace(d->mask_rng(c));
  return {d->p(), &*rng};
}

// dy through a branch's dropout: the same mask regenerated (dropout's backward), or dy itself.
Tensor through_dropout(const Dropout* d, const Ctx& c, const Tensor& dy) {
  std::optional<Philox> rng;
  DropoutMask m = mask_of(d, c, rng);
  if (!m.active()) return dy;
  Tensor dx = Tensor::empty(dy.shape());
  dropout_backward(dx.data(), dy.data(), dy.numel(), m.p, *m.rng);
  return dx;
}
}  // namespace

TransformerBlock::TransformerBlock(int64_t width, int64_t heads, std::string name, float dropout)
    : TransformerBlock(name, single_device_parts(width, heads, name, dropout)) {}

TransformerBlock::TransformerBlock(std::string name, BlockParts parts)
    : Layer(std::move(name)), p_(std::move(parts)) {
  PX_CHECK(p_.ln1 && p_.attn && p_.ln2 && p_.fc1 && p_.fc2, "transformer block {}: a part is missing", name_);
}

std::vector<Layer*> TransformerBlock::parts() const {
  return {p_.ln1.get(), p_.attn.get(), p_.attn_drop.get(), p_.ln2.get(),
          p_.fc1.get(), p_.fc2.get(),  p_.mlp_drop.get()};
}

Tensor TransformerBlock::forward(Ctx& ctx, const Tensor& x) {
  auto c    = [&](Part i) -> Ctx& { return child_ctx(ctx, i, kParts); };
  Tensor a1 = p_.ln1->forward(c(kLn1), x);
  Tensor f1 = p_.attn->forward(c(kAttn), a1);
  std::optional<Philox> rng1, rng2;
  c(kAttnDrop).in_shape = f1.shape();
  Tensor h1;  // x + drop(attn): the second residual's input
  Tensor a2 = p_.ln2->forward_residual(c(kLn2), x, f1, mask_of(p_.attn_drop.get(), c(kAttnDrop), rng1), h1);
  Tensor g  = p_.fc1->forward(c(kFc1), a2);
  Tensor f2 = p_.fc2->forward(c(kFc2), g);
  check_shape(f2, x.shape(), "transformer block mlp output");
  c(kMlpDrop).in_shape = f2.shape();
  Tensor y             = Tensor::empty(x.shape());
  residual_dropout_add(y.data(), h1.data(), f2.data(), y.numel(),
                       mask_of(p_.mlp_drop.get(), c(kMlpDrop), rng2));
  ctx.in_shape = x.shape();
  return y;
}

Tensor TransformerBlock::backward_input(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(ctx.children.size() == kParts, "transformer block {}: backward_input without forward", name_);
  check_shape(dy, ctx.in_shape, "transformer block backward dy");
  auto& ch = ctx.children;
  // Each child keeps the output gradient its weight pass needs (zero-bubble schedules run that pass later).
  ch[kFc2].dy  = through_dropout(p_.mlp_drop.get(), ch[kMlpDrop], dy);
  ch[kFc1].dy  = p_.fc2->backward_input(ch[kFc2], ch[kFc2].dy);
  ch[kLn2].dy  = p_.fc1->backward_input(ch[kFc1], ch[kFc1].dy);
  Tensor dh1   = p_.ln2->backward_input_residual(ch[kLn2], ch[kLn2].dy, dy);  // dy + ln2'(·)
  ch[kAttn].dy = through_dropout(p_.attn_drop.get(), ch[kAttnDrop], dh1);
  ch[kLn1].dy  = p_.attn->backward_input(ch[kAttn], ch[kAttn].dy);
  return p_.ln1->backward_input_residual(ch[kLn1], ch[kLn1].dy, dh1);  // dh1 + ln1'(·)
}

void TransformerBlock::backward_weight(Ctx& ctx, const Tensor& /*dy*/) {
  PX_CHECK(ctx.children.size() == kParts, "transformer block {}: backward_weight without forward", name_);
  auto layers = parts();
  for (size_t i = kParts; i-- > 0;) {
    Ctx& c = ctx.children[i];
    if (!layers[i] || i == kAttnDrop || i == kMlpDrop) continue;  // dropout has no weight pass
    PX_CHECK(c.dy.defined(), "transformer block {}: backward_weight before backward_input ({})", name_,
             layers[i]->name());
    layers[i]->backward_weight(c, c.dy);
    c.dy = Tensor();
  }
}

// The unfused composition's figures (so the cost model and the GFLOP/s count the same work): the parts plus
// the two residual adds.
Cost TransformerBlock::cost(const Shape& in) const {
  Cost total;
  for (Layer* l : parts())
    if (l) total += l->cost(l == p_.fc2.get() ? p_.fc1->output_shape(in) : in);
  const double n = static_cast<double>(shape_numel(in));
  total.fwd_flops += 2.0 * n;
  total.bwd_input_flops += 2.0 * n;
  total.fwd_bytes += 24.0 * n;
  total.bwd_input_bytes += 24.0 * n;
  return total;
}

void TransformerBlock::collect_params(std::vector<Param*>& out) {
  for (Layer* l : parts())
    if (l) l->collect_params(out);
}

void TransformerBlock::collect_layers(std::vector<Layer*>& out) {
  for (Layer* l : parts())
    if (l) l->collect_layers(out);
}

void TransformerBlock::init(uint64_t seed) {
  for (Layer* l : parts())
    if (l) l->init(seed);
}

}  // namespace paraxis
