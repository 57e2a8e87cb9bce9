// MLP and GPT: block and parameter names and shapes (docs/model-names.md), forward/backward, a full-model
// finite-difference spot check, spec validation and the loss.
#include <gtest/gtest.h>

#include <cmath>

#include "nn/grad_check.h"
#include "paraxis/core/error.h"
#include "paraxis/nn/model.h"
#include "test_support/user_error.h"

using namespace paraxis;
using namespace paraxis::testing;

namespace {
Tensor random_ids(const Shape& s, int64_t vocab, std::mt19937& g) {
  Tensor t = Tensor::empty(s, DType::kI32);
  for (int64_t i = 0; i < t.numel(); ++i) t.data_i32()[i] = static_cast<int32_t>(g() % vocab);
  return t;
}
std::vector<std::pair<std::string, Shape>> names_and_shapes(Model& m) {
  std::vector<std::pair<std::string, Shape>> out;
  for (Param* p : m.params()) out.emplace_back(p->name, p->value.shape());
  return out;
}
}  // namespace

TEST(Models, MlpNamesShapesAndStep) {
  auto m = build_model(ModelSpec::mlp({20, 16, 12, 3}));
  std::vector<std::string> blocks;
  for (auto& b : m->blocks) blocks.push_back(b->name());
  EXPECT_EQ(blocks, (std::vector<std::string>{"fc1", "relu1", "fc2", "relu2", "fc3"}));
  std::vector<std::pair<std::string, Shape>> expected = {{"fc1.weight", {16, 20}}, {"fc1.bias", {16}},
                                                         {"fc2.weight", {12, 16}}, {"fc2.bias", {12}},
                                                         {"fc3.weight", {3, 12}},  {"fc3.bias", {3}}};
  EXPECT_EQ(names_and_shapes(*m), expected);
  EXPECT_EQ(m->num_params(), 16 * 20 + 16 + 12 * 16 + 12 + 3 * 12 + 3);
  m->init(1);
  // PyTorch's default bound for fc1: U(-1/sqrt(20), 1/sqrt(20)).
  float bound = 1.0f / std::sqrt(20.0f), mx = 0;
  for (float v : m->params()[0]->value.to_vector()) mx = std::max(mx, std::abs(v));
  EXPECT_LE(mx, bound);
  EXPECT_GT(mx, 0.8f * bound);

  std::mt19937 g(1);
  Tensor x      = rand_tensor(m->input_shape(5), g);
  Tensor labels = Tensor::from_ints({5}, {0, 1, 2, 1, 0});
  std::vector<Ctx> ctx;
  Tensor logits = m->forward(ctx, x);
  EXPECT_EQ(logits.shape(), (Shape{5, 3}));
  LossResult r = softmax_cross_entropy(logits, labels);
  EXPECT_NEAR(r.loss, std::log(3.0), 0.5);
  m->zero_grad();
  Tensor dx = m->backward(ctx, r.dlogits);
  EXPECT_EQ(dx.shape(), x.shape());
  for (Param* p : m->params()) EXPECT_GT(dot(p->grad, p->grad), 0.0) << p->name;
}

