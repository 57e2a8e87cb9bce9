// Engine's private state, shared by engine.cc (construction, evaluation, parameter gathering) and
// step_runtime.cc (the interpreter of the step's action list). See docs/architecture.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "parallel/optim_step.h"
#include "paraxis/parallel/data_parallel.h"
#include "paraxis/parallel/engine.h"
#include "paraxis/parallel/spatial.h"
#include "paraxis/trace/recorder.h"

namespace paraxis {

inline Shape with_batch(Shape s, int64_t batch) {
  s[0] = batch;
  return s;
}

// Tag of a pipeline transfer: direction (0 activations, 1 gradients), the sending stage, the micro-batch.
inline int transfer_tag(int direction, int stage, int microbatch) {
  return (direction * 4096 + stage) * 65536 + microbatch;
}

// Which communicator group a traced collective belongs to (its flow id names the group).
enum class GroupAxis { kDp, kTp, kPp, kWorld, kSp };

// Throws the user errors of --sp (parallel/spatial.h) and its combinations with the other axes.
// microbatches: dp x m, the micro-batches of a global batch (to suggest a --batch).
void validate_spatial_layout(const ModelSpec& spec, const Grid& g, int64_t microbatch_rows,
                             int64_t microbatches, SpFc fc);

// The tensors a device holds for its stages between actions, keyed by (stage, micro-batch). Each map is one
// kind of buffer, so a hand-off is a move from one named map to another.
struct StageBuffers {
  using Key = std::pair<int, int>;
  std::map<Key, Tensor> input;        // a stage's input activation, received by RECV_F
  std::map<Key, Tensor> output;       // a stage's output activation, until SEND_F or the next local stage's F
  std::map<Key, Tensor> grad_output;  // dL/d(stage output): the loss's gradient, or received by RECV_B
  std::map<Key, Tensor> grad_input;   // dL/d(stage input) made by I/B, until SEND_B or the previous stage
  std::map<Key, Tensor> kept_input;   // recompute: a stage's input, kept instead of its activations until R
  std::map<Key, std::vector<Ctx>> ctx;     // what each block's forward stashed for its backward
  std::map<Key, std::vector<Tensor>> dys;  // each block's output gradient, kept between I and W
  std::map<Key, int64_t> stash_bytes;      // bytes of ctx per micro-batch (the stash accounting)
  bool empty() const {
    return ctx.empty() && output.empty() && input.empty() && grad_input.empty() && kept_input.empty();
  }
};

// Per-step state of the interpreter.
struct StepState {
  Tensor x_local, y_local;  // this dp rank's rows
  int64_t mb        = 0;    // rows per micro-batch
  RowRange share    = {};   // of which this device's after a spatial layout change (sp 1: all)
  float grad_scale  = 1;    // 1/m: the accumulated gradient is that of the global batch's mean loss
  double lr         = 0;
  double loss_sum   = 0;
  int64_t stash_now = 0, stash_peak = 0, deferred_now = 0;
  double compute_ms = 0;
  std::vector<int> block_remaining;  // weight passes left this step, per block
  std::vector<std::pair<Work, Tensor>> sends;
};

struct Engine::Impl {
  Communicator& world;
  std::unique_ptr<Communicator> dp_comm, tp_comm, pp_comm, sp_comm;  // dp_comm: dp x sp (the gradients)
  std::unique_ptr<Communicator> sp_fc_comm;  // --sp-fc model: the sp group again, for the FC shards only
  Coord coord;
  trace::Recorder* rec = nullptr;
  std::vector<pipeline::Action> actions;  // this device's list: the whole step (pipeline::generate_step)
  std::vector<int> my_stages;             // stages this device owns
  std::vector<Shape> block_out;           // output shape of each block for a batch of 1
  // Under sp with a batch-parallel FC side: the first block whose output holds this member's share of the
  // micro-batch's samples (the layout change to batch); blocks before it output every sample (row slabs).
  size_t share_from = SIZE_MAX;
  Shape model_in;                         // input shape for a batch of 1
  std::vector<char> first_backward_only;  // per block: 1 when the input gradient is never needed
  std::vector<char> sp_summed;  // per block: its gradients are summed over sp when final (--sp-fc model)
  std::vector<Param*> params;   // this device's parameters, flat order (last block first)
  std::unique_ptr<DataParallel> dp;
  std::unique_ptr<OptimStep> optim;
  std::vector<std::vector<Layer*>> deferring;  // per block: its layers whose weight gradients are deferred
  bool any_deferring = false;
  StageBuffers buf;
  int64_t step_count = 0;  // optimizer steps taken: keys the dropout masks, restored on resume

  // Trace bookkeeping: message numbers per peer device (world rank) in each direction, so match_flows pairs
  // every SEND with its RECV by seq; and each group's collective call number (the same on every member).
  std::map<int, int32_t> trace_sent, trace_received;
  std::map<std::pair<int, int>, int32_t> trace_calls;  // (axis, the group's first world rank) -> calls

  explicit Impl(Communicator& w) : world(w) {}
  // Block b's output for a micro-batch of n samples (this member's slab or its share of the samples): the
  // shape a pipeline transfer at a stage boundary after b carries.
  Shape block_output(size_t b, int64_t n, RowRange share) const {
    return with_batch(block_out[b], b >= share_from ? share.size() : n);
  }
  // action: the index of the step action it belongs to in this device's list (-1: outside the list).
  void record_collective(const Grid& g, trace::Kind kind, GroupAxis axis, int64_t t_begin, int64_t bytes,
                         int action = -1);
  // e as one call of the group on `axis`: its call number and flow id (the same on every member).
  void record_group_event(const Grid& g, trace::Event e, GroupAxis axis);
  // A layer's collective (tensor parallelism's, or --sp-fc model's FC shards' on the sp axis) that ran inside
  // an action: on the compute track inside a pass (it blocked the device's compute), else on the comm track.
  // Calls outside a step's actions are not recorded.
  void record_layer_call(const Grid& g, const CommCall& c, int64_t t_begin, int64_t t_end, GroupAxis axis);
  int running_action = -1;  // the step action running now (-1: none)
};

}  // namespace paraxis
