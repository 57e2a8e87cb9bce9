// SpatialToBatch: the flatten block under domain parallelism, where the layout changes from spatial (every
// sample, this member's rows) to batch (this member's share of the samples, every row): an all-to-all of
// unequal pieces over the spatial group, by send/recv. Its backward is the same exchange reversed.
#include "parallel/spatial/layers.h"
#include "paraxis/comm/communicator.h"
#include "paraxis/core/error.h"
#include "paraxis/trace/recorder.h"

namespace paraxis {

namespace {
constexpr int kLayoutTag = 0x4a20;
}

SpatialToBatch::SpatialToBatch(std::string name, int64_t h, const SpInfo& sp, std::unique_ptr<Layer> then)
    : Layer(std::move(name)), h_(h), sp_(sp), then_(std::move(then)) {}

Shape SpatialToBatch::output_shape(const Shape& in) const {
  PX_USER_CHECK(in.size() == 4, "flatten {}: input {} is not (N, C, rows, W)", name_, shape_str(in));
  return layout_change_shape(then_.get(), {rows_of(in[0], sp_.size, sp_.rank).size(), in[1], h_, in[3]});
}

Tensor SpatialToBatch::forward(Ctx& ctx, const Tensor& x) {
  const int64_t t0    = trace::now_ns();
  const RowRange mine = rows_of(h_, sp_.size, sp_.rank);
  PX_CHECK(x.shape().size() == 4 && x.dim(2) == mine.size(), "flatten {}: input {} but {} own rows", name_,
           shape_str(x.shape()), mine.size());
  const int64_t n = x.dim(0), c = x.dim(1), w = x.dim(3);
  const RowRange share = rows_of(n, sp_.size, sp_.rank);
  Tensor out           = Tensor::empty({share.size(), c, h_, w});  // (my samples, C, H, W)
  std::vector<Work> sends;
  int64_t bytes = 0;
  for (int q = 0; q < sp_.size; ++q) {  // q's samples of my rows: a contiguous slice of x
    const RowRange s = rows_of(n, sp_.size, q);
    if (q == sp_.rank || s.size() == 0) continue;
    const Tensor part = x.slice(s.begin, s.end);
    sends.push_back(sp_.comm->send_async(part.data(), part.numel(), q, kLayoutTag));
    bytes += part.nbytes();
  }
  for (int q = 0; q < sp_.size; ++q) {
    const RowRange rows = rows_of(h_, sp_.size, q);
    Tensor part =
        q == sp_.rank ? x.slice(share.begin, share.end) : Tensor::empty({share.size(), c, rows.size(), w});
    if (q != sp_.rank && share.size() > 0) sp_.comm->recv(part.data(), part.numel(), q, kLayoutTag);
    copy_rows({out.data(), h_, w, rows.begin, 0}, {const_cast<float*>(part.data()), rows.size(), w, 0, 0},
              {share.size() * c, rows.size(), w}, false);
    if (q != sp_.rank) bytes += part.nbytes();
  }
  for (Work& s : sends) s.wait();
  if (sp_.record) sp_.record(t0, trace::now_ns(), bytes, true);
  ctx.in_shape = x.shape();
  return after_layout_change(then_.get(), ctx, std::move(out));
}

Tensor SpatialToBatch::backward_input(Ctx& ctx, const Tensor& dy) {
  const Shape in  = ctx.in_shape;
  const int64_t n = in[0], c = in[1], w = in[3];
  const RowRange share = rows_of(n, sp_.size, sp_.rank);
  check_shape(dy, output_shape(in), "flatten backward dy");
  const Tensor dwhole = before_layout_change(then_.get(), ctx, dy, {share.size(), c, h_, w});
  const int64_t t0    = trace::now_ns();    // the LAYOUT event: the exchange, not the block before it
  Tensor dx           = Tensor::empty(in);  // (N, C, my rows, W)
  std::vector<std::pair<Work, Tensor>> sends;
  int64_t bytes = 0;
  for (int q = 0; q < sp_.size; ++q) {  // q's rows of my samples' gradient
    const RowRange rows = rows_of(h_, sp_.size, q);
    Tensor part =
        q == sp_.rank ? dx.slice(share.begin, share.end) : Tensor::empty({share.size(), c, rows.size(), w});
    copy_rows({part.data(), rows.size(), w, 0, 0}, {const_cast<float*>(dwhole.data()), h_, w, rows.begin, 0},
              {share.size() * c, rows.size(), w}, false);
    if (q == sp_.rank || share.size() == 0) continue;
    sends.emplace_back(sp_.comm->send_async(part.data(), part.numel(), q, kLayoutTag + 1), part);
    bytes += part.nbytes();
  }
  for (int q = 0; q < sp_.size; ++q) {  // my rows of q's samples
    const RowRange s = rows_of(n, sp_.size, q);
    if (q == sp_.rank || s.size() == 0) continue;
    Tensor part = dx.slice(s.begin, s.end);
    sp_.comm->recv(part.data(), part.numel(), q, kLayoutTag + 1);
    bytes += part.nbytes();
  }
  for (auto& s : sends) s.first.wait();
  if (sp_.record) sp_.record(t0, trace::now_ns(), bytes, true);
  return dx;
}

ExchangeRows SpatialToBatch::forward_rows(int member, int64_t n) const {
  ExchangeRows r;
  const int64_t mine = rows_of(h_, sp_.size, member).size(), share = rows_of(n, sp_.size, member).size();
  for (int q = 0; q < sp_.size; ++q) {
    if (q == member) continue;
    const int64_t out = mine * rows_of(n, sp_.size, q).size(), in = share * rows_of(h_, sp_.size, q).size();
    r.sent += out, r.sends += out > 0;
    r.received += in, r.receives += in > 0;
  }
  return r;
}

Cost SpatialToBatch::cost(const Shape& in) const {
  // The exchange's bytes are communication, not compute; a flatten is a view, a block after it its own cost.
  return then_ ? then_->cost({rows_of(in[0], sp_.size, sp_.rank).size(), in[1], h_, in[3]}) : Cost{};
}

}  // namespace paraxis
