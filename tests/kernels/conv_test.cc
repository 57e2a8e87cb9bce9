// Convolution and max-pool kernels: float64 finite differences on the reference, fast vs reference on awkward
// shapes (1, odd sizes, channel counts that are not multiples of 16, stride 2, pad 0/1/2, k 1/3/5).
#include "paraxis/kernels/conv.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

#include "paraxis/kernels/matmul.h"

using namespace paraxis;

namespace {
template <class T>
std::vector<T> randv(size_t n, std::mt19937& g) {
  std::uniform_real_distribution<double> d(-1, 1);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(d(g));
  return v;
}

int64_t in_size(const Conv2dShape& s) {
  return s.n * s.cin * s.h * s.w;
}
int64_t out_size(const Conv2dShape& s) {
  return s.n * s.cout * s.oh() * s.ow();
}
int64_t w_size(const Conv2dShape& s) {
  return s.cout * s.cin * s.k * s.k;
}

// L = sum(y * r) with y = conv(x, w) + b, in double.
double conv_loss(const std::vector<double>& x, const std::vector<double>& w, const std::vector<double>& b,
                 const std::vector<double>& r, const Conv2dShape& s) {
  std::vector<double> y(out_size(s));
  ref::conv2d_forward<double>(y.data(), x.data(), w.data(), b.data(), s);
  return std::inner_product(y.begin(), y.end(), r.begin(), 0.0);
}

// Central difference of f over every element of v, compared with the analytic gradient.
template <class F>
void expect_fd(std::vector<double>& v, const std::vector<double>& analytic, F f, const char* what) {
  const double eps = 1e-6;
  for (size_t i = 0; i < v.size(); ++i) {
    double keep = v[i];
    v[i]        = keep + eps;
    double up   = f();
    v[i]        = keep - eps;
    double down = f();
    v[i]        = keep;
    ASSERT_NEAR((up - down) / (2 * eps), analytic[i], 1e-6) << what << " element " << i;
  }
}

const Conv2dShape kFdShapes[] = {
    {2, 3, 5, 6, 4, 3, 1, 1},  // same-size output
    {1, 2, 7, 5, 3, 3, 2, 0},  // stride 2, no padding, odd sizes
    {2, 1, 4, 4, 2, 5, 2, 2},  // kernel larger than the unpadded input
    {1, 3, 3, 2, 2, 1, 1, 2},  // 1x1 kernel with padding: a border of pure bias
};
}  // namespace

TEST(Conv2dRef, BackwardMatchesFiniteDifferencesFloat64) {
  std::mt19937 g(11);
  for (const Conv2dShape& s : kFdShapes) {
    auto x = randv<double>(in_size(s), g), w = randv<double>(w_size(s), g);
    auto b = randv<double>(s.cout, g), r = randv<double>(out_size(s), g);
    std::vector<double> dx(x.size()), dw(w.size(), 0.0), db(b.size(), 0.0);
    ref::conv2d_backward_data<double>(dx.data(), r.data(), w.data(), s);
    ref::conv2d_backward_weights<double>(dw.data(), db.data(), r.data(), x.data(), s);
    auto loss = [&] { return conv_loss(x, w, b, r, s); };
    expect_fd(x, dx, loss, "dx");
    expect_fd(w, dw, loss, "dw");
    expect_fd(b, db, loss, "db");
  }
}

TEST(MaxPool2dRef, BackwardMatchesFiniteDifferencesFloat64) {
  std::mt19937 g(12);
  const Pool2dShape shapes[] = {
      {2, 3, 6, 6, 2, 2}, {1, 2, 7, 5, 3, 2}, {1, 1, 5, 4, 3, 1}, {1, 1, 1, 1, 1, 1}};
  for (const Pool2dShape& s : shapes) {
    const int64_t nin = s.n * s.c * s.h * s.w, nout = s.n * s.c * s.oh() * s.ow();
    // Distinct values 0.01 apart: no ties, so no window changes its maximum within +-eps.
    std::vector<double> x(nin);
    for (int64_t i = 0; i < nin; ++i) x[i] = 0.01 * static_cast<double>(i);
    std::shuffle(x.begin(), x.end(), g);
    auto r = randv<double>(nout, g);
    std::vector<double> dx(nin);
    ref::maxpool2d_backward<double>(dx.data(), r.data(), x.data(), s);
    auto loss = [&] {
      std::vector<double> y(nout);
      ref::maxpool2d_forward<double>(y.data(), x.data(), s);
      return std::inner_product(y.begin(), y.end(), r.begin(), 0.0);
    };
    expect_fd(x, dx, loss, "pool dx");
  }
}

