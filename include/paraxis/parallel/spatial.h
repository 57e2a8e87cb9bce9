// paraxis/parallel/spatial.h — domain (spatial) parallelism: the conv side of a CNN split along H over the sp
// devices of a spatial group (Gholami et al. 2018, "Integrated Model, Batch and Domain Parallelism").
//
//   SpInfo sp{sp_comm, /*rank=*/1, /*size=*/2};
//   auto model = build_spatial_model(spec, sp);   // conv/pool blocks on row slabs, FC blocks on a batch share
//   Tensor y = model->blocks[0]->forward(ctx, x);  // x (N, C, H, W) whole -> y (N, Cout, my OH rows, OW)
//
// Rows are owned from the OUTPUT side (DistDL style): device r owns output rows rows_of(OH, sp, r); for them
// it needs input rows [o0*stride - pad, (o1-1)*stride - pad + k - 1], clipped to the image, and receives the
// ones it does not own from their owners (the halo); zero padding is applied only at the true image border.
// The flatten block (or, before it, a block that needs whole images: AlexNet's adaptive average pooling)
// changes the layout from spatial (every sample, my rows) to batch (my samples, every row):
// after it the FC blocks run batch-parallel over the spatial group. Or, with SpFc::kModel (`--sp-fc model`,
// Gholami's L_M), to whole (every sample, every row: an all-gather of the row slabs), after which the FC
// blocks run tensor-parallel over the spatial group (weights split). docs/domain-parallelism.md.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "paraxis/kernels/conv.h"
#include "paraxis/nn/model.h"

namespace paraxis {

class Communicator;

// How the FC side (after flatten) uses the spatial group: batch (each member N/sp whole samples, whole FC
// weights, FC gradients averaged over dp x sp) or model (every member all N samples, the FC weights split
// column/row over the group as tensor parallelism does; FC gradients averaged over dp only).
enum class SpFc { kBatch, kModel };
// "batch" | "model"; anything else is a user error naming the valid values.
SpFc parse_sp_fc(const std::string& value);
const char* sp_fc_name(SpFc fc);

struct SpInfo {
  Communicator* comm = nullptr;  // the spatial group (null: size 1, or built for its shapes only)
  int rank           = 0;
  int size           = 1;  // sp
  // Records one halo exchange (layout_change false) or layout change (begin, end in ns, bytes moved) on the
  // device's trace.
  std::function<void(int64_t t_begin_ns, int64_t t_end_ns, int64_t bytes, bool layout_change)> record;
  SpFc fc = SpFc::kBatch;  // the FC side's split
  // SpFc::kModel: the FC shards' communicator, the same group as `comm` (null: comm). Its own, so that a
  // trace observer sees only the shards' all-reduces.
  Communicator* fc_comm = nullptr;
  bool active() const { return size > 1; }
  bool fc_model() const { return active() && fc == SpFc::kModel; }
};

// A half-open range [begin, end) of rows (or samples).
struct RowRange {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end > begin ? end - begin : 0; }
  bool operator==(const RowRange&) const = default;
};

// Part r of n of `count` rows, balanced (sizes differ by at most one): [r*count/n, (r+1)*count/n).
RowRange rows_of(int64_t count, int parts, int part);
// The input rows a window of size k with this stride and padding reads for output rows `out`, unclipped
// (negative or past the image where padding supplies zeros).
RowRange input_rows(RowRange out, int64_t k, int64_t stride, int64_t pad);
RowRange intersect(RowRange a, RowRange b);

// Rows one member moves in one exchange: sent and received (each row C x W elements of one sample), and to
// or from how many members (messages).
struct ExchangeRows {
  int64_t sent = 0, received = 0;
  int sends = 0, receives = 0;
};

// One exchange a member of the spatial group makes inside a block's pass, as the runtime makes it (the HALO
// events of its trace): a window layer's halo (forward: input rows; backward: their gradients back to the
// owners, the same rows the other way) or the layout change at flatten (forward spatial -> batch, backward
// back). Bytes are fp32, at a micro-batch of `batch` samples. What the cost model prices (cost/spatial.h).
struct SpatialExchange {
  int block = 0;  // index in the model's blocks
  std::string name;
  bool layout_change = false;  // the flatten block's all-to-all (else a halo)
  bool all_gather    = false;  // the layout change to whole (SpFc::kModel): an all-gather over sp,
                               // its backward a local slice (no exchange)
  int64_t forward_bytes_sent = 0, forward_bytes_received = 0;  // backward: the same bytes, sent <-> received
  int forward_sends = 0, forward_receives = 0;
  bool backward =
      true;  // the backward exchanges too (not for the first block: the engine runs no input pass)
  // A convolution's halo overlaps compute: the share of its forward (interior output rows) and of its input
  // pass (its own rows' gradient) that runs while the exchange is in flight. 0 for pools and layout changes.
  double forward_overlap = 0, backward_overlap = 0;
};
// Every exchange of member `rank` of sp, in block order. Empty when sp is 1.
std::vector<SpatialExchange> spatial_exchanges(const ModelSpec& spec, int sp, int rank, int64_t batch,
                                               SpFc fc = SpFc::kBatch);

// The spatial layout of a CNN model: its conv-side blocks wrapped to work on row slabs, the flatten block (or
// an adaptive average pooling before it, then run after the exchange) a layout change to batch, the rest
// unchanged. Same blocks, names and parameters as build_model(spec).
std::unique_ptr<Model> build_spatial_model(const ModelSpec& spec, const SpInfo& sp);

// Checks before any device starts (user errors, exit 2): a model with a spatial side (cnn, alexnet), every
// split height at least sp; batch FC: the micro-batch rows divisible by sp (the FC side's batch shares);
// model FC: sp > 1, sp dividing the split FC widths, no active dropout on a split activation.
void validate_spatial(const ModelSpec& spec, int sp, int64_t microbatch_rows,
                      int64_t microbatches_per_batch = 1,  // dp x m: to suggest a --batch
                      SpFc fc                        = SpFc::kBatch);

// Which split each block uses under sp, for `describe` and `schedule`: "spatial" (rows of H) before the
// layout change, "spatial -> batch" at flatten, "batch" after it; `per_device` lists each device's output
// rows (spatial) or samples of a batch (batch), e.g. "10/9/9". With SpFc::kModel: "spatial -> whole
// (all-gather)" at flatten, then "model (columns)" / "model (rows)" for the split Linears (each device's
// output or input features), "model" for the blocks between them, "whole" for the replicated rest.
struct BlockSplit {
  std::string block, kind, split, per_device;
};
std::vector<BlockSplit> spatial_layout(const ModelSpec& spec, int sp, int64_t batch, SpFc fc = SpFc::kBatch);

// The convolution a block's passes run on input `in` (kernels/conv.h): a Conv2d's own call, a SpatialConv2d's
// window (its rows with the halo, padding explicit); none for any other block. The cost model prices each
// conv block at the measured rate of this call (cost/conv.h).
std::optional<Conv2dShape> conv_call(const Layer& block, const Shape& in);

}  // namespace paraxis
