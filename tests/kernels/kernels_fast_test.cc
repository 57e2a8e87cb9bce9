// Fast kernels against the reference kernels (float) on random shapes: 1, odd sizes, non-multiples of 16.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "paraxis/kernels/activation.h"
#include "paraxis/kernels/cross_entropy.h"
#include "paraxis/kernels/elementwise.h"
#include "paraxis/kernels/embedding.h"
#include "paraxis/kernels/layernorm.h"
#include "paraxis/kernels/linear.h"
#include "paraxis/kernels/matmul.h"

using namespace paraxis;

namespace {
std::vector<float> randf(size_t n, std::mt19937& g, float lo = -1, float hi = 1) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}
void expect_close(const std::vector<float>& a, const std::vector<float>& b, float atol, float rtol,
                  const std::string& what) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_NEAR(a[i], b[i], atol + rtol * std::abs(b[i])) << what << " element " << i;
}
const int64_t kSizes[] = {1, 3, 16, 17, 31, 100, 1000, 70001};  // the last one crosses the parallel threshold
}  // namespace

TEST(KernelFast, Activations) {
  std::mt19937 g(1);
  for (int64_t n : kSizes) {
    auto x = randf(n, g, -6, 6), dy = randf(n, g);
    std::vector<float> y0(n), y1(n), d0(n), d1(n);
    ref::relu_forward(y0.data(), x.data(), n);
    relu_forward(y1.data(), x.data(), n);
    expect_close(y1, y0, 0, 0, "relu");
    ref::relu_backward(d0.data(), dy.data(), y0.data(), n);
    relu_backward(d1.data(), dy.data(), y0.data(), n);
    expect_close(d1, d0, 0, 0, "relu backward");
    ref::gelu_forward(y0.data(), x.data(), n);
    gelu_forward(y1.data(), x.data(), n);
    expect_close(y1, y0, 1e-6f, 1e-6f, "gelu");
    ref::gelu_backward(d0.data(), dy.data(), x.data(), n);
    gelu_backward(d1.data(), dy.data(), x.data(), n);
    expect_close(d1, d0, 1e-6f, 1e-6f, "gelu backward");
  }
}

TEST(KernelFast, LayerNorm) {
  std::mt19937 g(2);
  for (int64_t n : {1, 5, 67, 130})
    for (int64_t c : {1, 7, 16, 33, 256}) {
      auto x = randf(n * c, g, -3, 5), w = randf(c, g), b = randf(c, g), dy = randf(n * c, g);
      std::vector<float> y0(n * c), y1(n * c), m0(n), m1(n), r0(n), r1(n);
      ref::layernorm_forward(y0.data(), m0.data(), r0.data(), x.data(), w.data(), b.data(), n, c, 1e-5f);
      layernorm_forward(y1.data(), m1.data(), r1.data(), x.data(), w.data(), b.data(), n, c, 1e-5f);
      expect_close(y1, y0, 1e-5f, 1e-5f, "layernorm y");
      expect_close(r1, r0, 0, 1e-5f, "layernorm rstd");
      std::vector<float> dx0(n * c), dx1(n * c), dw0(c, 0.5f), dw1(c, 0.5f), db0(c, 0.25f), db1(c, 0.25f);
      ref::layernorm_backward_input(dx0.data(), dy.data(), x.data(), w.data(), m0.data(), r0.data(), n, c);
      layernorm_backward_input(dx1.data(), dy.data(), x.data(), w.data(), m0.data(), r0.data(), n, c);
      expect_close(dx1, dx0, 1e-5f, 1e-4f, "layernorm dx");
      ref::layernorm_backward_weight(dw0.data(), db0.data(), dy.data(), x.data(), m0.data(), r0.data(), n, c);
      layernorm_backward_weight(dw1.data(), db1.data(), dy.data(), x.data(), m0.data(), r0.data(), n, c);
      expect_close(dw1, dw0, 1e-5f * n, 1e-5f, "layernorm dw");
      expect_close(db1, db0, 1e-5f * n, 1e-5f, "layernorm db");
    }
}

