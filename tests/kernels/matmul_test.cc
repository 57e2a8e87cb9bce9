#include "paraxis/kernels/matmul.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

using namespace paraxis;

namespace {
std::vector<float> randv(size_t n, std::mt19937& g) {
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}
}  // namespace

// Fast (oneDNN) against the naive reference, including 1, odd sizes and non-multiples of 16.
TEST(Matmul, FastMatchesReference) {
  std::mt19937 g(3);
  const int64_t sizes[] = {1, 3, 7, 16, 17, 33, 64};
  for (int64_t m : sizes)
    for (int64_t n : {int64_t{1}, int64_t{5}, int64_t{31}})
      for (int64_t k : {int64_t{1}, int64_t{13}, int64_t{100}})
        for (int t = 0; t < 4; ++t)
          for (float beta : {0.0f, 1.0f})
            for (int64_t batch : {int64_t{1}, int64_t{3}}) {
              bool ta = t & 1, tb = t & 2;
              auto a = randv(batch * m * k, g), b = randv(batch * k * n, g), c0 = randv(batch * m * n, g);
              auto c1 = c0;
              ref::matmul(c0.data(), a.data(), b.data(), m, n, k, ta, tb, beta, batch);
              matmul(c1.data(), a.data(), b.data(), m, n, k, ta, tb, beta, batch);
              for (size_t i = 0; i < c0.size(); ++i)
                ASSERT_NEAR(c0[i], c1[i], 1e-5f * (1 + k)) << m << "x" << n << "x" << k << " t" << t;
            }
}