namespace {
void expect_close(const std::vector<float>& want, const std::vector<float>& got, float tol, const char* what,
                  const Conv2dShape& s) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(want[i], got[i], tol * (1.0f + std::fabs(want[i])))
        << what << " at " << i << " for n" << s.n << " cin" << s.cin << " " << s.h << "x" << s.w << " cout"
        << s.cout << " k" << s.k << " s" << s.stride << " p" << s.pad;
}

void check_fast_conv(const Conv2dShape& s, std::mt19937& g) {
  auto x = randv<float>(in_size(s), g), w = randv<float>(w_size(s), g), b = randv<float>(s.cout, g);
  auto dy   = randv<float>(out_size(s), g);
  float tol = 2e-5f * std::sqrt(static_cast<float>(s.cin * s.k * s.k + s.n * s.oh() * s.ow()));
  for (bool bias : {true, false}) {
    std::vector<float> y0(out_size(s)), y1(out_size(s));
    ref::conv2d_forward<float>(y0.data(), x.data(), w.data(), bias ? b.data() : nullptr, s);
    conv2d_forward(y1.data(), x.data(), w.data(), bias ? b.data() : nullptr, s);
    expect_close(y0, y1, tol, bias ? "forward+bias" : "forward", s);
  }
  std::vector<float> dx0(in_size(s)), dx1(in_size(s), 123.0f);  // fast must overwrite
  ref::conv2d_backward_data<float>(dx0.data(), dy.data(), w.data(), s);
  conv2d_backward_data(dx1.data(), dy.data(), w.data(), s);
  expect_close(dx0, dx1, tol, "backward data", s);
  // Both accumulate into the same non-zero starting gradients.
  auto dw0 = randv<float>(w_size(s), g), db0 = randv<float>(s.cout, g);
  auto dw1 = dw0, db1 = db0, dw2 = dw0;
  ref::conv2d_backward_weights<float>(dw0.data(), db0.data(), dy.data(), x.data(), s);
  conv2d_backward_weights(dw1.data(), db1.data(), dy.data(), x.data(), s);
  conv2d_backward_weights(dw2.data(), nullptr, dy.data(), x.data(), s);
  expect_close(dw0, dw1, tol, "backward weights", s);
  expect_close(db0, db1, tol, "backward bias", s);
  expect_close(dw0, dw2, tol, "backward weights without bias", s);
}
}  // namespace

TEST(Conv2d, FastMatchesReference) {
  std::mt19937 g(5);
  // Hand-picked awkward cases first, then random ones over the same ranges.
  std::vector<Conv2dShape> shapes = {
      {1, 1, 1, 1, 1, 1, 1, 0},   {1, 1, 28, 28, 16, 5, 1, 2}, {3, 16, 14, 14, 32, 5, 1, 2},
      {2, 17, 9, 7, 19, 3, 2, 1}, {1, 3, 5, 5, 2, 5, 2, 2},    {2, 5, 6, 3, 7, 1, 2, 2},
      {1, 33, 4, 9, 1, 3, 1, 0},
  };
  const int64_t ks[] = {1, 3, 5};
  for (int i = 0; i < 24; ++i) {
    Conv2dShape s;
    s.n      = 1 + g() % 3;
    s.cin    = 1 + g() % 20;
    s.cout   = 1 + g() % 20;
    s.k      = ks[g() % 3];
    s.stride = 1 + g() % 2;
    s.pad    = g() % 3;
    s.h      = std::max<int64_t>(1, s.k - 2 * s.pad) + g() % 9;
    s.w      = std::max<int64_t>(1, s.k - 2 * s.pad) + g() % 9;
    shapes.push_back(s);
  }
  for (const Conv2dShape& s : shapes) check_fast_conv(s, g);
}

