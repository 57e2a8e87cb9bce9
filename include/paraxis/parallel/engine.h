// paraxis/parallel/engine.h — one device's share of a training step, for any layout on the dp × tp × pp grid.
//
//   EngineConfig cfg;
//   cfg.grid = make_grid(/*devices=*/4, /*dp=*/0, /*tp=*/1, /*pp=*/2);     // dp derived: 2
//   cfg.schedule = {pipeline::ScheduleKind::k1F1B, /*pp=*/2, /*m=*/8};
//   run_devices(4, {}, [&](Communicator& world) {
//     Engine engine(spec, cfg, world);                      // builds and initialises this device's shard
//     for (int step = 0; step < steps; ++step) {
//       Batch b = loader.next();                           // every device reads the same global batch
//       StepStats s = engine.step(b.x, b.y, lr);            // s.loss: the global batch's mean loss, on all
//       devices
//     }
//   });
//
// The step is the schedule, interpreted: the device's action list (generated, lowered, validated once at
// construction) runs in order — F / B / I / W on its stages' blocks, SEND/RECV of activations and gradients
// over the pipeline group, then REDUCE_GRAD (data-parallel average, bucketed and started during the last
// backward so it overlaps it) and OPT_STEP. One device is the same machinery with a one-action-pair schedule,
// and workload partitioning (`placement`) is GPipe with one micro-batch — which is exactly why it leaves
// devices idle. Every action is recorded in the device's trace when a recorder is given.
//
// Equivalence with one device: each micro-batch's loss gradient is scaled by 1/m and the dp reduction
// averages, so the accumulated gradient is the gradient of the global batch's mean loss (promise 2;
// tests/parallel/).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "paraxis/comm/communicator.h"
#include "paraxis/nn/model.h"
#include "paraxis/nn/optim.h"
#include "paraxis/parallel/grid.h"
#include "paraxis/parallel/spatial.h"
#include "paraxis/pipeline/action.h"
#include "paraxis/pipeline/generators.h"

namespace paraxis {

namespace trace {
class Recorder;
}

struct EngineConfig {
  Grid grid;
  pipeline::ScheduleSpec schedule;  // pp must equal grid.pp; m micro-batches per dp rank
  double bucket_mb = 25;            // data-parallel gradient buckets (MiB)
  int zero         = 0;             // 1: ZeRO-1, optimizer state sharded across dp
  // Under sp > 1: the FC side batch-parallel (each spatial member N/sp samples) or model-parallel over the
  // spatial group (--sp-fc model: all samples, weights split; parallel/spatial.h).
  SpFc sp_fc = SpFc::kBatch;
  bool sp_fc_model() const { return grid.sp > 1 && sp_fc == SpFc::kModel; }
  // Weight gradients of Linear layers computed once per step from every micro-batch (one GEMM of all the
  // step's rows) when the block's last micro-batch reaches its W pass, instead of once per micro-batch. Keeps
  // each micro-batch's layer inputs and output gradients until then (counted in the stash).
  bool defer_wgrad = false;
  // Activation recompute: a stage keeps only its input after each forward (the blocks' activations are
  // dropped) and re-runs the forward (the step's R actions) right before that micro-batch's backward.
  bool recompute = false;
  uint64_t seed  = 1;  // parameter initialisation
  OptimConfig optim;
  // Optional per-block costs for the stage partitioner (default: each block's forward+backward flops).
  std::vector<double> block_costs;
};

struct StepStats {
  double loss              = 0;  // mean loss of the global batch (identical on every device)
  double grad_norm         = 0;  // global gradient norm before clipping
  double step_ms           = 0;  // this device's wall time for the step
  double compute_ms        = 0;  // of which forward / backward actions (layers' kernels and the loss)
  double optim_ms          = 0;  // of which the gradient norm, clipping, optimizer update and zeroing
  int64_t peak_stash_bytes = 0;  // most activation bytes this device held for backward at once
};

// Checks a layout against a model and batch before any device starts: grid, schedule, divisibility of the
// batch by dp × m, stages ≤ blocks. Throws user errors (exit 2) that name the value, the rule and a valid
// alternative.
void validate_layout(const ModelSpec& spec, const EngineConfig& cfg, int64_t global_batch);

class Engine {
 public:
  Engine(const ModelSpec& spec, const EngineConfig& cfg, Communicator& world,
         trace::Recorder* recorder = nullptr);
  ~Engine();

  // x, y: the global batch (every device passes the same one; each takes its rows). Returns the same stats on
  // every device.
  StepStats step(const Tensor& x, const Tensor& y, double lr);

  // Forward only (no gradients, dropout off) over the global batch, micro-batch by micro-batch through the
  // stages; returns the same sums on every device.
  struct EvalStats {
    double loss_sum = 0;  // sum over rows (or tokens) of the cross-entropy
    int64_t correct = 0;  // rows (tokens) whose arg-max logit is the label
    int64_t count   = 0;  // rows (tokens)
  };
  EvalStats evaluate(const Tensor& x, const Tensor& y);

  // The full model's parameters by name on rank 0 (empty elsewhere); every device must call it.
  std::vector<std::pair<std::string, Tensor>> gather_params();

  // This device's parameters (shards carry full_shape / shard_dim / shard_begin).
  std::vector<Param*> params() const;
  Optimizer& optimizer();
  // Optimizer steps taken so far (dropout masks are keyed on it); a resumed run sets it from the checkpoint.
  int64_t steps_done() const;
  void set_steps_done(int64_t steps);
  const Grid& grid() const { return cfg_.grid; }
  int rank() const { return rank_; }
  const pipeline::Schedule& schedule() const { return schedule_; }
  // Stage boundaries over the model's blocks: stage s holds blocks [cuts[s], cuts[s+1]).
  const std::vector<int>& stage_cuts() const { return cuts_; }
  // Blocks owned by this device (their indices in the full model).
  std::vector<int> local_blocks() const;
  Model& model() { return *model_; }
  // Optimizer state bytes held by this device (ZeRO-1 shrinks it by dp).
  int64_t optimizer_state_bytes() const;

 private:
  friend struct StepRun;  // the interpreter of the step's actions (step_runtime.cc)
  void build_step(const ModelSpec& spec, Model& model);
  SpInfo spatial_info();
  void init_local_blocks(Model& model);
  Tensor evaluate_stage(int stage, Tensor h);
  void add_eval_stats(EvalStats& st, const Tensor& logits, const Tensor& labels);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  EngineConfig cfg_;
  int rank_ = 0;
  std::unique_ptr<Model> model_;
  pipeline::Schedule schedule_;
  std::vector<int> cuts_;
};

}  // namespace paraxis
