// bf16 matrix products (precision.h): the rounding itself, then every product form against a float64
// reference computed from the same bf16-rounded inputs — bf16 × bf16 products are exact in fp32, so the only
// difference left is fp32 accumulation — and against the fp32 product within the bf16 bound.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "paraxis/kernels/linear.h"
#include "paraxis/kernels/matmul.h"
#include "paraxis/kernels/precision.h"
#include "paraxis/nn/linear.h"
#include "test_support/bf16.h"
#include "test_support/user_error.h"

using namespace paraxis;
using paraxis::testing::bf16_rounded;
using paraxis::testing::uniform_floats;

namespace {

// c[b][i][j] = beta c + Σ_k a[b][i][k] b[b][k][j] in float64, a stored (K, M) when ta, b stored (N, K) when tb.
std::vector<double> reference(const std::vector<double>& a, const std::vector<double>& b,
                              const std::vector<float>& c0, int64_t m, int64_t n, int64_t k, bool ta, bool tb,
                              float beta, int64_t batch) {
  std::vector<double> c(c0.begin(), c0.end());
  for (int64_t s = 0; s < batch; ++s)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t p = 0; p < k; ++p)
          acc += a[s * m * k + (ta ? p * m + i : i * k + p)] * b[s * k * n + (tb ? j * k + p : p * n + j)];
        double& out = c[s * m * n + i * n + j];
        out         = beta * out + acc;
      }
  return c;
}

}  // namespace

TEST(Bf16, RoundsToNearestEvenAndKeepsSpecialValues) {
  const float inf             = std::numeric_limits<float>::infinity();
  const std::vector<float> in = {
      1.0f, 1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, 1.0f + 0x1p-8f + 0x1p-20f, -2.5f, inf, -inf, 0.0f};
  std::vector<uint16_t> out(in.size());
  to_bf16(out.data(), in.data(), static_cast<int64_t>(in.size()));
  EXPECT_EQ(out[0], 0x3f80);  // 1
  EXPECT_EQ(out[1], 0x3f80);  // halfway between 1 and 1 + 2^-7: ties to the even 1
  EXPECT_EQ(out[2], 0x3f82);  // halfway between 1 + 2^-7 and 1 + 2^-6: ties to the even 1 + 2^-6
  EXPECT_EQ(out[3], 0x3f81);  // just above halfway: up
  EXPECT_EQ(from_bf16(out[4]), -2.5f);
  EXPECT_EQ(from_bf16(out[5]), inf);
  EXPECT_EQ(from_bf16(out[6]), -inf);
  EXPECT_EQ(out[7], 0);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  uint16_t nan_bits;
  to_bf16(&nan_bits, &nan, 1);
  EXPECT_TRUE(std::isnan(from_bf16(nan_bits)));
}

TEST(Bf16, MatmulIsTheExactProductOfTheRoundedInputsAccumulatedInFp32) {
  MatmulPrecisionScope bf16(Precision::kBf16);
  std::mt19937 g(11);
  for (int64_t m : {int64_t{1}, int64_t{7}, int64_t{33}})
    for (int64_t n : {int64_t{1}, int64_t{31}})
      for (int64_t k : {int64_t{1}, int64_t{13}, int64_t{300}})
        for (int t = 0; t < 4; ++t)
          for (float beta : {0.0f, 1.0f})
            for (int64_t batch : {int64_t{1}, int64_t{3}}) {
              const bool ta = t & 1, tb = t & 2;
              auto a = uniform_floats(batch * m * k, g), b = uniform_floats(batch * k * n, g),
                   c = uniform_floats(batch * m * n, g);
              const std::vector<double> want =
                  reference(bf16_rounded(a), bf16_rounded(b), c, m, n, k, ta, tb, beta, batch);
              const std::vector<double> fp32 =
                  reference({a.begin(), a.end()}, {b.begin(), b.end()}, c, m, n, k, ta, tb, beta, batch);
              matmul(c.data(), a.data(), b.data(), m, n, k, ta, tb, beta, batch);
              for (size_t i = 0; i < c.size(); ++i) {
                ASSERT_NEAR(c[i], want[i], 2e-6 * (1 + k)) << m << "x" << n << "x" << k << " t" << t;
                ASSERT_NEAR(c[i], fp32[i], k * 0x1p-8 + 1e-5) << "within the bf16 bound of fp32";
              }
            }
}

