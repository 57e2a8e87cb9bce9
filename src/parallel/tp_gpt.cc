// GPT under tensor parallelism: vocab-parallel embedding, head-parallel attention, the parallel block.
#include <cstring>

#include "nn/child_ctx.h"
#include "paraxis/comm/communicator.h"
#include "paraxis/core/error.h"
#include "paraxis/kernels/attention.h"
#include "paraxis/nn/attention.h"
#include "paraxis/nn/dropout.h"
#include "paraxis/nn/embedding.h"
#include "paraxis/nn/layernorm.h"
#include "paraxis/nn/linear.h"
#include "paraxis/nn/transformer.h"
#include "paraxis/parallel/tensor_parallel.h"

namespace paraxis {

namespace {

// wte rows [v0, v0 + V/tp) on this rank; wpe whole on every rank.
class VocabParallelEmbedding : public Layer {
 public:
  VocabParallelEmbedding(int64_t vocab, int64_t context, int64_t width, const TpInfo& tp)
      : Layer("embed"), vocab_(vocab), context_(context), width_(width), tp_(tp) {
    PX_USER_CHECK(vocab > 0 && context > 0 && width > 0 && vocab % tp.size == 0,
                  "embedding: vocab {} (must be positive and divisible by --tp {}), context {}, width {}",
                  vocab, tp.size, context, width);
    local_ = vocab / tp.size;
    v0_    = tp.rank * local_;
    wte_   = make_param("wte.weight", {local_, width});
    mark_shard(wte_, {vocab, width}, 0, v0_);
    wpe_ = make_param("wpe.weight", {context, width});
  }
  const char* kind() const override { return "embedding"; }

  Tensor forward(Ctx& ctx, const Tensor& ids) override {
    PX_USER_CHECK(ids.defined() && ids.dtype() == DType::kI32 && ids.ndim() == 2,
                  "embedding {}: input must be (B, T) int32 token ids, got {}", name_,
                  shape_str(ids.shape()));
    const int64_t b = ids.dim(0), t = ids.dim(1);
    PX_USER_CHECK(t >= 1 && t <= context_,
                  "embedding {}: sequence length {} must be between 1 and the context {}; use T <= {}", name_,
                  t, context_, context_);
    const int32_t* id = ids.data_i32();
    for (int64_t i = 0; i < b * t; ++i)
      PX_USER_CHECK(id[i] >= 0 && id[i] < vocab_,
                    "embedding {}: token id {} at position {} is outside [0, {})", name_, id[i], i, vocab_);
    Tensor y        = Tensor::empty({b, t, width_});  // (B, T, C)
    float* yp       = y.data();
    const float* wp = wte_.value.data();
    // Rows of tokens outside this rank's range are zero; the all-reduce fills them from their owner.
    for (int64_t i = 0; i < b * t; ++i) {
      int64_t local = id[i] - v0_;
      if (local >= 0 && local < local_)
        std::memcpy(yp + i * width_, wp + local * width_, width_ * sizeof(float));
      else
        std::memset(yp + i * width_, 0, width_ * sizeof(float));
    }
    reduce_from_region_forward(tp_, y);
    const float* pp = wpe_.value.data();
    for (int64_t i = 0; i < b * t; ++i) {
      const float* pos = pp + (i % t) * width_;
      float* row       = yp + i * width_;
      for (int64_t c = 0; c < width_; ++c) row[c] += pos[c];
    }
    ctx.in_shape = ids.shape();
    ctx.saved    = {ids};
    return y;
  }

  Tensor backward_input(Ctx& ctx, const Tensor& dy) override {
    PX_CHECK(!ctx.saved.empty(), "embedding {}: backward_input without forward", name_);
    check_shape(dy, output_shape(ctx.in_shape), "embedding backward dy");
    return Tensor();  // token ids have no gradient
  }

