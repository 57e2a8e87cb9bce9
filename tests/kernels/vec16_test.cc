// kernels/vec16.h, the 16-lane helpers of the attention kernels: exp against the scalar vec::exp lane by lane
// (bit for bit, clamps included), the horizontal max and sum against scalar loops, and the lane masks.
#include "kernels/vec16.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "kernels/vec_math.h"

using namespace paraxis;

namespace {

vec16::v16 random_vector(std::mt19937& g, float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  vec16::v16 v;
  for (int l = 0; l < 16; ++l) v[l] = d(g);
  return v;
}

TEST(Vec16, ExpMatchesScalarBitForBit) {
  std::mt19937 g(3);
  const float edges[16] = {-200.0f, -87.5f, -87.0f, -86.9f, -20.0f, -1.0f, -1e-7f, 0.0f,
                           1e-7f,   0.5f,   1.0f,   10.0f,  87.9f,  88.0f, 88.5f,  300.0f};
  vec16::v16 x;
  for (int l = 0; l < 16; ++l) x[l] = edges[l];
  for (int round = 0; round < 64; ++round, x = random_vector(g, -90.0f, 90.0f)) {
    const vec16::v16 e = vec16::exp(x);
    for (int l = 0; l < 16; ++l) {
      const float s = vec::exp(x[l]);
      EXPECT_EQ(std::memcmp(&e[l], &s, sizeof s), 0) << x[l] << ": " << e[l] << " vs " << s;
      if (x[l] > -87.0f && x[l] < 88.0f) EXPECT_NEAR(e[l] / std::exp(x[l]), 1.0f, 1e-6f) << x[l];
    }
  }
}

TEST(Vec16, HorizontalMaxAndSum) {
  std::mt19937 g(5);
  for (int round = 0; round < 32; ++round) {
    vec16::v16 v = random_vector(g, -3.0f, 3.0f);
    if (round % 2) v[round % 16] = -INFINITY;  // masked lanes hold -inf in the softmax
    float mx   = -INFINITY;
    double sum = 0.0;
    for (int l = 0; l < 16; ++l) mx = std::max(mx, v[l]), sum += v[l];
    EXPECT_EQ(vec16::hmax(v), mx);
    if (!std::isinf(sum)) EXPECT_NEAR(vec16::hsum(v), sum, 1e-5);
  }
}

TEST(Vec16, LaneMasks) {
  for (int vis = 0; vis <= 35; vis += 7) {
    const auto keep = vec16::lanes_from(16.0f) < static_cast<float>(vis);
    for (int l = 0; l < 16; ++l) EXPECT_EQ(keep[l] != 0, 16 + l < vis) << vis << " lane " << l;
  }
}

}  // namespace
