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
  int64_t b = x.dim(0), t = x.dim(1), hd = width_ / heads_;
  Tensor qkv   = qkv_.forward(child_ctx(ctx, 0, 2), x);  // (B, T, 3C)
  Tensor heads = Tensor::empty({3, b * heads_, t, hd});  // q, k, v (B*NH, T, hd)
  Tensor probs = Tensor::empty({b * heads_, t, t});      // (B*NH, T, T)
  Tensor core  = Tensor::empty({b, t, width_});          // (B, T, C)
  float* q     = heads.data();
  int64_t n    = b * t * width_;
  attention_forward(core.data(), q, q + n, q + 2 * n, probs.data(), qkv.data(), b, t, width_, heads_);
  ctx.in_shape = x.shape();
  ctx.saved    = {heads, probs};
  return proj_.forward(child_ctx(ctx, 1, 2), core);
}

Tensor CausalSelfAttention::backward_input(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(ctx.saved.size() == 2 && ctx.children.size() == 2, "attention {}: backward_input without forward",
           name_);
  check_shape(dy, ctx.in_shape, "attention backward dy");
  int64_t b = ctx.in_shape[0], t = ctx.in_shape[1], n = b * t * width_;
  ctx.children[1].dy = dy;
  Tensor dcore       = proj_.backward_input(ctx.children[1], dy);  // (B, T, C)
  Tensor dqkv        = Tensor::empty({b, t, 3 * width_});          // (B, T, 3C)
  const float* q     = ctx.saved[0].data();
  attention_backward(dqkv.data(), dcore.data(), q, q + n, q + 2 * n, ctx.saved[1].data(), b, t, width_,
                     heads_);
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
  double b = static_cast<double>(in[0]), t = static_cast<double>(in[1]), c = static_cast<double>(width);
  double scores = b * heads * t * t;  // entries of the (B*NH, T, T) score matrices
  Cost k;
  // The products run over the full T x T square (oneDNN), so the masked half is counted as work done.
  k.fwd_flops        = 4.0 * b * t * t * c + 5.0 * scores;  // q k^T, P v; scaled softmax
  k.bwd_input_flops  = 8.0 * b * t * t * c + 4.0 * scores;  // dP, dV, dQ, dK; softmax backward
  k.fwd_bytes        = 4.0 * (3 * b * t * c * 3 + 3 * scores + 3 * b * t * c);
  k.bwd_input_bytes  = 4.0 * (4 * b * t * c * 3 + 4 * scores);
  k.activation_bytes = static_cast<int64_t>(4.0 * (3 * b * t * c + scores));  // q, k, v heads and P
  return k;
}

Cost CausalSelfAttention::cost(const Shape& in) const {
  Cost c = qkv_.cost(in);
  c += core_cost(in);
  c += proj_.cost(in);
  return c;
}

}  // namespace paraxis