  void backward_weight(Ctx& ctx, const Tensor& dy) override {
    PX_CHECK(!ctx.saved.empty(), "embedding {}: backward_weight without forward", name_);
    const Tensor& ids = ctx.saved[0];
    const int64_t n = ids.numel(), t = ids.dim(1);
    const int32_t* id = ids.data_i32();
    const float* d    = dy.data();
    float* dwte       = wte_.grad.data();
    float* dwpe       = wpe_.grad.data();
    for (int64_t i = 0; i < n; ++i) {
      const float* row = d + i * width_;
      float* pos       = dwpe + (i % t) * width_;
      for (int64_t c = 0; c < width_; ++c) pos[c] += row[c];
      int64_t local = id[i] - v0_;
      if (local >= 0 && local < local_) {
        float* w = dwte + local * width_;
        for (int64_t c = 0; c < width_; ++c) w[c] += row[c];
      }
    }
    ctx.saved.clear();
  }

  Shape output_shape(const Shape& in) const override {
    Shape s = in;
    s.push_back(width_);
    return s;
  }
  Cost cost(const Shape& in) const override { return embedding_cost(in, local_, context_, width_); }
  void collect_params(std::vector<Param*>& out) override {
    out.push_back(&wte_);
    out.push_back(&wpe_);
  }
  void init(uint64_t seed) override {
    init_param_normal(wte_, 0.0f, 0.02f, seed);
    init_param_normal(wpe_, 0.0f, 0.02f, seed);
  }

 private:
  int64_t vocab_, context_, width_, local_ = 0, v0_ = 0;
  TpInfo tp_;
  Param wte_, wpe_;
};

// NH / tp heads on this rank: qkv column-parallel with three groups (q, k, v each split by heads), the
// attention core on the local heads, proj row-parallel. One all-reduce forward (proj), one backward (qkv).
class ParallelSelfAttention : public Layer {
 public:
  ParallelSelfAttention(int64_t width, int64_t heads, std::string name, const TpInfo& tp)
      : Layer(std::move(name)), local_width_(width / tp.size), local_heads_(heads / tp.size) {
    PX_USER_CHECK(heads > 0 && width % heads == 0 && heads % tp.size == 0,
                  "attention {}: width {}, {} heads, --tp {}: heads must divide the width and tp the heads",
                  name_, width, heads, tp.size);
    qkv_ = column_parallel_linear(width, 3 * width, join_name(name_, "qkv"), tp, TpInit::kNormal002, true, 3);
    proj_ = row_parallel_linear(width, width, join_name(name_, "proj"), tp, TpInit::kNormal002, true);
  }
  const char* kind() const override { return "causal_self_attention"; }

  Tensor forward(Ctx& ctx, const Tensor& x) override {
    PX_USER_CHECK(x.defined() && x.dtype() == DType::kF32 && x.ndim() == 3,
                  "attention {}: input must be F32 (B, T, C), got {}", name_,
                  x.defined() ? shape_str(x.shape()) : "undefined");
    const int64_t b = x.dim(0), t = x.dim(1), c = local_width_, nh = local_heads_;
    Tensor qkv  = qkv_->forward(child_ctx(ctx, 0, 2), x);  // (B, T, 3C/tp): q | k | v of my heads
    Tensor lse  = Tensor::empty({b * nh, t});              // (B*NH/tp, T)
    Tensor core = Tensor::empty({b, t, c});                // (B, T, C/tp)
    attention_forward(core.data(), lse.data(), qkv.data(), b, t, c, nh);  // the same fused kernel
    ctx.in_shape = x.shape();
    ctx.saved    = {qkv, core, lse};
    return proj_->forward(child_ctx(ctx, 1, 2), core);
  }