TEST(Models, GptNamesAndShapes) {
  const int64_t V = 11, T = 8, C = 12, L = 2;
  auto m = build_model(ModelSpec::gpt(V, T, C, 3, L));
  std::vector<std::string> blocks;
  for (auto& b : m->blocks) blocks.push_back(b->name());
  EXPECT_EQ(blocks, (std::vector<std::string>{"embed", "blocks.0", "blocks.1", "ln_f", "lm_head"}));
  std::vector<std::pair<std::string, Shape>> expected = {{"wte.weight", {V, C}}, {"wpe.weight", {T, C}}};
  for (int i = 0; i < L; ++i) {
    std::string p                                    = "blocks." + std::to_string(i) + ".";
    std::vector<std::pair<std::string, Shape>> block = {{p + "ln1.weight", {C}},
                                                        {p + "ln1.bias", {C}},
                                                        {p + "attn.qkv.weight", {3 * C, C}},
                                                        {p + "attn.qkv.bias", {3 * C}},
                                                        {p + "attn.proj.weight", {C, C}},
                                                        {p + "attn.proj.bias", {C}},
                                                        {p + "ln2.weight", {C}},
                                                        {p + "ln2.bias", {C}},
                                                        {p + "mlp.fc1.weight", {4 * C, C}},
                                                        {p + "mlp.fc1.bias", {4 * C}},
                                                        {p + "mlp.fc2.weight", {C, 4 * C}},
                                                        {p + "mlp.fc2.bias", {C}}};
    expected.insert(expected.end(), block.begin(), block.end());
  }
  expected.push_back({"ln_f.weight", {C}});
  expected.push_back({"ln_f.bias", {C}});
  expected.push_back({"lm_head.weight", {V, C}});
  EXPECT_EQ(names_and_shapes(*m), expected);

  m->init(3);
  for (Param* p : m->params()) {
    auto v    = p->value.to_vector();
    double ss = 0;
    for (float x : v) ss += static_cast<double>(x) * x;
    double rms           = std::sqrt(ss / v.size());
    const std::string& n = p->name;
    bool is_ln           = n.find("ln") != std::string::npos && n.find("weight") != std::string::npos;
    if (is_ln)
      EXPECT_EQ(rms, 1.0) << n;  // LayerNorm weight ones
    else if (n.find("bias") != std::string::npos)
      EXPECT_EQ(rms, 0.0) << n;  // biases zeros
    else
      EXPECT_NEAR(rms, 0.02, 0.006) << n;  // N(0, 0.02)
  }
}

TEST(Models, GptForwardBackwardAndShorterSequences) {
  auto m = build_model(ModelSpec::gpt(13, 8, 16, 4, 2));
  m->init(5);
  std::mt19937 g(2);
  for (int64_t t : {8, 5}) {  // T_in <= context uses the first T_in position rows
    Tensor ids = random_ids({3, t}, 13, g), targets = random_ids({3, t}, 13, g);
    std::vector<Ctx> ctx;
    Tensor logits = m->forward(ctx, ids);
    EXPECT_EQ(logits.shape(), (Shape{3, t, 13}));
    LossResult r = softmax_cross_entropy(logits, targets);
    EXPECT_NEAR(r.loss, std::log(13.0), 0.2);  // small init: near-uniform predictions
    m->zero_grad();
    m->backward(ctx, r.dlogits);
    for (Param* p : m->params())
      if (p->name.find("wpe") == std::string::npos || t == 8)
        EXPECT_GT(dot(p->grad, p->grad), 0.0) << p->name;
  }
}

