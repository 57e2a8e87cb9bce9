// Layers: finite differences through the public API, float layers against the float64 reference kernels,
// accumulation, split backward, stored-activation accounting and input validation.
#include <gtest/gtest.h>

#include "nn/grad_check.h"
#include "paraxis/core/error.h"
#include "paraxis/core/rng.h"
#include "paraxis/kernels/attention.h"
#include "paraxis/kernels/layernorm.h"
#include "paraxis/nn/activation.h"
#include "paraxis/nn/attention.h"
#include "paraxis/nn/dropout.h"
#include "paraxis/nn/embedding.h"
#include "paraxis/nn/layernorm.h"
#include "paraxis/nn/linear.h"
#include "paraxis/nn/sequential.h"
#include "paraxis/nn/transformer.h"
#include "test_support/user_error.h"

using namespace paraxis;
using namespace paraxis::testing;

namespace {
// Values at least 0.1 away from 0 so a 1e-2 step never crosses ReLU's kink.
Tensor away_from_zero(const Shape& s, std::mt19937& g) {
  Tensor t = rand_tensor(s, g);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] += t.data()[i] < 0 ? -0.1f : 0.1f;
  return t;
}
Tensor random_ids(const Shape& s, int64_t vocab, std::mt19937& g) {
  Tensor t = Tensor::empty(s, DType::kI32);
  for (int64_t i = 0; i < t.numel(); ++i) t.data_i32()[i] = static_cast<int32_t>(g() % vocab);
  return t;
}
void randomise_params(Layer& l, std::mt19937& g, float scale = 0.5f) {
  for (Param* p : l.params()) p->value.copy_from(rand_tensor(p->value.shape(), g, -scale, scale));
}
// y = x W^T + b in double, for composing the attention reference.
std::vector<double> linear_d(const std::vector<double>& x, Linear& l, int64_t n) {
  int64_t in = l.in_features(), out = l.out_features();
  std::vector<double> y(n * out);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t o = 0; o < out; ++o) {
      double acc = l.bias().value.data()[o];
      for (int64_t k = 0; k < in; ++k) acc += x[i * in + k] * l.weight().value.data()[o * in + k];
      y[i * out + o] = acc;
    }
  return y;
}
std::unique_ptr<Sequential> small_mlp(int64_t c, const std::string& name) {
  auto s = std::make_unique<Sequential>(name);
  s->add(std::make_unique<Linear>(c, 2 * c, name + ".fc1"));
  s->add(std::make_unique<GELU>(name + ".gelu"));
  s->add(std::make_unique<Linear>(2 * c, c, name + ".fc2"));
  return s;
}
}  // namespace

// ---- finite differences through each float layer's public API ----

TEST(LayerFD, ReluGeluLayerNormLinear) {
  std::mt19937 g(1);
  ReLU relu("relu");
  fd_check_layer(relu, away_from_zero({3, 5, 7}, g));
  GELU gelu("gelu");
  fd_check_layer(gelu, rand_tensor({4, 9}, g, -3, 3));
  LayerNorm ln(13, "ln");
  randomise_params(ln, g);
  fd_check_layer(ln, rand_tensor({2, 3, 13}, g, -2, 2));
  Linear fc(9, 5, "fc");  // the fused-bias fast path
  randomise_params(fc, g);
  fd_check_layer(fc, rand_tensor({4, 9}, g));
}

TEST(LayerFD, EmbeddingAttentionDropout) {
  std::mt19937 g(2);
  Embedding emb(7, 6, 5);
  emb.init(1);
  fd_check_layer(emb, random_ids({2, 4}, 7, g), 2e-2, 1e-2f, 7, /*check_input=*/false);
  CausalSelfAttention attn(12, 3, "attn");
  randomise_params(attn, g);
  fd_check_layer(attn, rand_tensor({2, 5, 12}, g));
  Dropout drop(0.4f, "drop");
  drop.init(3);
  Ctx proto;
  proto.step = 5;
  fd_check_layer(drop, rand_tensor({3, 11}, g), 2e-2, 1e-2f, 7, true, proto);
}

