// bf16 convolutions (precision.h): each pass against a float64 reference computed from the same bf16-rounded
// inputs (products of bf16 values are exact in fp32, so only fp32 accumulation differs), on the plain path
// (fewer than 16 input channels in the backward-data pass) and the blocked one, with stride and padding.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "paraxis/kernels/conv.h"
#include "paraxis/kernels/precision.h"
#include "test_support/bf16.h"

using namespace paraxis;
using paraxis::testing::bf16_rounded;
using paraxis::testing::uniform_floats;

namespace {

void expect_near(const std::vector<float>& got, const std::vector<double>& want, double tol,
                 const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], tol) << what << "[" << i << "]";
}

}  // namespace

TEST(Bf16Conv, EveryPassIsTheProductOfTheRoundedInputsAccumulatedInFp32) {
  MatmulPrecisionScope bf16(Precision::kBf16);
  std::mt19937 g(7);
  for (Conv2dShape s : {Conv2dShape{2, 1, 9, 9, 16, 5, 1, 2}, Conv2dShape{2, 16, 8, 8, 32, 3, 2, 1},
                        Conv2dShape{1, 3, 11, 11, 8, 4, 1, 0}}) {
    SCOPED_TRACE(::testing::Message() << "cin " << s.cin << " k " << s.k << " stride " << s.stride);
    const size_t nx = s.n * s.cin * s.h * s.w, nw = s.cout * s.cin * s.k * s.k,
                 ny = s.n * s.cout * s.oh() * s.ow();
    auto x = uniform_floats(nx, g), w = uniform_floats(nw, g), b = uniform_floats(s.cout, g),
         dy                = uniform_floats(ny, g);
    const double tol       = 2e-6 * (1 + s.cin * s.k * s.k + s.n * s.oh() * s.ow());
    std::vector<double> xr = bf16_rounded(x), wr = bf16_rounded(w), dyr = bf16_rounded(dy),
                        bd(b.begin(), b.end());
    std::vector<double> want_y(ny), want_dx(nx), want_dw(nw, 0.0), want_db(s.cout, 0.0);
    ref::conv2d_forward<double>(want_y.data(), xr.data(), wr.data(), bd.data(), s);
    ref::conv2d_backward_data<double>(want_dx.data(), dyr.data(), wr.data(), s);
    ref::conv2d_backward_weights<double>(want_dw.data(), want_db.data(), dyr.data(), xr.data(), s);
    std::vector<float> y(ny), dx(nx), dw(nw, 0.0f), db(s.cout, 0.0f);
    conv2d_forward(y.data(), x.data(), w.data(), b.data(), s);
    conv2d_backward_data(dx.data(), dy.data(), w.data(), s);
    conv2d_backward_weights(dw.data(), db.data(), dy.data(), x.data(), s);
    expect_near(y, want_y, tol, "y");
    expect_near(dx, want_dx, tol, "dx");
    expect_near(dw, want_dw, tol, "dw");
    // The bias gradient sums dy: bf16-rounded by the primitive (an input), fp32-accumulated.
    std::vector<double> db_rounded(s.cout, 0.0);
    ref::conv2d_backward_weights<double>(want_dw.data(), db_rounded.data(), dyr.data(), xr.data(), s);
    expect_near(db, db_rounded, tol, "db");
  }
}
