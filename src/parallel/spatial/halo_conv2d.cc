// SpatialConv2d: a convolution on this member's output rows. The forward gathers the window rows (input
// halo, zero padding only at the image border, made explicit so the kernel runs with pad 0); the input
// gradient is the window's gradient sent back to the rows' owners (output-gradient halo, the adjoint). Both
// overlap the exchange with compute: the forward computes its interior rows while the halo arrives, the
// backward its own rows' gradient while the halo's gradients travel back.
#include <algorithm>

#include "parallel/spatial/layers.h"
#include "paraxis/core/error.h"
#include "paraxis/trace/recorder.h"

namespace paraxis {

namespace {
int64_t conv_out(int64_t h, const Conv2d& c) {
  return (h + 2 * c.pad() - c.kernel()) / c.stride() + 1;
}
}  // namespace

SpatialConv2d::SpatialConv2d(std::unique_ptr<Conv2d> conv, int64_t h_in, const SpInfo& sp, bool input_whole)
    : Layer(conv->name()),
      conv_(std::move(conv)),
      halo_(h_in, conv_out(h_in, *conv_), conv_->kernel(), conv_->stride(), conv_->pad(), sp, input_whole) {}

Conv2dShape SpatialConv2d::window_shape(const Shape& in) const {
  PX_USER_CHECK(in.size() == 4 && in[1] == conv_->in_channels() && in[2] == halo_.own_in().size(),
                "conv2d {}: input {} does not match expected (N, {}, {}, W) (this device's rows)", name_,
                shape_str(in), conv_->in_channels(), halo_.own_in().size());
  const int64_t p = conv_->pad();
  return Conv2dShape{
      in[0],           in[1], halo_.window_rows(), in[3] + 2 * p, conv_->out_channels(), conv_->kernel(),
      conv_->stride(), 0};
}

Shape SpatialConv2d::output_shape(const Shape& in) const {
  Conv2dShape s = window_shape(in);
  return {s.n, s.cout, s.oh(), s.ow()};
}

// Window rows [rows) of the input gradient into dwin (N, Cin, window rows, W'), exact: the output rows that
// read them (and only those) copied out of dy, their data gradient computed on a window of their own, the
// wanted rows copied into place. Rows no output reads (stride > kernel) get zero.
void SpatialConv2d::backward_rows(Tensor& dwin, const Tensor& dy, RowRange rows, const Conv2dShape& s) const {
  if (rows.size() == 0) return;
  const int64_t k = s.k, st = s.stride, planes_in = s.n * s.cin, planes_out = s.n * s.cout;
  const int64_t first = rows.begin - k + 1;
  const int64_t o_lo  = first <= 0 ? 0 : (first + st - 1) / st;  // the first output row reading rows.begin
  const int64_t o_hi  = std::min(s.oh(), (rows.end - 1) / st + 1);
  Tensor zero         = Tensor::zeros({planes_in, rows.size(), s.w});
  copy_rows({dwin.data(), s.h, s.w, rows.begin, 0}, {zero.data(), rows.size(), s.w, 0, 0},
            {planes_in, rows.size(), s.w}, false);
  if (o_lo >= o_hi) return;
  Conv2dShape part = s;
  part.h           = (o_hi - o_lo - 1) * st + k;
  Tensor dy_part   = Tensor::empty({s.n, s.cout, o_hi - o_lo, s.ow()});
  Tensor dx_part   = Tensor::empty({s.n, s.cin, part.h, s.w});
  copy_rows({dy_part.data(), o_hi - o_lo, s.ow(), 0, 0},
            {const_cast<float*>(dy.data()), s.oh(), s.ow(), o_lo, 0}, {planes_out, o_hi - o_lo, s.ow()},
            false);
  conv2d_backward_data(dx_part.data(), dy_part.data(), conv_->weight().value.data(), part);
  const RowRange done = intersect(rows, {o_lo * st, o_lo * st + part.h});
  copy_rows({dwin.data(), s.h, s.w, done.begin, 0}, {dx_part.data(), part.h, s.w, done.begin - o_lo * st, 0},
            {planes_in, done.size(), s.w}, false);
}

// The local output rows whose windows read no received row, [begin, end) (empty when none, or when every
// row reads one): they can be computed while the halo is in flight.
RowRange SpatialConv2d::interior_rows(const Conv2dShape& s) const {
  int64_t begin = s.oh(), end = 0;
  for (int64_t o = 0; o < s.oh(); ++o) {
    bool reads_halo = false;
    for (int64_t r = o * s.stride; r < o * s.stride + s.k && !reads_halo; ++r) reads_halo = halo_.received(r);
    if (!reads_halo) begin = std::min(begin, o), end = o + 1;
  }
  return begin < end ? RowRange{begin, end} : RowRange{0, 0};
}

std::pair<double, double> SpatialConv2d::overlap_shares(const Shape& in) const {
  const Conv2dShape s = window_shape(in);
  if (!halo_.exchanges() || s.oh() == 0 || s.h == 0) return {0.0, 0.0};
  const RowRange own = halo_.own_window_rows();
  const double inner = static_cast<double>(interior_rows(s).size()) / static_cast<double>(s.oh());
  const bool back    = own.size() > 0 && own.size() < s.h;  // backward_input's overlap condition
  return {inner, back ? static_cast<double>(own.size()) / static_cast<double>(s.h) : 0.0};
}

// Output rows [rows) of the window's convolution into y (N, Cout, OH, OW): the window rows they read copied
// to a contiguous block, convolved, the result copied into place.
void SpatialConv2d::conv_rows(Tensor& y, const Tensor& win, RowRange rows, const Conv2dShape& s) const {
  if (rows.size() == 0) return;
  Conv2dShape part        = s;
  part.h                  = (rows.size() - 1) * s.stride + s.k;
  const int64_t planes_in = s.n * s.cin, planes_out = s.n * s.cout;
  Tensor in  = Tensor::empty({s.n, s.cin, part.h, s.w});
  Tensor out = Tensor::empty({s.n, s.cout, rows.size(), s.ow()});
  copy_rows({in.data(), part.h, s.w, 0, 0},
            {const_cast<float*>(win.data()), s.h, s.w, rows.begin * s.stride, 0}, {planes_in, part.h, s.w},
            false);
  conv2d_forward(out.data(), in.data(), conv_->weight().value.data(),
                 conv_->has_bias() ? conv_->bias().value.data() : nullptr, part);
  copy_rows({y.data(), s.oh(), s.ow(), rows.begin, 0}, {out.data(), rows.size(), s.ow(), 0, 0},
            {planes_out, rows.size(), s.ow()}, false);
}

Tensor SpatialConv2d::forward(Ctx& ctx, const Tensor& x) {
  const Conv2dShape s = window_shape(x.shape());
  PX_CHECK(s.oh() == halo_.own_out().size(), "conv2d {}: window gives {} rows, owns {}", name_, s.oh(),
           halo_.own_out().size());
  HaloExchange::Pending pending = halo_.gather_start(x, conv_->pad());
  Tensor y                      = Tensor::empty({s.n, s.cout, s.oh(), s.ow()});  // (N, Cout, own rows, OW)
  const RowRange inner          = pending.recvs.empty() ? RowRange{0, 0} : interior_rows(s);
  conv_rows(y, pending.window, inner, s);     // the interior while the halo is in flight
  Tensor win = halo_.gather_finish(pending);  // (N, Cin, window rows, W + 2 pad)
  if (inner.size() == 0) {
    conv2d_forward(y.data(), win.data(), conv_->weight().value.data(),
                   conv_->has_bias() ? conv_->bias().value.data() : nullptr, s);
  } else {  // the border rows, which read the halo
    conv_rows(y, win, {0, inner.begin}, s);
    conv_rows(y, win, {inner.end, s.oh()}, s);
  }
  ctx.in_shape = x.shape();
  ctx.saved    = {win};  // for the weight gradient
  return y;
}

Tensor SpatialConv2d::backward_input(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(!ctx.saved.empty(), "conv2d {}: backward_input without forward", name_);
  check_shape(dy, output_shape(ctx.in_shape), "spatial conv2d backward dy");
  const Conv2dShape s = window_shape(ctx.in_shape);
  Tensor dwin         = Tensor::empty(ctx.saved[0].shape());  // (N, Cin, window rows, W + 2 pad)
  const RowRange own  = halo_.own_window_rows();
  if (!halo_.exchanges() || own.size() == 0 || own.size() == s.h) {  // nothing to overlap
    conv2d_backward_data(dwin.data(), dy.data(), conv_->weight().value.data(), s);
    return halo_.scatter_add(std::move(dwin), conv_->pad());
  }
  // The rows that go back to other members first, then this member's own rows while they are in flight
  // (the forward's overlap, mirrored: DistConv's).
  backward_rows(dwin, dy, {0, own.begin}, s);
  backward_rows(dwin, dy, {own.end, s.h}, s);
  HaloExchange::Pending pending = halo_.scatter_start(dwin, conv_->pad());
  backward_rows(dwin, dy, own, s);
  return halo_.scatter_finish(pending, std::move(dwin), conv_->pad(), trace::now_ns());
}

void SpatialConv2d::backward_weight(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(!ctx.saved.empty(), "conv2d {}: backward_weight without forward", name_);
  conv2d_backward_weights(conv_->weight().grad.data(),
                          conv_->has_bias() ? conv_->bias().grad.data() : nullptr, dy.data(),
                          ctx.saved[0].data(), window_shape(ctx.in_shape));
  ctx.saved.clear();
}

Cost SpatialConv2d::cost(const Shape& in) const {
  // The single-device layer's cost on an input whose padded height is this window (same output rows).
  const Conv2dShape s = window_shape(in);
  return conv_->cost({s.n, s.cin, std::max<int64_t>(1, s.h - 2 * conv_->pad()), in[3]});
}

}  // namespace paraxis