TEST(LayerFD, Composites) {
  std::mt19937 g(3);
  auto seq = small_mlp(6, "mlp");
  randomise_params(*seq, g);
  fd_check_layer(*seq, rand_tensor({2, 3, 6}, g));
  Residual res(small_mlp(6, "res"));
  randomise_params(res, g);
  fd_check_layer(res, rand_tensor({4, 6}, g));
  TransformerBlock blk(8, 2, "blocks.0", /*dropout=*/0.2f);
  blk.init(4);
  randomise_params(blk, g, 0.3f);
  Ctx proto;
  proto.step = 2, proto.microbatch = 1;
  fd_check_layer(blk, rand_tensor({2, 5, 8}, g), 3e-2, 1e-2f, 7, true, proto);
}

// ---- float layers against the float64 reference kernels ----

TEST(LayerVsReference, LayerNorm) {
  std::mt19937 g(4);
  const int64_t n = 6, c = 19;
  LayerNorm ln(c, "ln");
  randomise_params(ln, g);
  Tensor x = rand_tensor({n, c}, g, -2, 3), dy = rand_tensor({n, c}, g);
  Ctx ctx;
  Tensor y  = ln.forward(ctx, x);
  Tensor dx = ln.backward(ctx, dy);
  auto xd = to_double(x), wd = to_double(ln.weight().value), bd = to_double(ln.bias().value),
       dyd = to_double(dy);
  std::vector<double> yd(n * c), mean(n), rstd(n), dxd(n * c), dwd(c, 0.0), dbd(c, 0.0);
  ref::layernorm_forward(yd.data(), mean.data(), rstd.data(), xd.data(), wd.data(), bd.data(), n, c, 1e-5);
  ref::layernorm_backward_input(dxd.data(), dyd.data(), xd.data(), wd.data(), mean.data(), rstd.data(), n, c);
  ref::layernorm_backward_weight(dwd.data(), dbd.data(), dyd.data(), xd.data(), mean.data(), rstd.data(), n,
                                 c);
  for (int64_t i = 0; i < n * c; ++i) {
    ASSERT_NEAR(y.data()[i], yd[i], 1e-5);
    ASSERT_NEAR(dx.data()[i], dxd[i], 1e-4);
  }
  for (int64_t j = 0; j < c; ++j) {
    ASSERT_NEAR(ln.weight().grad.data()[j], dwd[j], 1e-5);
    ASSERT_NEAR(ln.bias().grad.data()[j], dbd[j], 1e-5);
  }
}

TEST(LayerVsReference, CausalSelfAttention) {
  std::mt19937 g(5);
  const int64_t b = 2, t = 6, c = 12, nh = 4, n = b * t * c;
  CausalSelfAttention attn(c, nh, "attn");
  randomise_params(attn, g);
  Tensor x = rand_tensor({b, t, c}, g);
  Ctx ctx;
  Tensor y = attn.forward(ctx, x);
  // Reference: qkv linear, float64 attention core, proj linear.
  auto qkv = linear_d(to_double(x), attn.qkv(), b * t);
  std::vector<double> core(n), heads(3 * n), probs(b * nh * t * t);
  ref::attention_forward(core.data(), heads.data(), heads.data() + n, heads.data() + 2 * n, probs.data(),
                         qkv.data(), b, t, c, nh);
  auto yd = linear_d(core, attn.proj(), b * t);
  for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(y.data()[i], yd[i], 1e-5) << i;
}

// ---- contract: accumulation, split backward, stash accounting ----

