// paraxis/cost/planner.h — predict one layout's step time and memory; search all layouts for the fastest.
//
//   HardwareProfile hw = hardware_preset("cpu-this-machine");
//   Layout l{.dp = 1, .tp = 1, .pp = 2, .schedule = ScheduleKind::k1F1B, .microbatches = 8};
//   PredictedStep p = predict_step(ModelSpec::mlp({784, 1024, 1024, 10}), l, /*global_batch=*/256, hw);
//   fmt::print("predicted step {:.2f} ms, bubble {:.1%}\n", p.step_s * 1e3, p.bubble);
//   trace::write_chrome_trace(p.trace, "predicted.json");     // `paraxis report` lays it beside a measured
//   one
//
//   PlanResult plan = make_plan(gpt_symbolic(parse_gpt_size("gpt-175b")),
//                               {.devices = 1024, .global_batch = 1536}, hardware_preset("h100-sxm"));
//   fmt::print("{}", format_plan(plan));                      // top k, rejections, why the winner wins
//
// A prediction (docs/cost-model.md): the model's blocks are cut into pp·v stages by
// pipeline::partition_stages over their fwd+bwd flops (as the runtime cuts them); each stage's F, B, I, W
// last the sum of its blocks' pass_time at micro-batch b = global_batch / (dp·m), divided by tp where the
// block is split, plus the tensor-parallel all-reduces (Megatron). The lowered schedule is simulated
// (simulator.h) with the stage boundary activations as α–β transfers, the data-parallel gradient all-reduce
// in buckets overlapping the last backward, and the optimizer step (memory-bound) at the end. Everything it
// prints is labelled "predicted".
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "paraxis/cost/cost.h"
#include "paraxis/cost/hardware.h"
#include "paraxis/cost/memory.h"
#include "paraxis/cost/simulator.h"
#include "paraxis/pipeline/generators.h"

