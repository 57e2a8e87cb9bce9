// The halo exchange of one spatially split window layer (convolution or pooling): which input rows each
// member of the spatial group needs for its output rows, and the exchange of those rows (forward) and of
// their gradients (the adjoint, backward). docs/domain-parallelism.md.
#pragma once

#include <vector>

#include "paraxis/comm/communicator.h"
#include "paraxis/core/tensor.h"
#include "paraxis/parallel/spatial.h"

namespace paraxis {

class HaloExchange {
 public:
  // h_in: the whole input height, h_out: the whole output height; k, stride, pad: the window along H.
  // input_whole: the layer's input is the whole tensor on every member (the model's first block), so the
  // forward needs no exchange and the adjoint sums the members' input gradients.
  HaloExchange(int64_t h_in, int64_t h_out, int64_t k, int64_t stride, int64_t pad, const SpInfo& sp,
               bool input_whole);

  RowRange own_in() const { return input_whole_ ? RowRange{0, h_in_} : own_in_[sp_.rank]; }
  RowRange own_out() const { return own_out_; }
  int64_t window_rows() const { return window_.size(); }  // rows the local window holds, padding included

  // window (N, C, window_rows, W + 2 wpad): zero, then the needed rows of the input at column wpad, own ones
  // copied from x (N, C, own_in rows, W), the others received from their owners.
  Tensor gather(const Tensor& x, int64_t wpad) const;
  // The gather in two halves, so a layer can compute on its own rows while the halo is in flight (DistConv's
  // overlap): start returns the window with its own rows (and padding) in place and the transfers posted;
  // finish waits for them and copies the received rows in. gather(x) = finish(start(x)).
  struct Pending {
    Tensor window;
    std::vector<std::pair<Work, Tensor>> sends, recvs;
    std::vector<RowRange> recv_rows;  // the input rows each of recvs holds
    int64_t bytes = 0;
  };
  Pending gather_start(const Tensor& x, int64_t wpad) const;
  Tensor gather_finish(Pending& p) const;
  // Whether window row `row` (local, 0 = the window's first row) arrives from another member.
  bool received(int64_t row) const;
  // The adjoint: dx (N, C, own_in rows, W) = the window gradient's rows, summed over every member that read
  // them (each sends back what it received).
  // dwindow is taken over (when the window is the slab itself it becomes dx).
  Tensor scatter_add(Tensor dwindow, int64_t wpad) const;
  // The adjoint in two halves, so a layer can compute its own rows' gradient while the halo's gradients are
  // in flight: start posts the receives and sends back the rows of dwindow this member received (they must
  // be final; the others may still be written), finish waits, adds what came back to the own rows and
  // records the HALO event from t_begin. scatter_add(d) = finish(start(d), d).
  Pending scatter_start(const Tensor& dwindow, int64_t wpad) const;
  Tensor scatter_finish(Pending& p, Tensor dwindow, int64_t wpad, int64_t t_begin) const;
  // Whether the adjoint exchanges anything (a spatial group, not the whole input).
  bool exchanges() const { return !input_whole_ && sp_.active(); }
  // The window rows (local) this member owns: the rest arrived from other members or are padding.
  RowRange own_window_rows() const;
  // What `member`'s gather moves: rows and messages sent and received (scatter_add moves the same rows the
  // other way). Zero for a whole input (the first block).
  ExchangeRows forward_rows(int member) const;

 private:
  RowRange needed_by(int member) const;  // clipped to the image
  void record(int64_t t0, int64_t bytes) const;
  int64_t h_in_;
  SpInfo sp_;
  bool input_whole_;
  std::vector<RowRange> own_in_;     // each member's input rows
  std::vector<RowRange> window_of_;  // each member's window rows, unclipped
  RowRange own_out_, window_;
};

// Copies (or adds) `rows` rows of `cols` columns for each of `planes` planes between two (planes, h, w)
// buffers, starting at (src_row, src_col) and (dst_row, dst_col).
struct RowBlock {
  int64_t planes, rows, cols;
};
struct PlaneView {
  float* data;
  int64_t h, w, row, col;
};
void copy_rows(PlaneView dst, const PlaneView& src, const RowBlock& b, bool add);

}  // namespace paraxis
