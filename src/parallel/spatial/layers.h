// The spatially split layers (parallel/spatial.h): a convolution and a max-pooling on row slabs with their
// halo exchanges, and the layout change from spatial to batch at the flatten block.
#pragma once

#include <memory>

#include "parallel/spatial/halo.h"
#include "paraxis/nn/conv2d.h"
#include "paraxis/nn/maxpool2d.h"

namespace paraxis {

// A Conv2d on this member's output rows: input halo before the forward, output-gradient halo (the adjoint)
// after the input-gradient pass. Holds the single-device layer: same name, parameters and initialisation.
class SpatialConv2d : public Layer {
 public:
  // h_in: the whole input height; input_whole: the input is the whole image on every member (first block).
  SpatialConv2d(std::unique_ptr<Conv2d> conv, int64_t h_in, const SpInfo& sp, bool input_whole);
  const char* kind() const override { return "spatial_conv2d"; }
  Tensor forward(Ctx& ctx, const Tensor& x) override;
  Tensor backward_input(Ctx& ctx, const Tensor& dy) override;
  void backward_weight(Ctx& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override;
  Cost cost(const Shape& in) const override;
  void collect_params(std::vector<Param*>& out) override { conv_->collect_params(out); }
  void init(uint64_t seed) override { conv_->init(seed); }
  const HaloExchange& halo() const { return halo_; }
  Conv2dShape window_shape(const Shape& in) const;  // the local window, padding explicit (pad 0)
  // The shares of the forward and of the input pass computed while the exchange is in flight (at input `in`):
  // the interior output rows, and the own window rows' gradient; 0 where the pass does not overlap.
  std::pair<double, double> overlap_shares(const Shape& in) const;

 private:
  RowRange interior_rows(const Conv2dShape& s) const;
  void conv_rows(Tensor& y, const Tensor& win, RowRange rows, const Conv2dShape& s) const;
  void backward_rows(Tensor& dwin, const Tensor& dy, RowRange rows, const Conv2dShape& s) const;
  std::unique_ptr<Conv2d> conv_;
  HaloExchange halo_;
};

// A MaxPool2d on this member's output rows; windows that cross a slab edge read their rows from the halo.
class SpatialMaxPool2d : public Layer {
 public:
  SpatialMaxPool2d(std::unique_ptr<MaxPool2d> pool, int64_t h_in, const SpInfo& sp);
  const char* kind() const override { return "spatial_maxpool2d"; }
  Tensor forward(Ctx& ctx, const Tensor& x) override;
  Tensor backward_input(Ctx& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override;
  Cost cost(const Shape& in) const override;
  const HaloExchange& halo() const { return halo_; }

 private:
  Pool2dShape window_shape(const Shape& in) const;
  std::unique_ptr<MaxPool2d> pool_;
  HaloExchange halo_;
};

// The layout change: (N, C, my rows, W) -> (my samples, C, H, W). Every member sends each other member that
// member's samples of its rows; the backward sends the gradient back the same way. At flatten (`then` null)
// the result is flattened to (my samples, C*H*W); at a block that needs whole images (AlexNet's adaptive
// pooling) that block (`then`) runs on it, and the flatten after it is a plain one.
class SpatialToBatch : public Layer {
 public:
  SpatialToBatch(std::string name, int64_t h, const SpInfo& sp, std::unique_ptr<Layer> then = nullptr);
  const char* kind() const override { return "spatial_to_batch"; }
  Tensor forward(Ctx& ctx, const Tensor& x) override;
  Tensor backward_input(Ctx& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override;
  Cost cost(const Shape& in) const override;
  // What `member`'s forward moves for an input of n samples (the backward moves the same the other way):
  // rows counted as (sample, row) pairs of C x W elements each.
  ExchangeRows forward_rows(int member, int64_t n) const;

 private:
  int64_t h_;
  SpInfo sp_;
  std::unique_ptr<Layer> then_;  // the block run after the exchange (null: flatten)
};

// The layout change to whole (SpFc::kModel): (N, C, my rows, W) -> (N, C, H, W), every member the whole
// activation: an all-gather of the row slabs over the spatial group (each padded to the largest slab),
// reordered, then flattened (`then` null) or given to `then` as SpatialToBatch does. Its backward keeps this
// member's rows of the (replicated) gradient: a slice.
class SpatialToWhole : public Layer {
 public:
  SpatialToWhole(std::string name, int64_t h, const SpInfo& sp, std::unique_ptr<Layer> then = nullptr);
  const char* kind() const override { return "spatial_to_whole"; }
  Tensor forward(Ctx& ctx, const Tensor& x) override;
  Tensor backward_input(Ctx& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override;
  Cost cost(const Shape& in) const override;
  // The all-gather's rows (sample, row) of C x W elements: each member sends its padded slab to every other
  // and receives theirs (what the cost model prices; sends/receives count the sp-1 peers).
  ExchangeRows forward_rows(int member, int64_t n) const;

 private:
  int64_t h_;
  SpInfo sp_;
  std::unique_ptr<Layer> then_;
};

// The redistributed (N', C, H, W) tensor `whole` as a layout change's output: flattened, or through `then`
// (its context the first child of ctx). And the gradient's way back to (N', C, H, W).
Tensor after_layout_change(Layer* then, Ctx& ctx, Tensor whole);
Tensor before_layout_change(Layer* then, Ctx& ctx, const Tensor& dy, const Shape& whole);
Shape layout_change_shape(const Layer* then, const Shape& whole);

}  // namespace paraxis
