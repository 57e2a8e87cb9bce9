// The fused GPT block (nn/transformer.h) and fc1's fused GELU against the unfused composition they replace —
// Residual branches of LayerNorm, attention, Linear, GELU, Linear and Dropout, each layer its own passes — with
// the same parameters: output, input gradient and every parameter gradient, with and without dropout (the
// same masks), on odd sizes; and the GELU epilogue also with deferred weight gradients.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "nn/grad_check.h"
#include "paraxis/nn/activation.h"
#include "paraxis/nn/attention.h"
#include "paraxis/nn/dropout.h"
#include "paraxis/nn/layernorm.h"
#include "paraxis/nn/sequential.h"
#include "paraxis/nn/transformer.h"

using namespace paraxis;
using namespace paraxis::testing;

namespace {

void randomise_params(Layer& l, std::mt19937& g, float scale) {
  for (Param* p : l.params()) p->value.copy_from(rand_tensor(p->value.shape(), g, -scale, scale));
}

// The block as it was composed before the fusion: the oracle.
std::unique_ptr<Sequential> unfused_block(int64_t c, int64_t nh, const std::string& name, float dropout) {
  auto blk  = std::make_unique<Sequential>(name);
  auto attn = std::make_unique<Sequential>(join_name(name, "attn"));
  attn->add(std::make_unique<LayerNorm>(c, join_name(name, "ln1")));
  attn->add(std::make_unique<CausalSelfAttention>(c, nh, join_name(name, "attn")));
  if (dropout > 0) attn->add(std::make_unique<Dropout>(dropout, join_name(name, "attn.drop")));
  blk->add(std::make_unique<Residual>(std::move(attn)));
  auto mlp = std::make_unique<Sequential>(join_name(name, "mlp"));
  mlp->add(std::make_unique<LayerNorm>(c, join_name(name, "ln2")));
  mlp->add(std::make_unique<NormalInitLinear>(c, 4 * c, join_name(name, "mlp.fc1")));
  mlp->add(std::make_unique<GELU>(join_name(name, "mlp.gelu")));
  mlp->add(std::make_unique<NormalInitLinear>(4 * c, c, join_name(name, "mlp.fc2")));
  if (dropout > 0) mlp->add(std::make_unique<Dropout>(dropout, join_name(name, "mlp.drop")));
  blk->add(std::make_unique<Residual>(std::move(mlp)));
  return blk;
}

void copy_params(Layer& from, Layer& to) {
  auto a = from.params(), b = to.params();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i]->name, b[i]->name);
    b[i]->value.copy_from(a[i]->value);
  }
}

void expect_close(const Tensor& got, const Tensor& want, double rtol, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  double scale = 0;
  for (int64_t i = 0; i < want.numel(); ++i) scale = std::max(scale, std::abs(double{want.data()[i]}));
  for (int64_t i = 0; i < want.numel(); ++i)
    ASSERT_NEAR(got.data()[i], want.data()[i], rtol * (scale + 1e-30)) << what << " element " << i;
}

// Forward, backward and every gradient of `fused` against `oracle` (same parameters) on x, dy.
void expect_same_layer(Layer& fused, Layer& oracle, const Tensor& x, const Tensor& dy, const Ctx& proto) {
  fused.zero_grad(), oracle.zero_grad();
  Ctx cf = proto, co = proto;
  Tensor yf = fused.forward(cf, x), yo = oracle.forward(co, x);
  expect_close(yf, yo, 1e-5, "output");
  Tensor dxf = fused.backward(cf, dy), dxo = oracle.backward(co, dy);
  expect_close(dxf, dxo, 1e-5, "input gradient");
  auto pf = fused.params(), po = oracle.params();
  for (size_t i = 0; i < pf.size(); ++i) expect_close(pf[i]->grad, po[i]->grad, 1e-5, pf[i]->name);
  EXPECT_EQ(cf.stashed_bytes(), 0);
}

TEST(FusedBlock, MatchesUnfusedComposition) {
  struct Case {
    int64_t b, t, c, nh;
    float dropout;
  };
  std::mt19937 g(18);
  for (Case s : {Case{2, 7, 12, 3, 0.0f}, Case{1, 5, 20, 1, 0.3f}, Case{3, 65, 16, 2, 0.0f},
                 Case{2, 9, 24, 4, 0.2f}}) {
    TransformerBlock fused(s.c, s.nh, "blocks.1", s.dropout);
    auto oracle = unfused_block(s.c, s.nh, "blocks.1", s.dropout);
    fused.init(5), oracle->init(5);  // the dropouts' seeds
    randomise_params(fused, g, 0.3f);
    copy_params(fused, *oracle);
    Ctx proto;
    proto.step = 4, proto.microbatch = 2;
    SCOPED_TRACE(::testing::Message() << "B " << s.b << " T " << s.t << " C " << s.c << " NH " << s.nh
                                      << " dropout " << s.dropout);
    expect_same_layer(fused, *oracle, rand_tensor({s.b, s.t, s.c}, g), rand_tensor({s.b, s.t, s.c}, g),
                      proto);
    EXPECT_EQ(fused.cost({s.b, s.t, s.c}).fwd_flops, oracle->cost({s.b, s.t, s.c}).fwd_flops);
    EXPECT_EQ(fused.cost({s.b, s.t, s.c}).activation_bytes, oracle->cost({s.b, s.t, s.c}).activation_bytes);
  }
}

TEST(FusedBlock, GeluEpilogueMatchesLinearThenGelu) {
  std::mt19937 g(19);
  for (bool defer : {false, true}) {
    NormalInitLinear fused(13, 37, "fc1");
    fused.fuse_gelu();
    Sequential oracle("mlp");
    oracle.add(std::make_unique<NormalInitLinear>(13, 37, "fc1"));
    oracle.add(std::make_unique<GELU>("gelu"));
    randomise_params(fused, g, 0.5f);
    copy_params(fused, oracle);
    fused.defer_weight_grads(defer);
    Tensor x = rand_tensor({3, 5, 13}, g, -2, 2), dy = rand_tensor({3, 5, 37}, g);
    fused.zero_grad(), oracle.zero_grad();
    Ctx cf, co;
    expect_close(fused.forward(cf, x), oracle.forward(co, x), 1e-5, "output");
    expect_close(fused.backward(cf, dy), oracle.backward(co, dy), 1e-5, "input gradient");
    fused.defer_weight_grads(false);  // flushes
    expect_close(fused.weight().grad, oracle.params()[0]->grad, 1e-5, "weight gradient");
    expect_close(fused.bias().grad, oracle.params()[1]->grad, 1e-5, "bias gradient");
  }
}

}  // namespace
