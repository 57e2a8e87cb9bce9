// SpatialToWhole: the flatten block under domain parallelism with model-parallel FC layers (--sp-fc model,
// Gholami et al.'s redistribution from L_D to L_M): from spatial (every sample, this member's rows) to whole
// (every sample, every row) by one all-gather over the spatial group. Slabs differ by at most one row; each
// is padded to the largest so the collective moves equal counts. The backward needs no exchange: the FC
// side's column-parallel input gradient is already all-reduced, so each member slices out its own rows.
#include "parallel/spatial/layers.h"
#include "paraxis/comm/communicator.h"
#include "paraxis/core/error.h"
#include "paraxis/trace/recorder.h"

namespace paraxis {

namespace {
int64_t largest_slab(int64_t h, int sp) {
  return (h + sp - 1) / sp;
}
}  // namespace

SpatialToWhole::SpatialToWhole(std::string name, int64_t h, const SpInfo& sp, std::unique_ptr<Layer> then)
    : Layer(std::move(name)), h_(h), sp_(sp), then_(std::move(then)) {}

Shape SpatialToWhole::output_shape(const Shape& in) const {
  PX_USER_CHECK(in.size() == 4, "flatten {}: input {} is not (N, C, rows, W)", name_, shape_str(in));
  return layout_change_shape(then_.get(), {in[0], in[1], h_, in[3]});
}

Tensor SpatialToWhole::forward(Ctx& ctx, const Tensor& x) {
  const int64_t t0    = trace::now_ns();
  const RowRange mine = rows_of(h_, sp_.size, sp_.rank);
  PX_CHECK(x.shape().size() == 4 && x.dim(2) == mine.size(), "flatten {}: input {} but {} own rows", name_,
           shape_str(x.shape()), mine.size());
  const int64_t n = x.dim(0), c = x.dim(1), w = x.dim(3), slab = largest_slab(h_, sp_.size);
  Tensor padded = Tensor::zeros({n, c, slab, w});
  copy_rows({padded.data(), slab, w, 0, 0}, {const_cast<float*>(x.data()), mine.size(), w, 0, 0},
            {n * c, mine.size(), w}, false);
  Tensor parts = Tensor::empty({sp_.size, n, c, slab, w});  // rank-major
  sp_.comm->all_gather(parts.data(), padded.data(), padded.numel());
  Tensor out = Tensor::empty({n, c, h_, w});
  for (int q = 0; q < sp_.size; ++q) {
    const RowRange rows = rows_of(h_, sp_.size, q);
    copy_rows({out.data(), h_, w, rows.begin, 0}, {parts.data() + q * padded.numel(), slab, w, 0, 0},
              {n * c, rows.size(), w}, false);
  }
  if (sp_.record) sp_.record(t0, trace::now_ns(), 2 * (sp_.size - 1) * padded.nbytes(), true);
  ctx.in_shape = x.shape();
  return after_layout_change(then_.get(), ctx, std::move(out));
}

Tensor SpatialToWhole::backward_input(Ctx& ctx, const Tensor& dy) {
  const Shape in = ctx.in_shape;
  check_shape(dy, output_shape(in), "flatten backward dy");
  const RowRange mine = rows_of(h_, sp_.size, sp_.rank);
  const Tensor dwhole = before_layout_change(then_.get(), ctx, dy, {in[0], in[1], h_, in[3]});
  Tensor dx           = Tensor::empty(in);  // (N, C, my rows, W)
  copy_rows({dx.data(), mine.size(), in[3], 0, 0},
            {const_cast<float*>(dwhole.data()), h_, in[3], mine.begin, 0},
            {in[0] * in[1], mine.size(), in[3]}, false);
  return dx;
}

ExchangeRows SpatialToWhole::forward_rows(int /*member*/, int64_t n) const {
  const int64_t rows = n * largest_slab(h_, sp_.size) * (sp_.size - 1);
  return {rows, rows, sp_.size - 1, sp_.size - 1};
}

Cost SpatialToWhole::cost(const Shape& in) const {
  // The all-gather's bytes are communication, not compute; a block after it has its own cost.
  return then_ ? then_->cost({in[0], in[1], h_, in[3]}) : Cost{};
}

}  // namespace paraxis
