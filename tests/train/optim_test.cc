// Optimizer state handling, gradient clipping and LR schedules against hand-computed values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "paraxis/core/error.h"
#include "paraxis/nn/optim.h"

using namespace paraxis;

namespace {
Param param_with(const std::string& name, std::vector<float> value, std::vector<float> grad) {
  Param p = make_param(name, {static_cast<int64_t>(value.size())});
  p.value = Tensor::from_vector({static_cast<int64_t>(value.size())}, value);
  p.grad  = Tensor::from_vector({static_cast<int64_t>(grad.size())}, grad);
  return p;
}
}  // namespace

TEST(Sgd, HandComputedMomentumAndWeightDecay) {
  Param p = param_with("w", {1.0f}, {0.5f});
  Sgd opt({&p}, {.momentum = 0.9, .weight_decay = 0.1});
  opt.step(0.1);  // d = 0.5 + 0.1*1 = 0.6; buf = 0.6; w = 1 - 0.06 = 0.94
  EXPECT_FLOAT_EQ(p.value.data()[0], 0.94f);
  opt.step(0.1);  // d = 0.5 + 0.094 = 0.594; buf = 0.54 + 0.594 = 1.134; w = 0.94 - 0.1134 = 0.8266
  EXPECT_NEAR(p.value.data()[0], 0.8266f, 1e-6);
}

TEST(AdamW, FirstStepMovesEachWeightByAboutLr) {
  // After bias correction the first update is lr * g / (|g| + eps') = lr * sign(g), plus the decay.
  Param p = param_with("w", {1.0f, -2.0f}, {3.0f, -0.25f});
  AdamW opt({&p}, {.weight_decay = 0.0});
  opt.step(0.01);
  EXPECT_NEAR(p.value.data()[0], 0.99f, 1e-6);
  EXPECT_NEAR(p.value.data()[1], -1.99f, 1e-6);
}

TEST(Optimizer, StateIsNamedPerParameterAndRestores) {
  Param a = param_with("fc1.weight", {1, 2}, {0.1f, -0.2f});
  Param b = param_with("fc1.bias", {3}, {0.3f});
  AdamW opt({&a, &b});
  std::vector<std::string> names;
  for (auto& s : opt.state()) names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{"fc1.weight.step", "fc1.weight.exp_avg", "fc1.weight.exp_avg_sq",
                                             "fc1.bias.step", "fc1.bias.exp_avg", "fc1.bias.exp_avg_sq"}));
  EXPECT_EQ(opt.state_bytes(), (2 + 2 + 1 + 1) * 4 + 2 * 4);
  opt.step(0.1);
  opt.step(0.1);
  // Save (deep copies), take a third step, restore both state and values into a fresh optimizer: same result.
  std::vector<NamedTensor> saved;
  for (auto& s : opt.state()) saved.push_back({s.name, s.tensor.clone()});
  Tensor a_saved = a.value.clone(), b_saved = b.value.clone();
  opt.step(0.1);
  std::vector<float> want = a.value.to_vector();

  a.value.copy_from(a_saved);
  b.value.copy_from(b_saved);
  AdamW resumed({&a, &b});
  resumed.load_state(saved);
  EXPECT_EQ(resumed.state()[0].tensor.data_i32()[0], 2);
  resumed.step(0.1);
  EXPECT_EQ(a.value.to_vector(), want);
}

