// build_cnn: block and parameter names/shapes per docs/model-names.md, forward (N, classes), backward fills
// every gradient. The blocks are driven directly so this test depends only on the CNN's own layers.
#include <gtest/gtest.h>

#include <random>
#include <utility>
#include <vector>

#include "paraxis/core/error.h"
#include "paraxis/nn/model.h"

using namespace paraxis;

namespace {
Tensor run_forward(Model& m, std::vector<Ctx>& ctx, Tensor h) {
  ctx.resize(m.blocks.size());
  for (size_t i = 0; i < m.blocks.size(); ++i) h = m.blocks[i]->forward(ctx[i], h);
  return h;
}
Tensor run_backward(Model& m, std::vector<Ctx>& ctx, Tensor g) {
  for (size_t i = m.blocks.size(); i-- > 0;) g = m.blocks[i]->backward(ctx[i], g);
  return g;
}
// ModelSpec::cnn lives in model.cc, which also references builders other branches provide; spelling the spec
// out keeps this test linkable on its own.
ModelSpec cnn_spec(int64_t c1, int64_t c2, int64_t fc, int64_t classes) {
  ModelSpec s;
  s.kind = "cnn", s.cnn_c1 = c1, s.cnn_c2 = c2, s.cnn_fc = fc, s.classes = classes;
  return s;
}
std::vector<Param*> all_params(Model& m) {
  std::vector<Param*> out;
  for (auto& b : m.blocks) b->collect_params(out);
  return out;
}
}  // namespace

TEST(CnnModel, BlocksAndParamsFollowModelNames) {
  auto m = build_cnn(cnn_spec(16, 32, 128, 10));
  std::vector<std::string> names;
  for (auto& b : m->blocks) names.push_back(b->name());
  EXPECT_EQ(names, (std::vector<std::string>{"conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten",
                                             "fc1", "relu3", "fc2"}));
  std::vector<std::pair<std::string, Shape>> want = {{"conv1.weight", {16, 1, 5, 5}},   {"conv1.bias", {16}},
                                                     {"conv2.weight", {32, 16, 5, 5}},  {"conv2.bias", {32}},
                                                     {"fc1.weight", {128, 32 * 7 * 7}}, {"fc1.bias", {128}},
                                                     {"fc2.weight", {10, 128}},         {"fc2.bias", {10}}};
  std::vector<Param*> ps                          = all_params(*m);
  ASSERT_EQ(ps.size(), want.size());
  for (size_t i = 0; i < ps.size(); ++i) {
    EXPECT_EQ(ps[i]->name, want[i].first);
    EXPECT_EQ(ps[i]->value.shape(), want[i].second) << ps[i]->name;
  }
}

TEST(CnnModel, ForwardBackwardShapesAndGradients) {
  auto m = build_cnn(cnn_spec(4, 6, 12, 10));
  for (auto& b : m->blocks) b->init(3);
  std::mt19937 g(31);
  std::uniform_real_distribution<float> d(0, 1);
  std::vector<float> xv(5 * 28 * 28);
  for (auto& v : xv) v = d(g);
  Tensor x = Tensor::from_vector({5, 1, 28, 28}, xv);
  std::vector<Ctx> ctx;
  Tensor logits = run_forward(*m, ctx, x);
  ASSERT_EQ(logits.shape(), (Shape{5, 10}));
  // Shapes chained through output_shape agree with the real forward.
  Shape s = x.shape();
  for (auto& b : m->blocks) s = b->output_shape(s);
  EXPECT_EQ(s, logits.shape());

  Tensor dx = run_backward(*m, ctx, Tensor::full({5, 10}, 1.0f));
  EXPECT_EQ(dx.shape(), x.shape());
  for (Param* p : all_params(*m)) {
    double sum_abs = 0;
    for (float v : p->grad.to_vector()) sum_abs += std::fabs(v);
    EXPECT_GT(sum_abs, 0.0) << p->name << " got no gradient";
  }
  // Same input, second backward: gradients double (accumulation across micro-batches).
  std::vector<float> first = all_params(*m)[0]->grad.to_vector();
  std::vector<Ctx> ctx2;
  run_forward(*m, ctx2, x);
  run_backward(*m, ctx2, Tensor::full({5, 10}, 1.0f));
  std::vector<float> second = all_params(*m)[0]->grad.to_vector();
  for (size_t i = 0; i < first.size(); ++i)
    ASSERT_NEAR(second[i], 2 * first[i], 1e-5f * (1 + std::fabs(first[i])));
}

TEST(CnnModel, RejectsBadSizesAndInputs) {
  try {
    build_cnn(cnn_spec(0, 32, 128, 10));
    ADD_FAILURE() << "c1=0 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUser);
    EXPECT_NE(std::string(e.what()).find("c1=0"), std::string::npos) << e.what();
  }
  auto m = build_cnn(cnn_spec(16, 32, 128, 10));
  std::vector<Ctx> ctx;
  try {
    run_forward(*m, ctx, Tensor::zeros({2, 3, 28, 28}));
    ADD_FAILURE() << "3-channel input accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(2, 3, 28, 28)"), std::string::npos) << e.what();
  }
}