namespace paraxis::cost {

struct Layout {  // NOTE: memory.h and the CLI read it too
  int dp = 1, tp = 1, pp = 1;
  int sp = 1;  // domain (spatial) parallelism: a CNN's conv side split along H (cost/spatial.h); dp, pp
  // --sp-fc model: the FC side's weights split column/row over the sp group (Gholami's L_M) instead of its
  // samples; the gradients of every parameter are then reduced over dp (the conv side's first summed over sp).
  bool sp_fc_model                = false;
  pipeline::ScheduleKind schedule = pipeline::ScheduleKind::k1F1B;
  int microbatches                = 1;      // m per step (per data-parallel replica)
  int virtual_stages              = 1;      // v (interleaved-1f1b)
  bool zero1                      = false;  // optimizer state sharded over dp (reduce-scatter + all-gather)
  bool recompute                  = false;  // keep only stage inputs; recompute the forward during backward
  // Megatron-LM's options for a symbolic GPT (transformer.h; Korthikanti et al. 2022): LayerNorm, dropout
  // and residual work split over tp with all-gather / reduce-scatter in place of all-reduce; the attention
  // core recomputed in the backward instead of stored.
  bool sequence_parallel   = false;
  bool selective_recompute = false;
  int threads_per_device   = 1;
  std::string optimizer    = "adamw";  // adamw | sgd (momentum)
  bool clip                = false;    // gradient clipping by global norm (one more gradient read)
  // Linear layers' weight gradients once per step over all micro-batches (EngineConfig::defer_wgrad): their
  // per-micro-batch W passes become one flush per stage before the gradient reduction.
  bool defer_wgrad    = false;
  double bucket_bytes = 25.0 * 1024 * 1024;  // data-parallel gradient bucket (PyTorch DDP's default)
  int devices() const { return dp * tp * pp * sp; }
  // The devices a gradient is averaged over by the bucketed all-reduce.
  int grad_group() const { return sp > 1 && sp_fc_model ? dp : dp * sp; }
  bool fc_model() const { return sp > 1 && sp_fc_model; }
  std::string describe()
      const;  // "dp2 tp1 pp4 1f1b m8", "pp2 interleaved-1f1b v2 m8 zero1 recompute defer-wgrad"
};

struct CommVolume {  // bytes one device sends per step, per axis (the busiest device of each)
  double dp = 0, tp = 0, pp = 0;
  double sp = 0;  // domain parallelism: halos, the layout change and the conv side's gradient all-reduce
};

// Communication per iteration split as Gholami et al. split it (predicted, α–β on the profile's links, as
// if none of it overlapped compute): batch = the gradient all-reduce of the batch-parallel side, model =
// tp's collectives, domain = halo exchanges + the layout change (both directions) + the conv side's
// gradient all-reduce over sp × dp. Bytes are what the busiest device sends.
struct CommSplit {
  // model_*: tp's collectives, or with --sp-fc model the FC shards' all-reduces over sp.
  double batch_s = 0, model_s = 0, halo_s = 0, layout_s = 0, spatial_allreduce_s = 0;
  double batch_bytes = 0, model_bytes = 0, halo_bytes = 0, layout_bytes = 0, spatial_allreduce_bytes = 0;
  int halo_exchanges = 0, layout_changes = 0;  // per micro-batch, forward + backward
  double domain_s() const { return halo_s + layout_s + spatial_allreduce_s; }
  double domain_bytes() const { return halo_bytes + layout_bytes + spatial_allreduce_bytes; }
};

struct PredictedStep {
  Layout layout;
  pipeline::Schedule schedule;      // the step's list the simulator priced (with the trace; empty otherwise)
  int64_t micro_batch = 0;          // samples per micro-batch per replica
  double step_s       = 0;          // predicted step time
  double compute_s    = 0;          // busiest device's compute-stream time
  double bubble       = 0;          // 1 − mean compute utilization of the pipeline group
  std::vector<double> utilization;  // per pipeline rank
  double exposed_comm_s = 0;        // step − compute − idle of the busiest device, at least 0
  MemoryEstimate memory;
  CommVolume comm;
  CommSplit comm_split;
  std::vector<int> stage_cuts;  // blocks of stage j: [cuts[j], cuts[j+1])
  trace::TraceSet trace;        // predicted timeline of one pipeline group (source "simulated")
  std::string note;             // how it was simulated ("one pipeline group of 4 devices simulated; ...")
};

// User errors (exit 2) for layouts that do not divide: global_batch by dp·m, tp into heads/widths, pp·v
// stages into the model's blocks, or a schedule rule (pipeline::check_schedule_spec).
PredictedStep predict_step(const ModelDesc& model, const Layout& layout, int64_t global_batch,
                           const HardwareProfile& hw, bool record_trace = true);
PredictedStep predict_step(const ModelSpec& spec, const Layout& layout, int64_t global_batch,
                           const HardwareProfile& hw);

// The Linear calls predict_step looks up in a profile's shape_rates for this layout: each Linear's (in, out)
// as one device computes it (tensor-parallel shards) and the rows of its calls (the micro-batch's; with
// deferred weight gradients also all micro-batches' together). What an in-run calibration measures
// (measure::RunCalibration); shapes in block order, rows ascending, each once. User error when the layout
// does not divide.
struct LinearCalls {
  std::vector<std::pair<int64_t, int64_t>> shapes;
  std::vector<int64_t> rows;
  // The calls a device makes while the others wait (a pipeline's, pp > 1): their rates in turns are used.
  std::vector<std::pair<int64_t, int64_t>> turn_shapes;
  std::vector<int64_t> turn_rows;
  // The bytes a device touches between two calls on the same weights (the reuse distance): the parameters
  // and gradients of the blocks it holds and one micro-batch's activations through them, the largest over
  // devices. A working set that fits the cache keeps the weights there from one call to the next, so the
  // rates are measured that way (measure_layer_times).
  double reuse_bytes = 0;
  // The convolutions' calls (each conv block's on one device's micro-batch; under sp every member's window),
  // and those a pipeline's devices make while the others wait.
  std::vector<Conv2dShape> convs, turn_convs;
  void merge(const LinearCalls& more);  // the union (several layouts' calls); the largest reuse_bytes
};
LinearCalls linear_calls(const ModelDesc& model, const Layout& layout, int64_t global_batch);

// Why a layout cannot run, or "" when it can (divisibility only; memory is checked by the planner).
std::string layout_problem(const ModelDesc& model, const Layout& layout, int64_t global_batch);

struct PlanOptions {
  int devices              = 1;
  int64_t global_batch     = 32;
  double memory_per_device = 0;    // bytes; 0: the profile's memory_bytes
  double memory_margin     = 0.1;  // fraction of it a layout must leave free (fragmentation,
                                   // allocator caches, buffers the model does not count)
  int top_k                              = 5;
  std::vector<int64_t> micro_batch_sizes = {1, 2, 4, 8, 16, 32, 64};
  int max_microbatches                   = 256;  // larger m are skipped (said so in the result)
  std::string optimizer                  = "adamw";
  int threads_per_device                 = 1;
};

struct Rejection {
  Layout layout;
  int64_t micro_batch = 0;
  std::string reason;
};

struct PlanResult {
  std::string model, hardware;
  PlanOptions options;
  std::vector<PredictedStep> ranked;  // fastest first (all that fit)
  std::vector<Rejection> rejected;    // did not divide or did not fit, with the reason
  int considered = 0;
  std::string why;  // why the winner wins
};

PlanResult make_plan(const ModelDesc& model, const PlanOptions& options, const HardwareProfile& hw);
std::string format_plan(const PlanResult& plan, int show_rejected = 8);

}  // namespace paraxis::cost