TEST(Optimizer, LoadStateNamesTheMissingOrMisshapenTensor) {
  Param a = param_with("fc1.weight", {1, 2}, {0.1f, -0.2f});
  Sgd opt({&a}, {.momentum = 0.9});
  try {
    opt.load_state({{"fc1.weight.step", Tensor::from_ints({1}, {1})}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUser);
    EXPECT_NE(std::string(e.what()).find("fc1.weight.momentum_buffer"), std::string::npos) << e.what();
  }
  try {
    opt.load_state({{"fc1.weight.step", Tensor::from_ints({1}, {1})},
                    {"fc1.weight.momentum_buffer", Tensor::zeros({3})}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(3)"), std::string::npos) << e.what();
  }
}

TEST(Optimizer, StepRangeTouchesOnlyThatRange) {
  Param a = param_with("a", {1}, {1}), b = param_with("b", {1}, {1});
  Sgd opt({&a, &b});
  opt.step_range(0.5, 1, 2);
  EXPECT_EQ(a.value.data()[0], 1.0f);
  EXPECT_EQ(b.value.data()[0], 0.5f);
  EXPECT_THROW(opt.step_range(0.5, 1, 3), Error);
}

TEST(Optimizer, BadHyperparametersAreUserErrors) {
  Param a = param_with("a", {1}, {1});
  EXPECT_THROW(Sgd({&a}, {.momentum = 1.5}), Error);
  EXPECT_THROW(AdamW({&a}, {.beta1 = 1.0}), Error);
  EXPECT_THROW(AdamW({&a}, {.eps = 0}), Error);
  EXPECT_THROW(make_optimizer("adam", {&a}), Error);
  EXPECT_STREQ(make_optimizer("sgd", {&a})->kind(), "sgd");
  Param twin = param_with("a", {1}, {1});
  EXPECT_THROW(Sgd({&a, &twin}), Error);  // state names would collide
  Sgd opt({&a});
  EXPECT_THROW(opt.step(-1), Error);
  EXPECT_THROW(opt.step(NAN), Error);
}

TEST(Clip, HandComputedNormAndScaling) {
  Param a = param_with("a", {0, 0}, {3, 0}), b = param_with("b", {0}, {4});  // total norm 5
  EXPECT_DOUBLE_EQ(grad_sq_norm({&a, &b}), 25.0);
  float total = clip_grad_norm({&a, &b}, 1.0);
  EXPECT_FLOAT_EQ(total, 5.0f);
  float coef = 1.0f / (5.0f + 1e-6f);
  EXPECT_FLOAT_EQ(a.grad.data()[0], 3.0f * coef);
  EXPECT_FLOAT_EQ(b.grad.data()[0], 4.0f * coef);
  // Below the limit the gradients are untouched, and the norm is still returned.
  total = clip_grad_norm({&a, &b}, 10.0);
  EXPECT_NEAR(total, 1.0f, 1e-6);
  EXPECT_FLOAT_EQ(b.grad.data()[0], 4.0f * coef);
  EXPECT_EQ(clip_coefficient(5.0, 10.0), 1.0f);
  EXPECT_THROW(clip_grad_norm({&a}, 0.0), Error);
}

TEST(LrSchedule, ConstantAndWarmupCosineHandComputed) {
  EXPECT_EQ(LrSchedule::constant(0.1).lr_at(12345), 0.1);
  LrSchedule s = LrSchedule::warmup_cosine(1.0, /*warmup=*/3, /*decay_steps=*/7, /*min_lr=*/0.1);
  EXPECT_DOUBLE_EQ(s.lr_at(0), 0.25);  // (0+1)/(3+1)
  EXPECT_DOUBLE_EQ(s.lr_at(2), 0.75);
  EXPECT_DOUBLE_EQ(s.lr_at(3), 1.0);   // start of decay: cos(0)
  EXPECT_DOUBLE_EQ(s.lr_at(5), 0.55);  // ratio 1/2: 0.1 + 0.5 * 0.9
  EXPECT_NEAR(s.lr_at(4), 0.1 + 0.5 * (1 + std::cos(M_PI / 4)) * 0.9, 1e-15);
  EXPECT_NEAR(s.lr_at(7), 0.1, 1e-15);  // end of decay
  EXPECT_DOUBLE_EQ(s.lr_at(100), 0.1);
  EXPECT_THROW(LrSchedule::warmup_cosine(1.0, 5, 5, 0.1), Error);
  EXPECT_THROW(LrSchedule::warmup_cosine(1.0, 0, 5, 2.0), Error);
  EXPECT_EQ(s.describe(), "warmup_cosine lr 1 warmup 3 decay 7 min 0.1");
}

// step_fused must be step() plus sum_of_squares and zeroing, bit for bit, over several steps (the step
// counter, momentum and AdamW's bias corrections advance once per step, not once per chunk). Lengths cross
// the 16 Ki-element chunk boundary.
TEST(Optimizer, FusedStepEqualsStepNormAndZeroBitForBit) {
  // SGD with momentum (its first step copies the gradient into the buffer), plain SGD, AdamW.
  for (const auto& [kind, momentum] :
       {std::pair<std::string, double>{"sgd", 0.9}, {"sgd", 0.0}, {"adamw", 0.0}}) {
    std::vector<int64_t> sizes = {1, 16384, 40000, 7};
    std::vector<Param> plain, fused;
    for (size_t k = 0; k < sizes.size(); ++k) {
      const std::string name = "p" + std::to_string(k);
      plain.push_back(make_param(name, {sizes[k]}));
      fused.push_back(make_param(name, {sizes[k]}));
      for (int64_t i = 0; i < sizes[k]; ++i)
        plain[k].value.data()[i] = fused[k].value.data()[i] = std::sin(0.37f * static_cast<float>(i + k));
    }
    std::vector<Param*> pp, fp;
    for (size_t k = 0; k < sizes.size(); ++k) pp.push_back(&plain[k]), fp.push_back(&fused[k]);
    auto a = make_optimizer(kind, pp, {.momentum = momentum, .weight_decay = 0.01}, {.weight_decay = 0.1});
    auto b = make_optimizer(kind, fp, {.momentum = momentum, .weight_decay = 0.01}, {.weight_decay = 0.1});
    for (int step = 0; step < 3; ++step) {
      for (size_t k = 0; k < sizes.size(); ++k)
        for (int64_t i = 0; i < sizes[k]; ++i)
          plain[k].grad.data()[i] = fused[k].grad.data()[i] =
              std::cos(0.11f * static_cast<float>(i * (step + 1) + k)) * 0.5f;
      std::vector<double> expected_sq;
      for (Param* p : pp) expected_sq.push_back(sum_of_squares(p->grad.data(), p->grad.numel()));
      a->step(0.05);
      std::vector<double> sq(fp.size(), 0.0);
      b->step_fused(0.05, /*zero_grads=*/true, &sq);
      for (size_t k = 0; k < sizes.size(); ++k) {
        // Summed per 16 Ki-element chunk, then the chunks in order: not the bits of one sum over the tensor.
        EXPECT_NEAR(sq[k], expected_sq[k], 1e-9 * (1 + expected_sq[k])) << kind << " param " << k;
        for (int64_t i = 0; i < sizes[k]; ++i) {
          ASSERT_EQ(plain[k].value.data()[i], fused[k].value.data()[i])
              << kind << " step " << step << " " << i;
          ASSERT_EQ(fused[k].grad.data()[i], 0.0f);
        }
      }
    }
    std::vector<NamedTensor> sa = a->state(), sb = b->state();
    ASSERT_EQ(sa.size(), sb.size());
    for (size_t t = 0; t < sa.size(); ++t) {
      ASSERT_EQ(sa[t].name, sb[t].name);
      ASSERT_EQ(sa[t].tensor.nbytes(), sb[t].tensor.nbytes());
      EXPECT_EQ(std::memcmp(sa[t].tensor.raw(), sb[t].tensor.raw(), sa[t].tensor.nbytes()), 0) << sa[t].name;
    }
  }
}
