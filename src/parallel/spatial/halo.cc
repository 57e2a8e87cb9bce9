// The halo exchange: rows a member's windows read but another member owns travel by point-to-point
// send/recv over the spatial group; the backward sends their gradients back (the adjoint) and the owner adds
// them. docs/domain-parallelism.md, "Halos from the output side".
#include "parallel/spatial/halo.h"

#include <cstring>

#include "paraxis/comm/communicator.h"
#include "paraxis/core/error.h"
#include "paraxis/trace/recorder.h"

namespace paraxis {

namespace {
constexpr int kHaloTag = 0x4a10;
}

void copy_rows(PlaneView dst, const PlaneView& src, const RowBlock& b, bool add) {
  for (int64_t p = 0; p < b.planes; ++p)
    for (int64_t r = 0; r < b.rows; ++r) {
      float* d       = dst.data + (p * dst.h + dst.row + r) * dst.w + dst.col;
      const float* s = src.data + (p * src.h + src.row + r) * src.w + src.col;
      if (add)
        for (int64_t c = 0; c < b.cols; ++c) d[c] += s[c];
      else
        std::memcpy(d, s, sizeof(float) * b.cols);
    }
}

HaloExchange::HaloExchange(int64_t h_in, int64_t h_out, int64_t k, int64_t stride, int64_t pad,
                           const SpInfo& sp, bool input_whole)
    : h_in_(h_in), sp_(sp), input_whole_(input_whole) {
  for (int r = 0; r < sp.size; ++r) {
    own_in_.push_back(rows_of(h_in, sp.size, r));
    window_of_.push_back(input_rows(rows_of(h_out, sp.size, r), k, stride, pad));
  }
  own_out_ = rows_of(h_out, sp.size, sp.rank);
  window_  = window_of_[sp.rank];
}

RowRange HaloExchange::needed_by(int member) const {
  return intersect(window_of_[member], {0, h_in_});
}

ExchangeRows HaloExchange::forward_rows(int member) const {
  ExchangeRows r;
  if (input_whole_ || !sp_.active()) return r;
  for (int q = 0; q < sp_.size; ++q) {
    if (q == member) continue;
    const int64_t out = intersect(own_in_[member], needed_by(q)).size();
    const int64_t in  = intersect(own_in_[q], needed_by(member)).size();
    r.sent += out, r.sends += out > 0;
    r.received += in, r.receives += in > 0;
  }
  return r;
}

void HaloExchange::record(int64_t t0, int64_t bytes) const {
  if (sp_.record && bytes > 0)
    sp_.record(t0, trace::now_ns(), bytes, false);  // windows inside the slab: no event
}

Tensor HaloExchange::gather(const Tensor& x, int64_t wpad) const {
  Pending p = gather_start(x, wpad);
  return gather_finish(p);
}

bool HaloExchange::received(int64_t row) const {
  const int64_t g    = window_.begin + row;  // the input row it holds
  const RowRange own = own_in();
  return !input_whole_ && sp_.active() && g >= 0 && g < h_in_ && (g < own.begin || g >= own.end);
}

HaloExchange::Pending HaloExchange::gather_start(const Tensor& x, int64_t wpad) const {
  const RowRange own = own_in(), need = needed_by(sp_.rank);
  PX_CHECK(x.shape().size() == 4 && x.dim(2) == own.size(), "halo gather: input {} but {} own rows",
           shape_str(x.shape()), own.size());
  const int64_t n = x.dim(0), c = x.dim(1), w = x.dim(3), planes = n * c;
  Pending p;
  const PlaneView X{const_cast<float*>(x.data()), own.size(), w, 0, 0};
  if (window_ == own && wpad == 0) {
    p.window = x;  // the window is the slab itself (a pooling whose windows end at the slab's edges): no copy
  } else {
    p.window            = Tensor::zeros({n, c, window_.size(), w + 2 * wpad});  // (N, C, rows, W + 2 pad)
    const RowRange mine = intersect(own, need);
    copy_rows({p.window.data(), window_.size(), w + 2 * wpad, mine.begin - window_.begin, wpad},
              {X.data, X.h, w, mine.begin - own.begin, 0}, {planes, mine.size(), w}, false);
  }
  if (input_whole_ || !sp_.active()) return p;
  for (int q = 0; q < sp_.size; ++q) {  // post the receives first: a sender finds its receiver waiting
    const RowRange rows = intersect(own_in_[q], need);
    if (q == sp_.rank || rows.size() == 0) continue;
    Tensor buf = Tensor::empty({n, c, rows.size(), w});
    p.recvs.emplace_back(sp_.comm->recv_async(buf.data(), buf.numel(), q, kHaloTag), buf);
    p.recv_rows.push_back(rows);
    p.bytes += buf.nbytes();
  }
  for (int q = 0; q < sp_.size; ++q) {
    const RowRange rows = intersect(own, needed_by(q));
    if (q == sp_.rank || rows.size() == 0) continue;
    Tensor buf = Tensor::empty({n, c, rows.size(), w});
    copy_rows({buf.data(), rows.size(), w, 0, 0}, {X.data, X.h, w, rows.begin - own.begin, 0},
              {planes, rows.size(), w}, false);
    p.sends.emplace_back(sp_.comm->send_async(buf.data(), buf.numel(), q, kHaloTag), buf);
    p.bytes += buf.nbytes();
  }
  return p;
}

Tensor HaloExchange::gather_finish(Pending& p) const {
  const int64_t t0     = trace::now_ns();  // the HALO event: waiting for the rows and copying them in
  Tensor& win          = p.window;
  const int64_t planes = win.dim(0) * win.dim(1), ww = win.dim(3);
  for (size_t i = 0; i < p.recvs.size(); ++i) {
    p.recvs[i].first.wait();
    const RowRange rows = p.recv_rows[i];
    const int64_t w     = p.recvs[i].second.dim(3);
    copy_rows({win.data(), window_.size(), ww, rows.begin - window_.begin, (ww - w) / 2},
              {p.recvs[i].second.data(), rows.size(), w, 0, 0}, {planes, rows.size(), w}, false);
  }
  for (auto& s : p.sends) s.first.wait();
  if (!input_whole_ && sp_.active()) record(t0, p.bytes);
  return win;
}

RowRange HaloExchange::own_window_rows() const {
  const RowRange own = intersect(own_in(), window_);
  return own.size() ? RowRange{own.begin - window_.begin, own.end - window_.begin} : RowRange{0, 0};
}

HaloExchange::Pending HaloExchange::scatter_start(const Tensor& dwin, int64_t wpad) const {
  Pending p;
  if (!exchanges()) return p;
  const RowRange own = own_in(), need = needed_by(sp_.rank);
  const int64_t n = dwin.dim(0), c = dwin.dim(1), w = dwin.dim(3) - 2 * wpad, planes = n * c;
  for (int q = 0; q < sp_.size; ++q) {  // from every member that read my rows: posted first
    const RowRange rows = intersect(own, needed_by(q));
    if (q == sp_.rank || rows.size() == 0) continue;
    Tensor buf = Tensor::empty({n, c, rows.size(), w});
    p.recvs.emplace_back(sp_.comm->recv_async(buf.data(), buf.numel(), q, kHaloTag + 1), buf);
    p.recv_rows.push_back(rows);
    p.bytes += buf.nbytes();
  }
  for (int q = 0; q < sp_.size; ++q) {  // back to their owners: the rows received from q
    const RowRange rows = intersect(own_in_[q], need);
    if (q == sp_.rank || rows.size() == 0) continue;
    Tensor buf = Tensor::empty({n, c, rows.size(), w});
    copy_rows(
        {buf.data(), rows.size(), w, 0, 0},
        {const_cast<float*>(dwin.data()), window_.size(), w + 2 * wpad, rows.begin - window_.begin, wpad},
        {planes, rows.size(), w}, false);
    p.sends.emplace_back(sp_.comm->send_async(buf.data(), buf.numel(), q, kHaloTag + 1), buf);
    p.bytes += buf.nbytes();
  }
  return p;
}

Tensor HaloExchange::scatter_finish(Pending& p, Tensor dwin, int64_t wpad, int64_t t_begin) const {
  const RowRange own = own_in(), need = needed_by(sp_.rank);
  const int64_t n = dwin.dim(0), c = dwin.dim(1), w = dwin.dim(3) - 2 * wpad, planes = n * c;
  Tensor dx;  // (N, C, own rows, W)
  if (window_ == own && wpad == 0 && !input_whole_) {
    dx = dwin;  // the window is the slab: its gradient is the slab's, plus what other members send back
  } else {
    dx                  = Tensor::zeros({n, c, own.size(), w});
    const RowRange mine = intersect(own, need);
    copy_rows({dx.data(), own.size(), w, mine.begin - own.begin, 0},
              {dwin.data(), window_.size(), w + 2 * wpad, mine.begin - window_.begin, wpad},
              {planes, mine.size(), w}, true);
  }
  if (input_whole_) {
    if (sp_.active()) {
      sp_.comm->all_reduce(dx.data(), dx.numel());
      record(t_begin, dx.nbytes());
    }
    return dx;
  }
  if (!sp_.active()) return dx;
  for (size_t i = 0; i < p.recvs.size(); ++i) {
    p.recvs[i].first.wait();
    const RowRange rows = p.recv_rows[i];
    copy_rows({dx.data(), own.size(), w, rows.begin - own.begin, 0},
              {p.recvs[i].second.data(), rows.size(), w, 0, 0}, {planes, rows.size(), w}, true);
  }
  for (auto& s : p.sends) s.first.wait();
  record(t_begin, p.bytes);
  return dx;
}

Tensor HaloExchange::scatter_add(Tensor dwin, int64_t wpad) const {
  const int64_t t0 = trace::now_ns();
  Pending p        = scatter_start(dwin, wpad);
  return scatter_finish(p, std::move(dwin), wpad, t0);
}

}  // namespace paraxis