// Central differences of the whole model's loss for the largest-gradient entry and a random entry of a few
// parameters spread over the model.
TEST(Models, GptFiniteDifferenceSpotCheck) {
  auto m = build_model(ModelSpec::gpt(9, 6, 8, 2, 2));
  m->init(7);
  std::mt19937 g(3);
  for (Param* p : m->params())  // larger weights than the 0.02 init give gradients well above float noise
    for (int64_t i = 0; i < p->value.numel(); ++i)
      p->value.data()[i] += 0.3f * (rand_tensor({1}, g).data()[0]);
  Tensor ids = random_ids({2, 6}, 9, g), targets = random_ids({2, 6}, 9, g);
  auto loss = [&] {
    std::vector<Ctx> ctx;
    return static_cast<double>(softmax_cross_entropy(m->forward(ctx, ids), targets).loss);
  };
  std::vector<Ctx> ctx;
  m->zero_grad();
  m->backward(ctx, softmax_cross_entropy(m->forward(ctx, ids), targets).dlogits);
  const std::vector<std::string> checked = {"wte.weight",
                                            "wpe.weight",
                                            "blocks.0.ln1.weight",
                                            "blocks.0.attn.qkv.weight",
                                            "blocks.1.attn.proj.bias",
                                            "blocks.1.mlp.fc1.weight",
                                            "blocks.1.mlp.fc2.weight",
                                            "ln_f.bias",
                                            "lm_head.weight"};
  int found                              = 0;
  for (Param* p : m->params()) {
    if (std::find(checked.begin(), checked.end(), p->name) == checked.end()) continue;
    ++found;
    int64_t largest = 0;
    for (int64_t i = 0; i < p->grad.numel(); ++i)
      if (std::abs(p->grad.data()[i]) > std::abs(p->grad.data()[largest])) largest = i;
    for (int64_t i : {largest, static_cast<int64_t>(g() % p->grad.numel())}) {
      const float eps    = 1e-2f;
      float keep         = p->value.data()[i];
      p->value.data()[i] = keep + eps;
      double lp          = loss();
      p->value.data()[i] = keep - eps;
      double lm          = loss();
      p->value.data()[i] = keep;
      double numeric = (lp - lm) / (2 * eps), analytic = p->grad.data()[i];
      EXPECT_NEAR(analytic, numeric, 2e-4 + 3e-2 * std::abs(numeric)) << p->name << "[" << i << "]";
    }
  }
  EXPECT_EQ(found, static_cast<int>(checked.size()));
}

TEST(Models, DropoutOnlyActsInTraining) {
  ModelSpec with = ModelSpec::gpt(7, 4, 8, 2, 1), without = with;
  with.dropout = 0.3f;
  auto a = build_model(with), b = build_model(without);
  a->init(1), b->init(1);
  std::mt19937 g(4);
  Tensor ids  = random_ids({2, 4}, 7, g);
  auto logits = [&](Model& m, bool training, uint64_t step) {
    std::vector<Ctx> ctx(m.blocks.size());
    for (Ctx& c : ctx) c.training = training, c.step = step;
    return m.forward(ctx, ids).to_vector();
  };
  EXPECT_EQ(logits(*a, false, 0), logits(*b, false, 0));
  EXPECT_NE(logits(*a, true, 0), logits(*b, true, 0));
  EXPECT_EQ(logits(*a, true, 1), logits(*a, true, 1));
  EXPECT_NE(logits(*a, true, 1), logits(*a, true, 2));
}

TEST(Models, SpecValidation) {
  expect_user_error([] { build_model(ModelSpec::mlp({784})); }, "at least 2 sizes");
  expect_user_error([] { build_model(ModelSpec::mlp({784, 0, 10})); }, "must be positive");
  expect_user_error([] { build_model(ModelSpec::gpt(256, 64, 100, 3, 2)); }, "use one of 1, 2, 4, 5");
  expect_user_error([] { build_model(ModelSpec::gpt(0, 64, 128, 4, 2)); }, "vocab 0");
  expect_user_error([] { build_model(ModelSpec::gpt(256, 64, 128, 4, 0)); }, "layers 0");
}

TEST(Loss, SoftmaxCrossEntropy) {
  Tensor logits = Tensor::from_vector({2, 3}, {1000, 0, 0, 0, 0, 0});  // huge logit: stable form stays finite
  Tensor labels = Tensor::from_ints({2}, {0, 2});
  LossResult r  = softmax_cross_entropy(logits, labels, 0.5f);
  EXPECT_NEAR(r.loss, std::log(3.0) / 2, 1e-6);
  EXPECT_NEAR(r.dlogits.data()[0], 0.0, 1e-7);                      // p = 1 at the label
  EXPECT_NEAR(r.dlogits.data()[5], 0.5 * (1.0 / 3 - 1) / 2, 1e-7);  // scale / N * (p - 1)
  expect_user_error([&] { softmax_cross_entropy(logits, Tensor::from_ints({2}, {0, 3})); }, "outside [0, 3)");
  expect_user_error([&] { softmax_cross_entropy(logits, Tensor::from_ints({3}, {0, 1, 2})); }, "labels must");
}