TEST(KernelFast, Embedding) {
  std::mt19937 g(3);
  for (int64_t b : {1, 3})
    for (int64_t t : {1, 17})
      for (int64_t c : {1, 5, 48}) {
        const int64_t v = 11;
        std::vector<int32_t> ids(b * t);
        for (auto& id : ids) id = static_cast<int32_t>(g() % v);
        auto wte = randf(v * c, g), wpe = randf(t * c, g), dy = randf(b * t * c, g);
        std::vector<float> y0(b * t * c), y1(b * t * c), e0(v * c, 1.0f), e1(v * c, 1.0f), p0(t * c),
            p1(t * c);
        ref::embedding_forward(y0.data(), ids.data(), wte.data(), wpe.data(), b, t, c);
        embedding_forward(y1.data(), ids.data(), wte.data(), wpe.data(), b, t, c);
        expect_close(y1, y0, 0, 0, "embedding");
        ref::embedding_backward_weight(e0.data(), p0.data(), dy.data(), ids.data(), b, t, c);
        embedding_backward_weight(e1.data(), p1.data(), dy.data(), ids.data(), b, t, c);
        expect_close(e1, e0, 1e-6f, 1e-6f, "dwte");
        expect_close(p1, p0, 1e-6f, 1e-6f, "dwpe");
      }
}

// Attention: tests/kernels/attention_fused_test.cc (the fused kernels against the float64 reference).

TEST(KernelFast, CrossEntropy) {
  std::mt19937 g(5);
  for (int64_t n : {1, 3, 64})
    for (int64_t k : {1, 2, 17, 1000}) {
      auto logits = randf(n * k, g, -20, 20);
      std::vector<int32_t> labels(n);
      for (auto& l : labels) l = static_cast<int32_t>(g() % k);
      std::vector<float> d0(n * k), d1(n * k);
      double l0 = ref::cross_entropy_forward_backward(d0.data(), logits.data(), labels.data(), n, k, 0.5f);
      double l1 = cross_entropy_forward_backward(d1.data(), logits.data(), labels.data(), n, k, 0.5f);
      EXPECT_NEAR(l1, l0, 1e-5 * (1 + std::abs(l0)));
      expect_close(d1, d0, 1e-7f, 1e-5f, "dlogits");
    }
}

TEST(KernelFast, AddAndDropout) {
  std::mt19937 g(6);
  for (int64_t n : kSizes) {
    auto a = randf(n, g), b = randf(n, g);
    std::vector<float> y0(n), y1(n);
    ref::add(y0.data(), a.data(), b.data(), n);
    add(y1.data(), a.data(), b.data(), n);
    expect_close(y1, y0, 0, 0, "add");
    add_inplace(a.data(), b.data(), n);
    expect_close(a, y0, 0, 0, "add_inplace");
    Philox rng(5, stream_id("drop"));
    ref::dropout(y0.data(), b.data(), n, 0.25f, rng);
    dropout_forward(y1.data(), b.data(), n, 0.25f, rng);
    expect_close(y1, y0, 0, 0, "dropout forward");  // the same mask, element for element
    dropout_backward(y1.data(), b.data(), n, 0.25f, rng);
    expect_close(y1, y0, 0, 0, "dropout backward");
  }
}

// Linear's forward fuses the bias into oneDNN's matmul; the reference path fills then accumulates.
TEST(KernelFast, LinearWithFusedBias) {
  std::mt19937 g(7);
  for (int64_t n : {1, 5, 33})
    for (int64_t in : {1, 17, 64})
      for (int64_t out : {1, 3, 48}) {
        auto x = randf(n * in, g), w = randf(out * in, g), b = randf(out, g);
        std::vector<float> y0(n * out), y1(n * out);
        set_kernel_path(KernelPath::kRef);
        linear_forward(y0.data(), x.data(), w.data(), b.data(), n, in, out);
        set_kernel_path(KernelPath::kFast);
        linear_forward(y1.data(), x.data(), w.data(), b.data(), n, in, out);
        expect_close(y1, y0, 1e-5f, 1e-5f, "linear");
      }
}

// Linear's input gradient: non-power-of-two widths take the transposed product + reorder, powers of two the
// direct product; both against the reference, bit-level close, on rows 1 … 70 and widths either side.
TEST(KernelFast, LinearBackwardInputBothForms) {
  std::mt19937 g(8);
  for (int64_t n : {1, 5, 32, 70})
    for (int64_t in : {1, 3, 17, 64, 96, 130})
      for (int64_t out : {1, 10, 48}) {
        auto dy = randf(n * out, g), w = randf(out * in, g);
        std::vector<float> d0(n * in), d1(n * in, 123.0f);
        set_kernel_path(KernelPath::kRef);
        linear_backward_input(d0.data(), dy.data(), w.data(), n, in, out);
        set_kernel_path(KernelPath::kFast);
        linear_backward_input(d1.data(), dy.data(), w.data(), n, in, out);
        expect_close(d1, d0, 1e-5f, 1e-5f, fmt::format("backward input n {} in {} out {}", n, in, out));
      }
}