TEST(Conv2d, ReferencePathIsSelectable) {
  std::mt19937 g(6);
  Conv2dShape s{2, 3, 6, 5, 4, 3, 2, 1};
  auto x = randv<float>(in_size(s), g), w = randv<float>(w_size(s), g), b = randv<float>(s.cout, g);
  std::vector<float> y0(out_size(s)), y1(out_size(s));
  ref::conv2d_forward<float>(y0.data(), x.data(), w.data(), b.data(), s);
  set_kernel_path(KernelPath::kRef);
  conv2d_forward(y1.data(), x.data(), w.data(), b.data(), s);
  set_kernel_path(KernelPath::kFast);
  EXPECT_EQ(y0, y1);  // bit-identical: the same loop ran
}

TEST(MaxPool2d, FastMatchesReference) {
  std::mt19937 g(7);
  std::vector<Pool2dShape> shapes = {{1, 1, 1, 1, 1, 1}, {2, 16, 28, 28, 2, 2}, {1, 3, 7, 5, 2, 2},
                                     {2, 5, 9, 8, 3, 2}, {1, 2, 6, 7, 3, 1},    {3, 1, 5, 5, 5, 3}};
  for (int i = 0; i < 20; ++i) {
    Pool2dShape s;
    s.n = 1 + g() % 3, s.c = 1 + g() % 18, s.k = 1 + g() % 3, s.stride = 1 + g() % 3;
    s.h = s.k + g() % 9, s.w = s.k + g() % 9;
    shapes.push_back(s);
  }
  for (const Pool2dShape& s : shapes) {
    const int64_t nin = s.n * s.c * s.h * s.w, nout = s.n * s.c * s.oh() * s.ow();
    auto x = randv<float>(nin, g), dy = randv<float>(nout, g);
    for (int64_t i = 0; i < nin; i += 5) x[i] = 0.5f;  // some ties: the first maximum must win in both
    std::vector<float> y0(nout), y1(nout), dx0(nin), dx1(nin, 7.0f);
    std::vector<int32_t> argmax(nout);
    ref::maxpool2d_forward<float>(y0.data(), x.data(), s);
    maxpool2d_forward(y1.data(), argmax.data(), x.data(), s);
    ASSERT_EQ(y0, y1) << s.n << "x" << s.c << "x" << s.h << "x" << s.w << " k" << s.k << " s" << s.stride;
    ref::maxpool2d_backward<float>(dx0.data(), dy.data(), x.data(), s);
    maxpool2d_backward(dx1.data(), dy.data(), argmax.data(), s);
    for (int64_t i = 0; i < nin; ++i) ASSERT_FLOAT_EQ(dx0[i], dx1[i]) << "dx at " << i;
  }
}

// Devices are threads: each thread builds its own primitives and staging buffers; running the same shapes on
// two threads at once must give each the reference answer.
TEST(Conv2d, ConcurrentThreadsMatchReference) {
  std::vector<std::thread> threads;
  std::vector<int> failures(2, 0);
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([t, &failures] {
      set_kernel_threads(1);
      std::mt19937 g(100 + t);
      for (const Conv2dShape& s :
           {Conv2dShape{4, 16, 14, 14, 32, 5, 1, 2}, Conv2dShape{3, 1, 11, 9, 16, 5, 2, 2}})
        for (int rep = 0; rep < 3; ++rep) {
          auto x = randv<float>(in_size(s), g), w = randv<float>(w_size(s), g),
               dy = randv<float>(out_size(s), g);
          std::vector<float> y0(out_size(s)), y1(out_size(s)), dw0(w_size(s), 0.0f), dw1(w_size(s), 0.0f);
          ref::conv2d_forward<float>(y0.data(), x.data(), w.data(), nullptr, s);
          conv2d_forward(y1.data(), x.data(), w.data(), nullptr, s);
          ref::conv2d_backward_weights<float>(dw0.data(), nullptr, dy.data(), x.data(), s);
          conv2d_backward_weights(dw1.data(), nullptr, dy.data(), x.data(), s);
          for (size_t i = 0; i < y0.size(); ++i) failures[t] += std::fabs(y0[i] - y1[i]) > 1e-4f;
          for (size_t i = 0; i < dw0.size(); ++i)
            failures[t] += std::fabs(dw0[i] - dw1[i]) > 1e-4f * (1 + std::fabs(dw0[i]));
        }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures[0], 0);
  EXPECT_EQ(failures[1], 0);
}
