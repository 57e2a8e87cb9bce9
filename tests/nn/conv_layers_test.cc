// Conv2d, MaxPool2d and Flatten layers: agreement with the reference kernels, gradient accumulation,
// initialisation, reported costs and shape errors.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "paraxis/core/error.h"
#include "paraxis/kernels/conv.h"
#include "paraxis/nn/conv2d.h"
#include "paraxis/nn/flatten.h"
#include "paraxis/nn/maxpool2d.h"
#include "test_support/user_error.h"

using namespace paraxis;

namespace {
Tensor rand_tensor(const Shape& shape, std::mt19937& g) {
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> v(shape_numel(shape));
  for (auto& x : v) x = d(g);
  return Tensor::from_vector(shape, v);
}

void expect_near(const std::vector<float>& want, const std::vector<float>& got, float tol, const char* what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(want[i], got[i], tol * (1 + std::fabs(want[i]))) << what << i;
}

using ::paraxis::testing::user_error;
}  // namespace

TEST(Conv2dLayer, MatchesReferenceAndAccumulates) {
  std::mt19937 g(21);
  Conv2d conv(3, 5, 3, 2, 1, "conv");
  conv.init(4);
  Tensor x = rand_tensor({2, 3, 9, 8}, g);  // (N, Cin, H, W)
  Ctx ctx;
  Tensor y = conv.forward(ctx, x);
  ASSERT_EQ(y.shape(), (Shape{2, 5, 5, 4}));
  Conv2dShape s{2, 3, 9, 8, 5, 3, 2, 1};
  std::vector<float> want(y.numel());
  ref::conv2d_forward<float>(want.data(), x.data(), conv.weight().value.data(), conv.bias().value.data(), s);
  expect_near(want, y.to_vector(), 1e-5f, "y");
  EXPECT_EQ(ctx.stashed_bytes(), conv.cost(x.shape()).activation_bytes);

  Tensor dy = rand_tensor(y.shape(), g);
  Tensor dx = conv.backward(ctx, dy);
  std::vector<float> dx_ref(x.numel()), dw_ref(conv.weight().value.numel(), 0.0f), db_ref(5, 0.0f);
  ref::conv2d_backward_data<float>(dx_ref.data(), dy.data(), conv.weight().value.data(), s);
  ref::conv2d_backward_weights<float>(dw_ref.data(), db_ref.data(), dy.data(), x.data(), s);
  expect_near(dx_ref, dx.to_vector(), 1e-5f, "dx");
  expect_near(dw_ref, conv.weight().grad.to_vector(), 1e-5f, "dw");
  expect_near(db_ref, conv.bias().grad.to_vector(), 1e-5f, "db");
  EXPECT_EQ(ctx.stashed_bytes(), 0);  // the weight pass released x

  // A second micro-batch with the same data doubles the gradients.
  Ctx ctx2;
  conv.forward(ctx2, x);
  conv.backward(ctx2, dy);
  for (auto& v : dw_ref) v *= 2;
  for (auto& v : db_ref) v *= 2;
  expect_near(dw_ref, conv.weight().grad.to_vector(), 1e-5f, "dw twice");
  expect_near(db_ref, conv.bias().grad.to_vector(), 1e-5f, "db twice");
  conv.zero_grad();
  for (float v : conv.weight().grad.to_vector()) ASSERT_EQ(v, 0.0f);
}

TEST(Conv2dLayer, InitIsBoundedDeterministicAndPerParameter) {
  Conv2d a(4, 6, 3, 1, 1, "blocks.conv"), b(4, 6, 3, 1, 1, "blocks.conv"), c(4, 6, 3, 1, 1, "other");
  a.init(9), b.init(9), c.init(9);
  std::vector<Param*> ps = a.params();
  ASSERT_EQ(ps.size(), 2u);
  EXPECT_EQ(ps[0]->name, "blocks.conv.weight");
  EXPECT_EQ(ps[0]->value.shape(), (Shape{6, 4, 3, 3}));
  EXPECT_EQ(ps[1]->name, "blocks.conv.bias");
  EXPECT_EQ(ps[1]->value.shape(), (Shape{6}));
  const float bound = 1.0f / std::sqrt(4.0f * 3 * 3);
  for (Param* p : ps) {
    float max_abs = 0;
    for (float v : p->value.to_vector()) max_abs = std::max(max_abs, std::fabs(v));
    EXPECT_LE(max_abs, bound) << p->name;
    EXPECT_GT(max_abs, 0.5f * bound) << p->name << " looks unfilled";
  }
  EXPECT_EQ(a.weight().value.to_vector(), b.weight().value.to_vector());
  EXPECT_NE(a.weight().value.to_vector(), c.weight().value.to_vector());  // stream follows the name
  // Slice-friendly: the first 2 output channels of the full init equal a shard filled from the full shape.
  Tensor shard = Tensor::zeros({2, 4, 3, 3});
  rng_fill_uniform(shard, -bound, bound, Philox(9, stream_id("blocks.conv.weight")), {6, 4, 3, 3}, 0, 2);
  EXPECT_EQ(shard.to_vector(), a.weight().value.slice(2, 4).to_vector());
}

