#include "paraxis/nn/embedding.h"

#include "paraxis/core/error.h"
#include "paraxis/kernels/embedding.h"

namespace paraxis {

Embedding::Embedding(int64_t vocab, int64_t context, int64_t width, std::string name)
    : Layer(std::move(name)), vocab_(vocab), context_(context), width_(width) {
  PX_USER_CHECK(vocab > 0 && context > 0 && width > 0,
                "embedding {}: sizes must be positive, got vocab={} context={} width={}", name_, vocab,
                context, width);
  wte_ = make_param("wte.weight", {vocab_, width_});
  wpe_ = make_param("wpe.weight", {context_, width_});
}

void Embedding::init(uint64_t seed) {
  init_param_normal(wte_, 0.0f, 0.02f, seed);
  init_param_normal(wpe_, 0.0f, 0.02f, seed);
}

void Embedding::collect_params(std::vector<Param*>& out) {
  out.push_back(&wte_);
  out.push_back(&wpe_);
}

Shape Embedding::output_shape(const Shape& in) const {
  Shape s = in;
  s.push_back(width_);
  return s;
}

Tensor Embedding::forward(Ctx& ctx, const Tensor& ids) {
  PX_USER_CHECK(ids.defined() && ids.dtype() == DType::kI32 && ids.ndim() == 2,
                "embedding {}: input must be (B, T) int32 token ids, got {} {}", name_,
                ids.defined() ? dtype_name(ids.dtype()) : "undefined", shape_str(ids.shape()));
  int64_t b = ids.dim(0), t = ids.dim(1);
  PX_USER_CHECK(t >= 1 && t <= context_,
                "embedding {}: sequence length {} must be between 1 and the context {}; use T <= {}", name_,
                t, context_, context_);
  const int32_t* id = ids.data_i32();
  for (int64_t i = 0; i < b * t; ++i)
    PX_USER_CHECK(id[i] >= 0 && id[i] < vocab_, "embedding {}: token id {} at position {} is outside [0, {})",
                  name_, id[i], i, vocab_);
  Tensor y = Tensor::empty({b, t, width_});
  embedding_forward(y.data(), id, wte_.value.data(), wpe_.value.data(), b, t, width_);
  ctx.in_shape = ids.shape();
  ctx.saved    = {ids};
  return y;
}

Tensor Embedding::backward_input(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(!ctx.saved.empty(), "embedding {}: backward_input without forward", name_);
  check_shape(dy, output_shape(ctx.in_shape), "embedding backward dy");
  return Tensor();  // token ids have no gradient
}

void Embedding::backward_weight(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(!ctx.saved.empty(), "embedding {}: backward_weight without forward", name_);
  check_shape(dy, output_shape(ctx.in_shape), "embedding backward dy");
  const Tensor& ids = ctx.saved[0];
  embedding_backward_weight(wte_.grad.data(), wpe_.grad.data(), dy.data(), ids.data_i32(), ids.dim(0),
                            ids.dim(1), width_);
  ctx.saved.clear();
}

Cost embedding_cost(const Shape& in, int64_t table_rows, int64_t context, int64_t width) {
  double bt = static_cast<double>(shape_numel(in)), btc = bt * width;
  Cost c;
  c.fwd_flops        = btc;
  c.bwd_weight_flops = 2.0 * btc;
  c.fwd_bytes        = 4.0 * (bt + 3.0 * btc);
  c.bwd_weight_bytes = 4.0 * (bt + 5.0 * btc);
  c.param_bytes      = 4 * (table_rows + context) * width;
  c.activation_bytes = static_cast<int64_t>(4.0 * bt);  // the token ids
  return c;
}

Cost Embedding::cost(const Shape& in) const {
  return embedding_cost(in, vocab_, context_, width_);
}

}  // namespace paraxis
