// AdaptiveAvgPool2d (torch.nn.AdaptiveAvgPool2d) against the naive double-precision oracle (kernels/ref):
// PyTorch's bins (uneven and overlapping when shrinking, replicated when growing), the forward and the
// gradient (the oracle's own gradient checked by finite differences), the identity at equal sizes.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "nn/grad_check.h"
#include "paraxis/kernels/adaptive_pool.h"
#include "paraxis/nn/adaptive_avgpool2d.h"
#include "test_support/user_error.h"

namespace paraxis {
namespace {

using testing::rand_tensor;

// PyTorch's bins by hand: 5 rows to 3 are [0,2), [1,4), [3,5); 2 rows to 6 repeat each row three times.
TEST(AdaptiveAvgPool2d, BinsAreTorchs) {
  const std::vector<std::pair<int64_t, int64_t>> five_to_three = {{0, 2}, {1, 4}, {3, 5}};
  for (int64_t i = 0; i < 3; ++i)
    EXPECT_EQ(std::make_pair(adaptive_bin_begin(i, 5, 3), adaptive_bin_end(i, 5, 3)), five_to_three[i]);
  for (int64_t i = 0; i < 6; ++i) {
    EXPECT_EQ(adaptive_bin_begin(i, 2, 6), i / 3);
    EXPECT_EQ(adaptive_bin_end(i, 2, 6), i / 3 + 1);
  }
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(adaptive_bin_end(i, 6, 6) - adaptive_bin_begin(i, 6, 6), 1);
}

// The layer (fp32) against the oracle in double on shrinking, growing and mixed shapes, forward and backward.
TEST(AdaptiveAvgPool2d, MatchesTheDoubleOracleForwardAndGradient) {
  std::mt19937 g(31);
  const std::vector<AdaptivePool2dShape> shapes = {
      {2, 3, 5, 7, 3, 4},  // uneven, overlapping bins on both axes
      {1, 2, 2, 3, 6, 6},  // smaller than the output: replicated
      {2, 2, 13, 9, 6, 6},
      {1, 1, 1, 1, 6, 6},
  };
  for (const AdaptivePool2dShape& s : shapes) {
    SCOPED_TRACE(::testing::Message() << s.h << "x" << s.w << " -> " << s.oh << "x" << s.ow);
    AdaptiveAvgPool2d pool(s.oh, s.ow, "avgpool");
    const Tensor x = rand_tensor({s.n, s.c, s.h, s.w}, g);
    Ctx ctx;
    const Tensor y = pool.forward(ctx, x);
    ASSERT_EQ(y.shape(), (Shape{s.n, s.c, s.oh, s.ow}));
    std::vector<double> xd = testing::to_double(x), want(y.numel());
    ref::adaptive_avgpool2d_forward<double>(want.data(), xd.data(), s);
    for (int64_t i = 0; i < y.numel(); ++i) ASSERT_NEAR(y.data()[i], want[i], 1e-6) << "y " << i;

    const Tensor dy         = rand_tensor(y.shape(), g);
    const Tensor dx         = pool.backward(ctx, dy);
    std::vector<double> dyd = testing::to_double(dy), dx_ref(x.numel());
    ref::adaptive_avgpool2d_backward<double>(dx_ref.data(), dyd.data(), s);
    for (int64_t i = 0; i < x.numel(); ++i) ASSERT_NEAR(dx.data()[i], dx_ref[i], 1e-6) << "dx " << i;

    // The oracle's gradient is the derivative of its forward: L = sum(y * dy), central differences.
    std::vector<double> out(y.numel());
    auto loss = [&] {
      ref::adaptive_avgpool2d_forward<double>(out.data(), xd.data(), s);
      double l = 0;
      for (size_t i = 0; i < out.size(); ++i) l += out[i] * dyd[i];
      return l;
    };
    testing::fd_check_double(xd, dx_ref, loss, 1e-7, 1e-6, "oracle dx");
  }
}

TEST(AdaptiveAvgPool2d, IsTheIdentityAtEqualSizes) {
  std::mt19937 g(32);
  AdaptiveAvgPool2d pool(6, 6, "avgpool");
  const Tensor x = rand_tensor({2, 4, 6, 6}, g);
  Ctx ctx;
  EXPECT_EQ(pool.forward(ctx, x).to_vector(), x.to_vector());
  const Tensor dy = rand_tensor({2, 4, 6, 6}, g);
  EXPECT_EQ(pool.backward(ctx, dy).to_vector(), dy.to_vector());
  EXPECT_TRUE(pool.params().empty());
  EXPECT_EQ(ctx.stashed_bytes(), 0);  // only the input's shape is kept
}

TEST(AdaptiveAvgPool2d, ShapeErrors) {
  AdaptiveAvgPool2d pool(6, 6, "avgpool");
  Ctx ctx;
  testing::expect_user_error([&] { pool.forward(ctx, Tensor::zeros({4, 16})); }, {"(4, 16)", "(N, C, H, W)"});
  testing::expect_user_error([&] { AdaptiveAvgPool2d bad(0, 6, "bad"); }, "0x6");
}

}  // namespace
}  // namespace paraxis
