// Domain parallelism, layer by layer: a convolution, a max-pooling and the layout change split along H over
// sp devices compute the rows of the unsplit layer's output, input gradient (the adjoint of the halo
// exchange) and, summed over the devices, its weight gradients. Kernels odd and even, strides, paddings,
// heights that sp does not divide.
#include <gtest/gtest.h>

#include <mutex>

#include "parallel/spatial/layers.h"
#include "paraxis/comm/launch.h"
#include "paraxis/core/rng.h"
#include "paraxis/nn/flatten.h"

namespace paraxis {
namespace {

Tensor random(const Shape& s, uint64_t stream) {
  Tensor t = Tensor::empty(s);
  Philox r(99, stream);
  rng_fill_uniform(t, -1, 1, r);
  return t;
}

// Rows [r.begin, r.end) of dim 2 of an (N, C, H, W) tensor, copied.
Tensor rows(const Tensor& t, RowRange r) {
  const int64_t n = t.dim(0), c = t.dim(1), h = t.dim(2), w = t.dim(3);
  Tensor out = Tensor::empty({n, c, r.size(), w});
  copy_rows({out.data(), r.size(), w, 0, 0}, {const_cast<float*>(t.data()), h, w, r.begin, 0},
            {n * c, r.size(), w}, false);
  return out;
}

void expect_close(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  int bad = 0;
  for (int64_t i = 0; i < want.numel() && bad < 3; ++i)
    if (std::abs(got.data()[i] - want.data()[i]) > 2e-5 + 1e-5 * std::abs(want.data()[i])) {
      ++bad;
      ADD_FAILURE() << what << "[" << i << "] = " << got.data()[i] << ", unsplit: " << want.data()[i];
    }
}

struct ConvCase {
  int64_t k, stride, pad, h;
  int sp;
  bool input_whole = false;
};

std::string name_of(const ConvCase& c) {
  return "k" + std::to_string(c.k) + " s" + std::to_string(c.stride) + " p" + std::to_string(c.pad) + " h" +
         std::to_string(c.h) + " sp" + std::to_string(c.sp) + (c.input_whole ? " whole" : "");
}

void check_conv(const ConvCase& cc) {
  SCOPED_TRACE(name_of(cc));
  const int64_t n = 2, cin = 3, cout = 4, w = 13;
  Conv2d ref(cin, cout, cc.k, cc.stride, cc.pad, "c");
  ref.init(5);
  const Tensor x = random({n, cin, cc.h, w}, 1);
  Ctx ctx;
  const Tensor y  = ref.forward(ctx, x);
  const Tensor dy = random(y.shape(), 2);
  const Tensor dx = ref.backward(ctx, dy);
  std::mutex mu;
  Tensor dw_sum = Tensor::zeros(ref.weight().grad.shape()), db_sum = Tensor::zeros({cout});
  run_devices(cc.sp, {}, [&](Communicator& comm) {
    SpInfo sp{&comm, comm.rank(), comm.size(), {}};
    auto conv = std::make_unique<Conv2d>(cin, cout, cc.k, cc.stride, cc.pad, "c");
    conv->init(5);
    SpatialConv2d layer(std::move(conv), cc.h, sp, cc.input_whole);
    const RowRange in  = cc.input_whole ? RowRange{0, cc.h} : rows_of(cc.h, cc.sp, comm.rank());
    const RowRange out = rows_of(y.dim(2), cc.sp, comm.rank());
    Ctx c;
    const Tensor y_local  = layer.forward(c, rows(x, in));
    const Tensor dx_local = layer.backward_input(c, rows(dy, out));
    layer.backward_weight(c, rows(dy, out));
    std::lock_guard<std::mutex> lock(mu);
    expect_close(y_local, rows(y, out), "y rows of device " + std::to_string(comm.rank()));
    expect_close(dx_local, rows(dx, in), "dx rows of device " + std::to_string(comm.rank()));
    std::vector<Param*> ps;
    layer.collect_params(ps);
    for (int64_t i = 0; i < dw_sum.numel(); ++i) dw_sum.data()[i] += ps[0]->grad.data()[i];
    for (int64_t i = 0; i < cout; ++i) db_sum.data()[i] += ps[1]->grad.data()[i];
  });
  expect_close(dw_sum, ref.weight().grad, "weight gradient summed over the devices");
  expect_close(db_sum, ref.bias().grad, "bias gradient summed over the devices");
}

TEST(Spatial, RowMath) {
  EXPECT_EQ(rows_of(7, 3, 0), (RowRange{0, 2}));
  EXPECT_EQ(rows_of(7, 3, 1), (RowRange{2, 4}));
  EXPECT_EQ(rows_of(7, 3, 2), (RowRange{4, 7}));
  // AlexNet's conv1 (k11 s4 p2, 224 -> 55 rows) on 2 devices: output rows [27, 55) read input rows
  // 27*4-2 = 106 .. 54*4-2+10 = 224 (one past the image: padding).
  EXPECT_EQ(input_rows({27, 55}, 11, 4, 2), (RowRange{106, 225}));
  EXPECT_EQ(intersect({0, 5}, {5, 9}).size(), 0);
}

TEST(Spatial, ConvMatchesUnsplitConv) {
  for (int64_t k : {1, 2, 3, 4, 5, 7, 11})
    for (int64_t stride : {1, 2})
      for (int sp : {2, 3}) {
        const int64_t pad = k / 2, h = 23;  // 23: neither 2 nor 3 divides it
        check_conv({k, stride, pad, h, sp});
        check_conv({k, stride, 0, h, sp});
      }
  check_conv({11, 4, 2, 64, 2});  // AlexNet's first layer, scaled down
  check_conv({11, 4, 2, 64, 3});
  check_conv({5, 1, 2, 13, 4});        // slabs of 3-4 rows, halos of 2
  check_conv({7, 1, 3, 10, 5});        // halo wider than a slab: rows from non-neighbours
  check_conv({5, 1, 2, 13, 3, true});  // the first block: whole input on every device
}

// The forward's overlap: SpatialConv2d computes the output rows that read no received row while the halo is
// in flight, then the border rows. Received rows are the window's rows outside the member's slab and inside
// the image (padding rows are zeros, known at once); the first block receives nothing.
TEST(Spatial, ReceivedRowsAreTheHaloOnly) {
  // k5 p2, 23 rows, 2 members: member 0 owns input and output rows [0, 11), its window is rows [-2, 13).
  HaloExchange h0(23, 23, 5, 1, 2, SpInfo{nullptr, 0, 2, {}}, false);
  ASSERT_EQ(h0.window_rows(), 15);
  for (int64_t r = 0; r < 15; ++r) EXPECT_EQ(h0.received(r), r >= 13) << "member 0, window row " << r;
  // member 1: rows [11, 23), window [9, 25): rows 9 and 10 arrive, 23 and 24 are padding.
  HaloExchange h1(23, 23, 5, 1, 2, SpInfo{nullptr, 1, 2, {}}, false);
  ASSERT_EQ(h1.window_rows(), 16);
  for (int64_t r = 0; r < 16; ++r) EXPECT_EQ(h1.received(r), r < 2) << "member 1, window row " << r;
  HaloExchange whole(23, 23, 5, 1, 2, SpInfo{nullptr, 0, 2, {}}, true);
  for (int64_t r = 0; r < 15; ++r) EXPECT_FALSE(whole.received(r)) << "first block, window row " << r;
}

void check_pool(int64_t k, int64_t stride, int64_t h, int sp) {
  SCOPED_TRACE("pool k" + std::to_string(k) + " s" + std::to_string(stride) + " h" + std::to_string(h) +
               " sp" + std::to_string(sp));
  const int64_t n = 2, c = 3, w = 8;
  MaxPool2d ref(k, stride, "p");
  const Tensor x = random({n, c, h, w}, 3);
  Ctx ctx;
  const Tensor y  = ref.forward(ctx, x);
  const Tensor dy = random(y.shape(), 4);
  const Tensor dx = ref.backward_input(ctx, dy);
  std::mutex mu;
  run_devices(sp, {}, [&](Communicator& comm) {
    SpatialMaxPool2d layer(std::make_unique<MaxPool2d>(k, stride, "p"), h,
                           SpInfo{&comm, comm.rank(), sp, {}});
    const RowRange in = rows_of(h, sp, comm.rank()), out = rows_of(y.dim(2), sp, comm.rank());
    Ctx cx;
    const Tensor y_local  = layer.forward(cx, rows(x, in));
    const Tensor dx_local = layer.backward_input(cx, rows(dy, out));
    std::lock_guard<std::mutex> lock(mu);
    expect_close(y_local, rows(y, out), "pool y");
    expect_close(dx_local, rows(dx, in), "pool dx");
  });
}

TEST(Spatial, MaxPoolMatchesUnsplitPool) {
  check_pool(2, 2, 14, 2);
  check_pool(2, 2, 7, 3);   // 7 rows: the last row belongs to no window
  check_pool(3, 2, 27, 2);  // AlexNet's overlapping 3/2 windows cross the slab edges
  check_pool(3, 2, 13, 3);
  check_pool(3, 1, 11, 4);
  check_pool(2, 2, 16, 2);  // every window inside its slab: the slab is the window (no copy) and its gradient
  check_pool(2, 2, 12, 3);
}

TEST(Spatial, LayoutChangeToBatchAndBack) {
  const int64_t n = 6, c = 2, h = 7, w = 3;
  for (int sp : {2, 3}) {
    const Tensor x  = random({n, c, h, w}, 5);
    const Tensor dy = random({n, c * h * w}, 6);
    std::mutex mu;
    run_devices(sp, {}, [&](Communicator& comm) {
      SpatialToBatch layer("flatten", h, SpInfo{&comm, comm.rank(), sp, {}});
      const RowRange in = rows_of(h, sp, comm.rank()), share = rows_of(n, sp, comm.rank());
      Ctx cx;
      const Tensor y  = layer.forward(cx, rows(x, in));
      const Tensor dx = layer.backward_input(cx, dy.slice(share.begin, share.end));
      std::lock_guard<std::mutex> lock(mu);
      expect_close(y, x.slice(share.begin, share.end).view({share.size(), c * h * w}), "samples of x");
      expect_close(dx, rows(dy.view({n, c, h, w}), in), "rows of dy");
    });
  }
}

}  // namespace
}  // namespace paraxis
