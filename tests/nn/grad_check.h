// Test helpers: random tensors and finite-difference gradient checks.
//  * fd_check_double: elementwise central differences of a scalar function of double arrays (the reference
//    kernels run in double), tight tolerance.
//  * fd_check_layer: directional central differences through a float Layer's public API; checks the input
//    gradient and every parameter gradient along a random direction, with a float-sized tolerance.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "paraxis/nn/layer.h"

namespace paraxis::testing {

inline std::vector<double> rand_doubles(size_t n, std::mt19937& g, double lo = -1, double hi = 1) {
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

inline Tensor rand_tensor(const Shape& s, std::mt19937& g, float lo = -1, float hi = 1) {
  std::uniform_real_distribution<float> d(lo, hi);
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = d(g);
  return t;
}

inline std::vector<double> to_double(const Tensor& t) {
  std::vector<double> v(t.numel());
  for (int64_t i = 0; i < t.numel(); ++i) v[i] = t.data()[i];
  return v;
}

inline double dot(const Tensor& a, const Tensor& b) {
  double s = 0;
  for (int64_t i = 0; i < a.numel(); ++i) s += static_cast<double>(a.data()[i]) * b.data()[i];
  return s;
}

// Compares grad (analytic d f / d x) with central differences of f at x, element by element.
inline void fd_check_double(std::vector<double>& x, const std::vector<double>& grad,
                            const std::function<double()>& f, double tol = 1e-6, double eps = 1e-6,
                            const char* what = "") {
  ASSERT_EQ(x.size(), grad.size());
  for (size_t i = 0; i < x.size(); ++i) {
    double keep = x[i];
    x[i]        = keep + eps;
    double fp   = f();
    x[i]        = keep - eps;
    double fm   = f();
    x[i]        = keep;
    double num  = (fp - fm) / (2 * eps);
    ASSERT_NEAR(grad[i], num, tol * (1 + std::abs(num))) << what << " element " << i;
  }
}

// Directional finite differences through the layer's forward: L(x, params) = sum(forward(x) * r).
// The layer's gradients are zeroed first; the layer must be deterministic (dropout keyed on ctx).
inline void fd_check_layer(Layer& layer, const Tensor& x, double rtol = 2e-2, float eps = 1e-2f,
                           uint32_t seed = 7, bool check_input = true, Ctx proto = Ctx()) {
  std::mt19937 g(seed);
  layer.zero_grad();
  Ctx ctx   = proto;
  Tensor y  = layer.forward(ctx, x);
  Tensor r  = rand_tensor(y.shape(), g);
  Tensor dx = layer.backward(ctx, r);
  auto loss = [&](const Tensor& in) {
    Ctx c = proto;
    return dot(layer.forward(c, in), r);
  };
  auto compare = [&](double analytic, double numeric, const std::string& what) {
    double scale = std::max({std::abs(analytic), std::abs(numeric), 1e-2});
    EXPECT_NEAR(analytic, numeric, rtol * scale) << layer.kind() << " " << layer.name() << ": " << what;
  };
  if (check_input) {
    Tensor v  = rand_tensor(x.shape(), g);
    Tensor xp = x.clone(), xm = x.clone();
    for (int64_t i = 0; i < x.numel(); ++i) {
      xp.data()[i] += eps * v.data()[i];
      xm.data()[i] -= eps * v.data()[i];
    }
    compare(dot(dx, v), (loss(xp) - loss(xm)) / (2.0 * eps), "input gradient");
  }
  for (Param* p : layer.params()) {
    Tensor v    = rand_tensor(p->value.shape(), g);
    Tensor keep = p->value.clone();
    for (int64_t i = 0; i < v.numel(); ++i) p->value.data()[i] = keep.data()[i] + eps * v.data()[i];
    double lp = loss(x);
    for (int64_t i = 0; i < v.numel(); ++i) p->value.data()[i] = keep.data()[i] - eps * v.data()[i];
    double lm = loss(x);
    p->value.copy_from(keep);
    compare(dot(p->grad, v), (lp - lm) / (2.0 * eps), p->name);
  }
}

}  // namespace paraxis::testing
