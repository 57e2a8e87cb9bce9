// The fused attention kernels (flash-attention blocks, online softmax, logsumexp kept) against the naive
// reference run in float64: output, logsumexp and dqkv (dq, dk, dv), causal and not, on sizes that are not
// multiples of the 64-row block (T = 1, 7, 63, 65, 130), one head and several; outputs start as NaN.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "paraxis/kernels/attention.h"
#include "paraxis/kernels/matmul.h"

using namespace paraxis;

namespace {

struct Case {
  int64_t b, t, c, nh;
  bool causal;
};

struct Result {
  std::vector<double> out, lse, dqkv;
};

// The float64 oracle on the float inputs.
Result reference(const std::vector<float>& qkv, const std::vector<float>& dout, const Case& s) {
  const int64_t n = s.b * s.t * s.c;
  std::vector<double> x(qkv.begin(), qkv.end()), dy(dout.begin(), dout.end()), heads(3 * n),
      probs(s.b * s.nh * s.t * s.t);
  Result r{std::vector<double>(n), std::vector<double>(s.b * s.nh * s.t), std::vector<double>(3 * n)};
  double* q = heads.data();
  ref::attention_forward(r.out.data(), q, q + n, q + 2 * n, probs.data(), x.data(), s.b, s.t, s.c, s.nh,
                         s.causal, r.lse.data());
  ref::attention_backward(r.dqkv.data(), dy.data(), q, q + n, q + 2 * n, probs.data(), s.b, s.t, s.c, s.nh,
                          s.causal);
  return r;
}

// The outputs start as NaN: the kernels must write every element (dqkv is accumulated in place, so it must
// clear it first), not rely on the caller's zeros.
Result fused(const std::vector<float>& qkv, const std::vector<float>& dout, const Case& s) {
  const int64_t n = s.b * s.t * s.c;
  const float nan = std::nanf("");
  std::vector<float> out(n, nan), lse(s.b * s.nh * s.t, nan), dqkv(3 * n, nan);
  attention_forward(out.data(), lse.data(), qkv.data(), s.b, s.t, s.c, s.nh, s.causal);
  attention_backward(dqkv.data(), dout.data(), qkv.data(), out.data(), lse.data(), s.b, s.t, s.c, s.nh,
                     s.causal);
  return {{out.begin(), out.end()}, {lse.begin(), lse.end()}, {dqkv.begin(), dqkv.end()}};
}

void expect_near(const std::vector<double>& got, const std::vector<double>& want, double atol, double rtol,
                 const char* what, const Case& s) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], atol + rtol * std::abs(want[i]))
        << what << " element " << i << " (B " << s.b << ", T " << s.t << ", C " << s.c << ", NH " << s.nh
        << (s.causal ? ", causal)" : ", not causal)");
}

std::vector<float> random_values(size_t n, std::mt19937& g, float spread) {
  std::uniform_real_distribution<float> d(-spread, spread);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

const Case kCases[] = {
    {1, 1, 4, 1, true},    {2, 7, 12, 3, true},   {1, 63, 16, 1, true},   {1, 65, 24, 1, false},
    {2, 65, 40, 5, true},  {1, 130, 64, 1, true}, {2, 130, 36, 2, false}, {1, 64, 128, 2, true},
    {3, 33, 17, 1, false}, {1, 129, 80, 1, true},
};

}  // namespace

TEST(AttentionFused, MatchesFloat64Reference) {
  std::mt19937 g(18);
  for (const Case& s : kCases) {
    const int64_t n = s.b * s.t * s.c;
    auto qkv = random_values(3 * n, g, 2.0f), dout = random_values(n, g, 1.0f);
    Result want = reference(qkv, dout, s), got = fused(qkv, dout, s);
    expect_near(got.out, want.out, 2e-5, 1e-4, "out", s);
    expect_near(got.lse, want.lse, 2e-5, 1e-5, "logsumexp", s);
    expect_near(got.dqkv, want.dqkv, 2e-5, 1e-4, "dqkv", s);
  }
}

// Peaked softmax rows (large scores): the online rescaling must keep the running sums finite and exact.
TEST(AttentionFused, LargeScores) {
  std::mt19937 g(19);
  for (bool causal : {true, false}) {
    const Case s{1, 150, 32, 2, causal};
    auto qkv = random_values(3 * s.b * s.t * s.c, g, 6.0f), dout = random_values(s.b * s.t * s.c, g, 1.0f);
    Result want = reference(qkv, dout, s), got = fused(qkv, dout, s);
    expect_near(got.out, want.out, 1e-4, 1e-4, "out", s);
    expect_near(got.dqkv, want.dqkv, 1e-3, 1e-3, "dqkv", s);
  }
}

// PARAXIS_KERNELS=ref routes the fused entry points to the naive kernels: the same results.
TEST(AttentionFused, ReferencePathAgrees) {
  std::mt19937 g(20);
  const Case s{2, 70, 24, 3, true};
  auto qkv = random_values(3 * s.b * s.t * s.c, g, 2.0f), dout = random_values(s.b * s.t * s.c, g, 1.0f);
  Result fast = fused(qkv, dout, s);
  set_kernel_path(KernelPath::kRef);
  Result slow = fused(qkv, dout, s);
  set_kernel_path(KernelPath::kFast);
  expect_near(slow.out, fast.out, 2e-5, 1e-4, "out", s);
  expect_near(slow.lse, fast.lse, 2e-5, 1e-5, "logsumexp", s);
  expect_near(slow.dqkv, fast.dqkv, 2e-5, 1e-4, "dqkv", s);
}

// The work counted for the cost model: causal skips the blocks above the diagonal.
TEST(AttentionFused, BlockEntries) {
  EXPECT_DOUBLE_EQ(attention_block_entries(1), 1.0);
  EXPECT_DOUBLE_EQ(attention_block_entries(64), 64.0 * 64);
  EXPECT_DOUBLE_EQ(attention_block_entries(130), 64.0 * 64 + 64.0 * 128 + 2.0 * 130);
  EXPECT_DOUBLE_EQ(attention_block_entries(130, false), 130.0 * 130);
}