TEST(LayerContract, TwoBackwardsAccumulateTwice) {
  std::mt19937 g(6);
  TransformerBlock blk(8, 2, "blocks.0");
  randomise_params(blk, g, 0.3f);
  Tensor x = rand_tensor({2, 4, 8}, g), dy = rand_tensor({2, 4, 8}, g);
  blk.zero_grad();
  Ctx c1;
  blk.forward(c1, x);
  blk.backward(c1, dy);
  std::vector<Tensor> once;
  for (Param* p : blk.params()) once.push_back(p->grad.clone());
  Ctx c2;
  blk.forward(c2, x);
  blk.backward(c2, dy);
  auto params = blk.params();
  // Summing into a non-zero buffer rounds differently from 2 * g, so "twice" holds to float rounding of the
  // tensor's scale (some entries, like the k bias gradient, are exactly zero in theory and tiny here).
  for (size_t i = 0; i < params.size(); ++i) {
    float scale = 0;
    for (int64_t j = 0; j < once[i].numel(); ++j) scale = std::max(scale, std::abs(once[i].data()[j]));
    for (int64_t j = 0; j < once[i].numel(); ++j)
      ASSERT_NEAR(params[i]->grad.data()[j], 2.0f * once[i].data()[j], 1e-6f * scale) << params[i]->name;
  }
}

TEST(LayerContract, SplitBackwardEqualsBackward) {
  std::mt19937 g(7);
  TransformerBlock a(8, 2, "blocks.0"), b(8, 2, "blocks.0");
  randomise_params(a, g, 0.3f);
  auto pa = a.params(), pb = b.params();
  for (size_t i = 0; i < pa.size(); ++i) pb[i]->value.copy_from(pa[i]->value);
  Tensor x = rand_tensor({3, 5, 8}, g), dy = rand_tensor({3, 5, 8}, g);
  Ctx ca, cb;
  a.forward(ca, x);
  b.forward(cb, x);
  Tensor dxa = a.backward(ca, dy);
  Tensor dxb = b.backward_input(cb, dy);
  for (Param* p : pb) EXPECT_EQ(dot(p->grad, p->grad), 0.0) << "weight pass ran early: " << p->name;
  // Between the passes each child keeps the output gradient its weight pass needs.
  EXPECT_TRUE(cb.children[0].dy.defined());
  b.backward_weight(cb, dy);
  EXPECT_FALSE(cb.children[0].dy.defined());
  EXPECT_EQ(cb.stashed_bytes(), 0);
  for (int64_t i = 0; i < dxa.numel(); ++i) ASSERT_EQ(dxa.data()[i], dxb.data()[i]);
  for (size_t i = 0; i < pa.size(); ++i)
    for (int64_t j = 0; j < pa[i]->grad.numel(); ++j) ASSERT_EQ(pa[i]->grad.data()[j], pb[i]->grad.data()[j]);
}

TEST(LayerContract, CostMatchesWhatForwardStores) {
  std::mt19937 g(8);
  std::vector<std::unique_ptr<Layer>> layers;
  layers.push_back(std::make_unique<GELU>("gelu"));
  layers.push_back(std::make_unique<ReLU>("relu"));
  layers.push_back(std::make_unique<LayerNorm>(8, "ln"));
  layers.push_back(std::make_unique<CausalSelfAttention>(8, 2, "attn"));
  layers.push_back(std::make_unique<TransformerBlock>(8, 2, "blocks.0"));
  layers.push_back(std::make_unique<Dropout>(0.5f, "drop"));
  for (auto& l : layers) {
    Tensor x = rand_tensor({3, 7, 8}, g);
    Ctx ctx;
    Tensor y = l->forward(ctx, x);
    EXPECT_EQ(y.shape(), l->output_shape(x.shape()));
    EXPECT_EQ(ctx.stashed_bytes(), l->cost(x.shape()).activation_bytes) << l->kind();
    EXPECT_GT(l->cost(x.shape()).fwd_flops, 0) << l->kind();
  }
  Embedding emb(5, 8, 4);
  Ctx ctx;
  Tensor ids = random_ids({2, 6}, 5, g);
  emb.forward(ctx, ids);
  EXPECT_EQ(ctx.stashed_bytes(), emb.cost(ids.shape()).activation_bytes);
  EXPECT_EQ(emb.cost(ids.shape()).param_bytes, 4 * (5 + 8) * 4);
}

