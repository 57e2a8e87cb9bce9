// The fused elementwise kernels of the GPT block (kernels/fused.h) against the unfused composition of the
// reference kernels run in float64: residual add (+ dropout) then LayerNorm; LayerNorm's input gradient plus
// the residual gradient and its weight gradients; GELU's gradient and the bias gradient's column sums; the
// residual add of a dropped-out branch. Odd sizes (C not a multiple of 16, rows above and below the parallel
// threshold), with and without dropout, and with one and two threads.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "paraxis/kernels/activation.h"
#include "paraxis/kernels/elementwise.h"
#include "paraxis/kernels/fused.h"
#include "paraxis/kernels/layernorm.h"
#include "paraxis/kernels/matmul.h"

using namespace paraxis;

namespace {

struct Size {
  int64_t n, c;
};
const Size kSizes[] = {{1, 1}, {7, 19}, {3, 33}, {130, 17}, {65, 48}};

std::vector<float> randf(size_t n, std::mt19937& g, float lo = -1, float hi = 1) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}
std::vector<double> wide(const std::vector<float>& v) {
  return {v.begin(), v.end()};
}
void expect_close(const std::vector<float>& got, const std::vector<double>& want, double atol, double rtol,
                  const char* what, Size s) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], atol + rtol * std::abs(want[i]))
        << what << " element " << i << " (N " << s.n << ", C " << s.c << ")";
}

// The branch's dropout in float64: the same mask as the float kernels (ref::dropout draws it identically).
std::vector<double> dropped(const std::vector<double>& f, float p, const Philox* rng) {
  std::vector<double> out(f.size());
  if (rng && p > 0.0f)
    ref::dropout(out.data(), f.data(), static_cast<int64_t>(f.size()), p, *rng);
  else
    out = f;
  return out;
}

class FusedKernels : public ::testing::TestWithParam<int> {  // the thread count
 protected:
  void SetUp() override { set_kernel_threads(GetParam()); }
  void TearDown() override { set_kernel_threads(1); }
};

TEST_P(FusedKernels, ResidualLayerNormForward) {
  std::mt19937 g(181);
  const Philox rng(7, 11);
  for (Size s : kSizes)
    for (float p : {0.0f, 0.3f}) {
      const int64_t nc = s.n * s.c;
      auto x = randf(nc, g, -2, 3), f = randf(nc, g), w = randf(s.c, g, 0.5f, 1.5f), b = randf(s.c, g);
      std::vector<float> h(nc), y(nc), mean(s.n), rstd(s.n);
      residual_layernorm_forward(h.data(), y.data(), mean.data(), rstd.data(), x.data(), f.data(), w.data(),
                                 b.data(), s.n, s.c, 1e-5f, {p, &rng});
      auto hd = dropped(wide(f), p, &rng), xd = wide(x), wd = wide(w), bd = wide(b);
      std::vector<double> yd(nc), md(s.n), rd(s.n);
      ref::add(hd.data(), xd.data(), hd.data(), nc);
      ref::layernorm_forward(yd.data(), md.data(), rd.data(), hd.data(), wd.data(), bd.data(), s.n, s.c,
                             1e-5);
      expect_close(h, hd, 1e-6, 1e-6, "h", s);
      expect_close(y, yd, 2e-5, 1e-5, "y", s);
      expect_close(mean, md, 1e-6, 1e-6, "mean", s);
      expect_close(rstd, rd, 1e-5, 1e-4, "rstd", s);
    }
}

TEST_P(FusedKernels, LayerNormBackwardWithResidual) {
  std::mt19937 g(182);
  for (Size s : kSizes)
    for (bool residual : {false, true}) {
      const int64_t nc = s.n * s.c;
      auto h = randf(nc, g, -2, 3), dy = randf(nc, g), dres = randf(nc, g), w = randf(s.c, g, 0.5f, 1.5f);
      auto hd = wide(h), wd = wide(w), dyd = wide(dy);
      std::vector<double> yd(nc), md(s.n), rd(s.n), bd(s.c, 0.0);
      ref::layernorm_forward(yd.data(), md.data(), rd.data(), hd.data(), wd.data(), bd.data(), s.n, s.c,
                             1e-5);
      std::vector<float> mean(md.begin(), md.end()), rstd(rd.begin(), rd.end());
      // Gradients accumulate: start from non-zero buffers.
      auto dw = randf(s.c, g), db = randf(s.c, g);
      std::vector<double> dwd = wide(dw), dbd = wide(db), dxd(nc);
      std::vector<float> dx(nc);
      layernorm_backward_fused(dx.data(), dw.data(), db.data(), dy.data(), residual ? dres.data() : nullptr,
                               h.data(), w.data(), mean.data(), rstd.data(), s.n, s.c);
      ref::layernorm_backward_input(dxd.data(), dyd.data(), hd.data(), wd.data(), md.data(), rd.data(), s.n,
                                    s.c);
      if (residual) {
        auto dresd = wide(dres);
        ref::add(dxd.data(), dxd.data(), dresd.data(), nc);
      }
      ref::layernorm_backward_weight(dwd.data(), dbd.data(), dyd.data(), hd.data(), md.data(), rd.data(), s.n,
                                     s.c);
      expect_close(dx, dxd, 1e-4, 1e-4, "dx", s);
      expect_close(dw, dwd, 1e-4, 1e-5, "dw", s);
      expect_close(db, dbd, 1e-4, 1e-5, "db", s);
    }
}

TEST_P(FusedKernels, GeluBackwardWithBiasSums) {
  std::mt19937 g(183);
  for (Size s : kSizes)
    for (bool bias : {false, true}) {
      const int64_t nc = s.n * s.c;
      auto u = randf(nc, g, -4, 4), dy = randf(nc, g), db = randf(s.c, g);
      std::vector<double> ud = wide(u), dyd = wide(dy), dud(nc), dbd = wide(db);
      std::vector<float> du(nc);
      gelu_backward_bias(du.data(), bias ? db.data() : nullptr, dy.data(), u.data(), s.n, s.c);
      ref::gelu_backward(dud.data(), dyd.data(), ud.data(), nc);
      for (int64_t i = 0; i < s.n; ++i)
        for (int64_t j = 0; j < s.c; ++j) dbd[j] += dud[i * s.c + j];
      expect_close(du, dud, 1e-6, 1e-5, "du", s);
      if (bias) expect_close(db, dbd, 1e-5, 1e-5, "db", s);
    }
}

TEST_P(FusedKernels, ResidualDropoutAdd) {
  std::mt19937 g(184);
  const Philox rng(3, 5);
  for (int64_t n : {1, 7, 1023, 1025, 70001})
    for (float p : {0.0f, 0.5f}) {
      auto x = randf(n, g), f = randf(n, g);
      std::vector<float> y(n);
      residual_dropout_add(y.data(), x.data(), f.data(), n, {p, &rng});
      auto yd = dropped(wide(f), p, &rng), xd = wide(x);
      ref::add(yd.data(), xd.data(), yd.data(), n);
      expect_close(y, yd, 1e-6, 1e-6, "y", {n, 1});
      // The float dropout kernel draws the same mask: the fused pass equals dropout then add.
      std::vector<float> dropped_f(n);
      dropout_forward(dropped_f.data(), f.data(), n, p, rng);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(y[i], x[i] + (p > 0 ? dropped_f[i] : f[i])) << i;
    }
}

INSTANTIATE_TEST_SUITE_P(Threads, FusedKernels, ::testing::Values(1, 2));

}  // namespace