TEST(Conv2dLayer, CostFollowsTheShapes) {
  Conv2d conv(3, 4, 5, 2, 2, "conv");
  Shape in          = {2, 3, 11, 10};
  Cost c            = conv.cost(in);
  const double out  = 2.0 * 4 * 6 * 5,
               macs = out * 3 * 5 * 5;  // (11 + 4 - 5) / 2 + 1 = 6, (10 - 1) / 2 + 1 = 5
  EXPECT_DOUBLE_EQ(c.fwd_flops, 2 * macs + out);
  EXPECT_DOUBLE_EQ(c.bwd_input_flops, 2 * macs);
  EXPECT_DOUBLE_EQ(c.bwd_weight_flops, 2 * macs + out);
  EXPECT_EQ(c.param_bytes, static_cast<int64_t>(conv.weight().value.nbytes() + conv.bias().value.nbytes()));
  EXPECT_EQ(c.activation_bytes, 4 * shape_numel(in));
  EXPECT_EQ(conv.output_shape(in), (Shape{2, 4, 6, 5}));
}

TEST(Conv2dLayer, ShapeErrorsNameGotAndExpected) {
  Conv2d conv(1, 16, 5, 1, 2, "conv1");
  Ctx ctx;
  std::string m = user_error([&] { conv.forward(ctx, Tensor::zeros({2, 3, 28, 28})); });
  EXPECT_NE(m.find("conv1"), std::string::npos) << m;
  EXPECT_NE(m.find("(2, 3, 28, 28)"), std::string::npos) << m;
  EXPECT_NE(m.find("(N, 1, H, W)"), std::string::npos) << m;
  m = user_error([&] { conv.forward(ctx, Tensor::zeros({2, 28, 28})); });
  EXPECT_NE(m.find("(2, 28, 28)"), std::string::npos) << m;
  Conv2d big(1, 2, 5, 1, 0, "big");
  m = user_error([&] { big.forward(ctx, Tensor::zeros({1, 1, 4, 9})); });
  EXPECT_NE(m.find("smaller than the 5x5 kernel"), std::string::npos) << m;
  m = user_error([&] { Conv2d bad(1, 0, 3, 1, 0, "bad"); });
  EXPECT_NE(m.find("cout=0"), std::string::npos) << m;
  // A wrong dy is caught too.
  conv.forward(ctx, Tensor::zeros({2, 1, 28, 28}));
  m = user_error([&] { conv.backward(ctx, Tensor::zeros({2, 16, 27, 28})); });
  EXPECT_NE(m.find("(2, 16, 27, 28)"), std::string::npos) << m;
}

TEST(MaxPool2dLayer, MatchesReferenceStoresOnlyTheArgmax) {
  std::mt19937 g(22);
  MaxPool2d pool(3, 2, "pool");
  Tensor x = rand_tensor({2, 3, 9, 8}, g);
  Ctx ctx;
  Tensor y = pool.forward(ctx, x);
  ASSERT_EQ(y.shape(), (Shape{2, 3, 4, 3}));
  Pool2dShape s{2, 3, 9, 8, 3, 2};
  std::vector<float> want(y.numel());
  ref::maxpool2d_forward<float>(want.data(), x.data(), s);
  EXPECT_EQ(want, y.to_vector());
  EXPECT_EQ(ctx.stashed_bytes(), pool.cost(x.shape()).activation_bytes);
  EXPECT_EQ(ctx.stashed_bytes(), y.numel() * 4);  // int32 argmax, not the input

  Tensor dy = rand_tensor(y.shape(), g);
  Tensor dx = pool.backward(ctx, dy);
  std::vector<float> dx_ref(x.numel());
  ref::maxpool2d_backward<float>(dx_ref.data(), dy.data(), x.data(), s);
  expect_near(dx_ref, dx.to_vector(), 1e-6f, "dx");
  EXPECT_TRUE(pool.params().empty());
}

TEST(MaxPool2dLayer, ShapeErrors) {
  MaxPool2d pool(2, 2, "pool1");
  Ctx ctx;
  std::string m = user_error([&] { pool.forward(ctx, Tensor::zeros({4, 16})); });
  EXPECT_NE(m.find("(4, 16)"), std::string::npos) << m;
  EXPECT_NE(m.find("(N, C, H, W)"), std::string::npos) << m;
  m = user_error([&] { pool.forward(ctx, Tensor::zeros({1, 1, 1, 5})); });
  EXPECT_NE(m.find("smaller than the 2x2 window"), std::string::npos) << m;
  m = user_error([&] { MaxPool2d bad(0, 2, "bad"); });
  EXPECT_NE(m.find("k=0"), std::string::npos) << m;
}

TEST(FlattenLayer, IsAViewBothWays) {
  std::mt19937 g(23);
  Flatten flat("flatten");
  Tensor x = rand_tensor({3, 2, 4, 5}, g);
  Ctx ctx;
  Tensor y = flat.forward(ctx, x);
  EXPECT_EQ(y.shape(), (Shape{3, 40}));
  EXPECT_TRUE(y.same_storage(x));
  EXPECT_EQ(y.to_vector(), x.to_vector());  // C-major: element (n, c, h, w) lands at c * 20 + h * 5 + w
  Tensor dy = rand_tensor({3, 40}, g);
  Tensor dx = flat.backward(ctx, dy);
  EXPECT_EQ(dx.shape(), x.shape());
  EXPECT_TRUE(dx.same_storage(dy));
  Cost c = flat.cost(x.shape());
  EXPECT_EQ(c.fwd_flops + c.fwd_bytes + c.activation_bytes, 0);
  std::string m = user_error([&] { flat.backward(ctx, Tensor::zeros({3, 39})); });
  EXPECT_NE(m.find("(3, 39)"), std::string::npos) << m;
  m = user_error([&] { flat.forward(ctx, Tensor::zeros({7})); });
  EXPECT_NE(m.find("(7)"), std::string::npos) << m;
}