TEST(Bf16, LinearForwardWithBiasRoundsItsInputsNotItsBias) {
  MatmulPrecisionScope bf16(Precision::kBf16);
  std::mt19937 g(5);
  const int64_t n = 9, in = 70, out = 13;
  auto x = uniform_floats(n * in, g), w = uniform_floats(out * in, g), bias = uniform_floats(out, g);
  std::vector<float> y(n * out);
  linear_forward(y.data(), x.data(), w.data(), bias.data(), n, in, out);
  const std::vector<double> xr = bf16_rounded(x), wr = bf16_rounded(w);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < out; ++j) {
      double want = bias[j];
      for (int64_t p = 0; p < in; ++p) want += xr[i * in + p] * wr[j * in + p];
      ASSERT_NEAR(y[i * out + j], want, 2e-6 * in) << i << "," << j;
    }
}

// The forward rounds w into the caller's buffer and the input pass reads that buffer (not w): same results
// as rounding at each call, on both input-pass routes (in a power of two, and not), with and without a bias.
TEST(Bf16, LinearRoundsItsWeightOnceForTheForwardAndTheInputPass) {
  MatmulPrecisionScope bf16(Precision::kBf16);
  ASSERT_TRUE(linear_rounds_weights());
  std::mt19937 g(8);
  for (int64_t in : {int64_t{64}, int64_t{70}})
    for (bool with_bias : {true, false}) {
      const int64_t n = 5, out = 11;
      auto x = uniform_floats(n * in, g), w = uniform_floats(out * in, g), bias = uniform_floats(out, g),
           dy        = uniform_floats(n * out, g);
      const float* b = with_bias ? bias.data() : nullptr;
      std::vector<float> y0(n * out), y1(n * out), dx0(n * in), dx1(n * in), dx2(n * in);
      std::vector<uint16_t> kept(out * in), want(out * in);
      linear_forward(y0.data(), x.data(), w.data(), b, n, in, out);
      linear_forward(y1.data(), x.data(), w.data(), b, n, in, out, kept.data());
      to_bf16(want.data(), w.data(), out * in);
      EXPECT_EQ(kept, want) << "in " << in;
      EXPECT_EQ(y1, y0) << "in " << in << " bias " << with_bias;
      linear_backward_input(dx0.data(), dy.data(), w.data(), n, in, out);
      linear_backward_input(dx1.data(), dy.data(), w.data(), n, in, out, kept.data());
      EXPECT_EQ(dx1, dx0) << "in " << in;
      std::vector<float> other = uniform_floats(out * in, g);  // the pass reads the buffer, not w
      to_bf16(kept.data(), other.data(), out * in);
      linear_backward_input(dx2.data(), dy.data(), w.data(), n, in, out, kept.data());
      linear_backward_input(dx0.data(), dy.data(), other.data(), n, in, out);
      EXPECT_EQ(dx2, dx0) << "in " << in;
    }
}

// The layer reuses its forward's rounding in backward_input, and never a rounding of other weight storage.
TEST(Bf16, LinearLayerReusesItsForwardsRoundingOfItsOwnWeightOnly) {
  MatmulPrecisionScope bf16(Precision::kBf16);
  std::mt19937 g(9);
  const int64_t n = 3, in = 24, out = 7;
  Linear layer(in, out, "fc");
  layer.init(1);
  Ctx ctx;
  const Tensor x  = Tensor::from_vector({n, in}, uniform_floats(n * in, g));
  const Tensor dy = Tensor::from_vector({n, out}, uniform_floats(n * out, g));
  (void)layer.forward(ctx, x);
  std::vector<float> want(n * in);
  linear_backward_input(want.data(), dy.data(), layer.weight().value.data(), n, in, out);
  Tensor dx = layer.backward_input(ctx, dy);
  EXPECT_EQ(std::vector<float>(dx.data(), dx.data() + dx.numel()), want);
  layer.weight().value = Tensor::from_vector({out, in}, uniform_floats(out * in, g));  // new storage
  linear_backward_input(want.data(), dy.data(), layer.weight().value.data(), n, in, out);
  dx = layer.backward_input(ctx, dy);
  EXPECT_EQ(std::vector<float>(dx.data(), dx.data() + dx.numel()), want);
}

TEST(Bf16, PrecisionNamesAreCheckedAsUserInput) {
  EXPECT_EQ(parse_precision("bf16"), Precision::kBf16);
  EXPECT_EQ(parse_precision("fp32"), Precision::kFp32);
  EXPECT_USER_ERROR(parse_precision("fp16"), "'fp16'", "fp32", "bf16");
}
