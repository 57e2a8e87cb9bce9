// Float64 finite differences of the reference kernels' backward passes (the oracle's own check).
#include <gtest/gtest.h>

#include "nn/grad_check.h"
#include "paraxis/kernels/activation.h"
#include "paraxis/kernels/attention.h"
#include "paraxis/kernels/cross_entropy.h"
#include "paraxis/kernels/elementwise.h"
#include "paraxis/kernels/embedding.h"
#include "paraxis/kernels/layernorm.h"

using namespace paraxis;
using namespace paraxis::testing;

namespace {
double dotv(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}
// Values away from 0, where ReLU has its kink.
std::vector<double> away_from_zero(size_t n, std::mt19937& g) {
  auto v = rand_doubles(n, g);
  for (auto& x : v) x += x < 0 ? -0.1 : 0.1;
  return v;
}
}  // namespace

TEST(KernelFD, ReluAndGelu) {
  std::mt19937 g(1);
  const int64_t n = 37;
  auto x = away_from_zero(n, g), r = rand_doubles(n, g);
  std::vector<double> y(n), dx(n);
  auto relu_loss = [&] {
    ref::relu_forward(y.data(), x.data(), n);
    return dotv(y, r);
  };
  relu_loss();
  ref::relu_backward(dx.data(), r.data(), y.data(), n);
  fd_check_double(x, dx, relu_loss, 1e-6, 1e-6, "relu");

  for (auto& v : x) v *= 3;  // cover the tails of GELU too
  auto gelu_loss = [&] {
    ref::gelu_forward(y.data(), x.data(), n);
    return dotv(y, r);
  };
  ref::gelu_backward(dx.data(), r.data(), x.data(), n);
  fd_check_double(x, dx, gelu_loss, 1e-6, 1e-6, "gelu");
}

TEST(KernelFD, LayerNorm) {
  std::mt19937 g(2);
  const int64_t n = 3, c = 7;
  auto x = rand_doubles(n * c, g), w = rand_doubles(c, g), b = rand_doubles(c, g), r = rand_doubles(n * c, g);
  for (auto& v : x) v = 2 * v + 0.5;
  std::vector<double> y(n * c), mean(n), rstd(n), dx(n * c), dw(c, 0.0), db(c, 0.0);
  auto loss = [&] {
    ref::layernorm_forward(y.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), n, c, 1e-5);
    return dotv(y, r);
  };
  loss();
  ref::layernorm_backward_input(dx.data(), r.data(), x.data(), w.data(), mean.data(), rstd.data(), n, c);
  ref::layernorm_backward_weight(dw.data(), db.data(), r.data(), x.data(), mean.data(), rstd.data(), n, c);
  fd_check_double(x, dx, loss, 1e-6, 1e-6, "layernorm dx");
  fd_check_double(w, dw, loss, 1e-6, 1e-6, "layernorm dw");
  fd_check_double(b, db, loss, 1e-6, 1e-6, "layernorm db");
}

TEST(KernelFD, Embedding) {
  std::mt19937 g(3);
  const int64_t v = 5, t = 3, b = 2, c = 4;
  std::vector<int32_t> ids = {0, 3, 3, 4, 1, 3};  // repeated tokens must accumulate
  auto wte = rand_doubles(v * c, g), wpe = rand_doubles(t * c, g), r = rand_doubles(b * t * c, g);
  std::vector<double> y(b * t * c), dwte(v * c, 0.0), dwpe(t * c, 0.0);
  auto loss = [&] {
    ref::embedding_forward(y.data(), ids.data(), wte.data(), wpe.data(), b, t, c);
    return dotv(y, r);
  };
  ref::embedding_backward_weight(dwte.data(), dwpe.data(), r.data(), ids.data(), b, t, c);
  fd_check_double(wte, dwte, loss, 1e-6, 1e-6, "wte");
  fd_check_double(wpe, dwpe, loss, 1e-6, 1e-6, "wpe");
}

TEST(KernelFD, CausalAttention) {
  std::mt19937 g(4);
  const int64_t b = 2, t = 5, c = 6, nh = 2, n = b * t * c;
  auto qkv = rand_doubles(3 * n, g, -2, 2), r = rand_doubles(n, g);
  std::vector<double> out(n), heads(3 * n), probs(b * nh * t * t), dqkv(3 * n);
  auto loss = [&] {
    ref::attention_forward(out.data(), heads.data(), heads.data() + n, heads.data() + 2 * n, probs.data(),
                           qkv.data(), b, t, c, nh);
    return dotv(out, r);
  };
  loss();
  // Causality: probabilities above the diagonal are exactly zero and rows sum to one.
  for (int64_t z = 0; z < b * nh; ++z)
    for (int64_t i = 0; i < t; ++i) {
      double sum = 0;
      for (int64_t j = 0; j < t; ++j) {
        if (j > i) ASSERT_EQ(probs[(z * t + i) * t + j], 0.0);
        sum += probs[(z * t + i) * t + j];
      }
      ASSERT_NEAR(sum, 1.0, 1e-12);
    }
  ref::attention_backward(dqkv.data(), r.data(), heads.data(), heads.data() + n, heads.data() + 2 * n,
                          probs.data(), b, t, c, nh);
  fd_check_double(qkv, dqkv, loss, 1e-6, 1e-6, "attention dqkv");
}

TEST(KernelFD, SoftmaxCrossEntropy) {
  std::mt19937 g(5);
  const int64_t n = 4, k = 6;
  auto logits                 = rand_doubles(n * k, g, -3, 3);
  logits[0]                   = 500;  // a large logit: the stable form must not overflow
  std::vector<int32_t> labels = {0, 5, 2, 2};
  std::vector<double> dlogits(n * k), scratch(n * k);
  ref::cross_entropy_forward_backward(dlogits.data(), logits.data(), labels.data(), n, k, 1.0);
  auto loss = [&] {
    return ref::cross_entropy_forward_backward(scratch.data(), logits.data(), labels.data(), n, k, 1.0);
  };
  ASSERT_TRUE(std::isfinite(loss()));
  fd_check_double(logits, dlogits, loss, 1e-6, 1e-6, "dlogits");
}

TEST(KernelFD, DropoutBackwardUsesTheForwardMask) {
  std::mt19937 g(6);
  const int64_t n = 41;
  Philox rng(9, 3);
  auto x = rand_doubles(n, g), r = rand_doubles(n, g);
  std::vector<double> y(n), dx(n);
  auto loss = [&] {
    ref::dropout(y.data(), x.data(), n, 0.3f, rng);
    return dotv(y, r);
  };
  ref::dropout(dx.data(), r.data(), n, 0.3f, rng);
  fd_check_double(x, dx, loss, 1e-6, 1e-6, "dropout");
  int zeros = 0;
  for (double v : y) zeros += v == 0.0;
  EXPECT_GT(zeros, 0);
  EXPECT_LT(zeros, n);
}
