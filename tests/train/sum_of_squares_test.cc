// sum_of_squares (the vectorised gradient-norm kernel) against a plain double loop, on awkward lengths.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "paraxis/nn/optim.h"

namespace paraxis {
namespace {

TEST(SumOfSquares, MatchesPlainLoopOnAwkwardLengths) {
  std::mt19937 g(3);
  std::normal_distribution<float> d(0.0f, 2.0f);
  for (int64_t n : {0, 1, 7, 15, 16, 17, 33, 1000, 4099}) {
    std::vector<float> x(n);
    for (float& v : x) v = d(g);
    double plain = 0;
    for (float v : x) plain += static_cast<double>(v) * v;
    EXPECT_NEAR(sum_of_squares(x.data(), n), plain, 1e-12 * (plain + 1)) << "n = " << n;
  }
}

}  // namespace
}  // namespace paraxis
