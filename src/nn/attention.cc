#include "paraxis/nn/attention.h"

#include "nn/child_ctx.h"
#include "paraxis/core/error.h"
#include "paraxis/kernels/attention.h"

namespace paraxis {

namespace {
void init_normal_linear(Linear& l, uint64_t seed, float stddev) {
  init_param_normal(l.weight(), 0.0f, stddev, seed);
  if (l.bias().value.defined()) l.bias().value.zero_();
}
}  // namespace

void NormalInitLinear::init(uint64_t seed) {
  init_normal_linear(*this, seed, stddev_);
}

CausalSelfAttention::CausalSelfAttention(int64_t width, int64_t heads, std::string name)
    : Layer(std::move(name)),
      width_(width),
      heads_(heads),
      qkv_(width, 3 * width, join_name(name_, "qkv")),
      proj_(width, width, join_name(name_, "proj")) {
  PX_USER_CHECK(
      heads > 0 && width % heads == 0,
      "attention {}: width {} is not divisible by {} heads; use a head count dividing {} (e.g. 1 or {})",
      name_, width, heads, width, width);
}

void CausalSelfAttention::init(uint64_t seed) {
  init_normal_linear(qkv_, seed, 0.02f);
  init_normal_linear(proj_, seed, 0.02f);
}

void CausalSelfAttention::collect_params(std::vector<Param*>& out) {
  qkv_.collect_params(out);
  proj_.collect_params(out);
}

Tensor CausalSelfAttention::forward(Ctx& ctx, const Tensor& x) {
  PX_USER_CHECK(x.defined() && x.dtype() == DType::kF32 && x.ndim() == 3 && x.dim(2) == width_,
                "attention {}: input must be F32 (B, T, {}), got {}", name_, width_,
                x.defined() ? shape_str(x.shape()) : "undefined");
  int64_t b = x.dim(0), t = x.dim(1);
  Tensor qkv  = qkv_.forward(child_ctx(ctx, 0, 2), x);  // (B, T, 3C)
  Tensor lse  = Tensor::empty({b * heads_, t});         // (B*NH, T)
  Tensor core = Tensor::empty({b, t, width_});          // (B, T, C)
  attention_forward(core.data(), lse.data(), qkv.data(), b, t, width_, heads_);
  ctx.in_shape = x.shape();
  ctx.saved    = {qkv, core, lse};  // core is also proj's stashed input: stored once
  return proj_.forward(child_ctx(ctx, 1, 2), core);
}

Tensor CausalSelfAttention::backward_input(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(ctx.saved.size() == 3 && ctx.children.size() == 2, "attention {}: backward_input without forward",
           name_);
  check_shape(dy, ctx.in_shape, "attention backward dy");
  int64_t b = ctx.in_shape[0], t = ctx.in_shape[1];
  ctx.children[1].dy = dy;
  Tensor dcore       = proj_.backward_input(ctx.children[1], dy);  // (B, T, C)
  Tensor dqkv        = Tensor::empty({b, t, 3 * width_});          // (B, T, 3C)
  attention_backward(dqkv.data(), dcore.data(), ctx.saved[0].data(), ctx.saved[1].data(), ctx.saved[2].data(),
                     b, t, width_, heads_);
  ctx.saved.clear();  // the weight pass needs only the linears' inputs
  ctx.children[0].dy = dqkv;
  return qkv_.backward_input(ctx.children[0], dqkv);
}

void CausalSelfAttention::backward_weight(Ctx& ctx, const Tensor& /*dy*/) {
  PX_CHECK(ctx.children.size() == 2 && ctx.children[0].dy.defined(),
           "attention {}: backward_weight before backward_input", name_);
  proj_.backward_weight(ctx.children[1], ctx.children[1].dy);
  qkv_.backward_weight(ctx.children[0], ctx.children[0].dy);
  ctx.children[0].dy = Tensor();
  ctx.children[1].dy = Tensor();
}

Cost CausalSelfAttention::core_cost(const Shape& in) const {
  return attention_core_cost(in, width_, heads_);
}

Cost attention_core_cost(const Shape& in, int64_t width, int64_t heads) {
  const double b = static_cast<double>(in[0]), t = static_cast<double>(in[1]), c = static_cast<double>(width);
  const double hd = c / static_cast<double>(heads), rows = b * heads * t;
  // Score entries the fused kernels compute: whole 64 x 64 blocks, those above the diagonal skipped.
  const double scores = b * heads * attention_block_entries(in[1]);
  Cost k;
  k.fwd_flops       = 4.0 * hd * scores + 5.0 * scores;          // S = q k^T, P v; online softmax
  k.bwd_input_flops = 10.0 * hd * scores + 6.0 * scores;         // S again, dV, dP, dQ, dK; P and dS
  k.fwd_bytes       = 4.0 * (3 * b * t * c + b * t * c + rows);  // qkv in; out, lse out
  k.bwd_input_bytes = 4.0 * (3 * b * t * c + 2 * b * t * c + rows + 3 * b * t * c);  // + out, dout; dqkv
  // qkv and lse; the output is proj's stashed input and counted there.
  k.activation_bytes = static_cast<int64_t>(4.0 * (3 * b * t * c + rows));
  return k;
}

Cost CausalSelfAttention::cost(const Shape& in) const {
  Cost c = qkv_.cost(in);
  c += core_cost(in);
  c += proj_.cost(in);
  return c;
}

}  // namespace paraxis