  Tensor backward_input(Ctx& ctx, const Tensor& dy) override {
    PX_CHECK(ctx.saved.size() == 3 && ctx.children.size() == 2,
             "attention {}: backward_input without forward", name_);
    const int64_t b = ctx.in_shape[0], t = ctx.in_shape[1], c = local_width_;
    ctx.children[1].dy = dy;
    Tensor dcore       = proj_->backward_input(ctx.children[1], dy);  // (B, T, C/tp)
    Tensor dqkv        = Tensor::empty({b, t, 3 * c});                // (B, T, 3C/tp)
    attention_backward(dqkv.data(), dcore.data(), ctx.saved[0].data(), ctx.saved[1].data(),
                       ctx.saved[2].data(), b, t, c, local_heads_);
    ctx.saved.clear();
    ctx.children[0].dy = dqkv;
    return qkv_->backward_input(ctx.children[0], dqkv);  // all-reduced: x was replicated
  }

  void backward_weight(Ctx& ctx, const Tensor& /*dy*/) override {
    PX_CHECK(ctx.children.size() == 2 && ctx.children[0].dy.defined(),
             "attention {}: backward_weight before backward_input", name_);
    proj_->backward_weight(ctx.children[1], ctx.children[1].dy);
    qkv_->backward_weight(ctx.children[0], ctx.children[0].dy);
    ctx.children[0].dy = Tensor();
    ctx.children[1].dy = Tensor();
  }

  Shape output_shape(const Shape& in) const override { return in; }
  Cost cost(const Shape& in) const override {
    Cost c = qkv_->cost(in);
    c += attention_core_cost(in, local_width_, local_heads_);
    Shape core  = in;
    core.back() = local_width_;
    c += proj_->cost(core);
    return c;
  }
  void collect_params(std::vector<Param*>& out) override {
    qkv_->collect_params(out);
    proj_->collect_params(out);
  }
  void init(uint64_t seed) override {
    qkv_->init(seed);
    proj_->init(seed);
  }

 private:
  int64_t local_width_, local_heads_;
  std::unique_ptr<Layer> qkv_, proj_;
};

// The same fused block as the single device's, with split attention and MLP: LayerNorms replicated, fc1
// column-parallel ending in its GELU (elementwise, so each rank applies it to its own columns), fc2
// row-parallel.
BlockParts parallel_block_parts(int64_t width, int64_t heads, const std::string& name, float dropout,
                                const TpInfo& tp) {
  BlockParts p;
  p.ln1  = std::make_unique<LayerNorm>(width, join_name(name, "ln1"));
  p.attn = std::make_unique<ParallelSelfAttention>(width, heads, join_name(name, "attn"), tp);
  p.ln2  = std::make_unique<LayerNorm>(width, join_name(name, "ln2"));
  p.fc1  = column_parallel_linear(width, 4 * width, join_name(name, "mlp.fc1"), tp, TpInit::kNormal002);
  dynamic_cast<Linear&>(static_cast<ColumnParallel&>(*p.fc1).local()).fuse_gelu();
  p.fc2 = row_parallel_linear(4 * width, width, join_name(name, "mlp.fc2"), tp, TpInit::kNormal002);
  if (dropout > 0.0f) {
    p.attn_drop = std::make_unique<Dropout>(dropout, join_name(name, "attn.drop"));
    p.mlp_drop  = std::make_unique<Dropout>(dropout, join_name(name, "mlp.drop"));
  }
  return p;
}

}  // namespace

std::unique_ptr<Layer> vocab_parallel_embedding(int64_t vocab, int64_t context, int64_t width,
                                                const TpInfo& tp) {
  return std::make_unique<VocabParallelEmbedding>(vocab, context, width, tp);
}

std::unique_ptr<Layer> parallel_self_attention(int64_t width, int64_t heads, const std::string& name,
                                               const TpInfo& tp) {
  return std::make_unique<ParallelSelfAttention>(width, heads, name, tp);
}

std::unique_ptr<Layer> parallel_transformer_block(int64_t width, int64_t heads, const std::string& name,
                                                  float dropout, const TpInfo& tp) {
  return std::make_unique<TransformerBlock>(name, parallel_block_parts(width, heads, name, dropout, tp));
}

}  // namespace paraxis