TEST(LayerContract, DropoutMaskIsKeyedOnNameStepAndMicrobatch) {
  std::mt19937 g(9);
  Tensor x = rand_tensor({64}, g);
  Dropout a(0.5f, "blocks.0.attn.drop"), b(0.5f, "blocks.0.attn.drop"), other(0.5f, "blocks.1.attn.drop");
  a.init(1), b.init(1), other.init(1);
  auto run = [&](Dropout& d, uint64_t step, uint64_t mb, bool training = true) {
    Ctx c;
    c.step = step, c.microbatch = mb, c.training = training;
    return d.forward(c, x).to_vector();
  };
  EXPECT_EQ(run(a, 3, 1), run(b, 3, 1));  // a rerun or another device reproduces the mask
  EXPECT_NE(run(a, 3, 1), run(a, 4, 1));
  EXPECT_NE(run(a, 3, 1), run(a, 3, 2));
  EXPECT_NE(run(a, 3, 1), run(other, 3, 1));
  EXPECT_EQ(run(a, 3, 1, /*training=*/false), x.to_vector());
  Dropout none(0.0f, "none");
  Ctx c;
  EXPECT_TRUE(none.forward(c, x).same_storage(x));
}

TEST(LayerContract, InputValidation) {
  std::mt19937 g(10);
  LayerNorm ln(8, "ln");
  Ctx c;
  expect_user_error([&] { ln.forward(c, rand_tensor({2, 7}, g)); }, "ending in 8 features");
  CausalSelfAttention attn(8, 2, "attn");
  expect_user_error([&] { attn.forward(c, rand_tensor({2, 8}, g)); }, "(B, T, 8)");
  expect_user_error([] { CausalSelfAttention bad(10, 4, "attn"); }, "not divisible by 4 heads");
  Embedding emb(5, 4, 3);
  expect_user_error([&] { emb.forward(c, Tensor::from_ints({1, 2}, {1, 5})); }, "outside [0, 5)");
  expect_user_error([&] { emb.forward(c, random_ids({1, 5}, 5, g)); }, "context 4");
  expect_user_error([&] { emb.forward(c, rand_tensor({1, 2}, g)); }, "int32 token ids");
  expect_user_error([] { Dropout d(1.0f, "drop"); }, "must be in [0, 1)");
}

// Deferred weight gradients: four micro-batches kept and flushed as one GEMM give the gradient that four
// immediate backward_weight calls accumulate (to fp32 rounding), and nothing reaches grad before the flush.
TEST(LinearDeferredWeightGrads, FlushEqualsImmediateAccumulation) {
  Linear now(6, 5, "fc"), later(6, 5, "fc");
  now.init(3), later.init(3);
  ASSERT_TRUE(later.defer_weight_grads(true));
  Philox r(9, 1);
  for (int j = 0; j < 4; ++j) {
    Tensor x = Tensor::empty({3, 6}), dy = Tensor::empty({3, 5});
    rng_fill_uniform(x, -1, 1, r);
    rng_fill_uniform(dy, -1, 1, r);
    Ctx a, b;
    now.forward(a, x), later.forward(b, x);
    now.backward_weight(a, dy), later.backward_weight(b, dy);
  }
  EXPECT_EQ(later.deferred_bytes(), 4 * (3 * 6 + 3 * 5) * 4);
  for (int64_t i = 0; i < later.weight().grad.numel(); ++i) EXPECT_EQ(later.weight().grad.data()[i], 0.0f);
  later.flush_weight_grads();
  EXPECT_EQ(later.deferred_bytes(), 0);
  for (int64_t i = 0; i < now.weight().grad.numel(); ++i)
    EXPECT_NEAR(later.weight().grad.data()[i], now.weight().grad.data()[i], 1e-5f) << i;
  for (int64_t i = 0; i < now.bias().grad.numel(); ++i)
    EXPECT_NEAR(later.bias().grad.data()[i], now.bias().grad.data()[i], 1e-5f) << i;
}
