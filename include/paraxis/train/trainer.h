// paraxis/train/trainer.h — the training loop behind `paraxis train`, for one device or any layout.
//
//   TrainConfig cfg;
//   cfg.model = ModelSpec::mlp({784, 256, 10});
//   cfg.data = "fashion-mnist";
//   cfg.steps = 500;
//   cfg.devices = 2; cfg.pp = 2; cfg.microbatches = 8;      // 1F1B over 2 pipeline stages
//   validate_train_config(cfg);                              // every user error, before any device starts
//   TrainResult r = run_training(cfg);
//
// Each device runs the same loop (train/loop.h; threads backend: one thread each; mpi backend: one process
// each): the same seeded loader yields the same global batch everywhere, the Engine takes this device's
// share, and the step's mean loss comes back identical on every device. Rank 0 prints progress, writes the
// JSON-lines log, the checkpoints' metadata and the final parameters.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "paraxis/nn/model.h"
#include "paraxis/parallel/engine.h"
#include "paraxis/trace/recorder.h"

namespace paraxis {

// The learning rate `paraxis train --optimizer adamw` takes when none is given: PyTorch's AdamW default (SGD's
// 0.05 diverges under AdamW, whose steps are about lr per weight whatever the gradient's scale).
inline constexpr double kAdamwDefaultLr = 1e-3;

struct TrainConfig {
  ModelSpec model;
  // fashion-mnist | idx:IMAGES,LABELS | text[:PATH] (default text: Debian's fortunes) | synthetic
  std::string data = "synthetic";
  int64_t steps    = -1;  // one of steps / epochs; -1 = unset (100 unless epochs); 0 = no step
  int64_t epochs   = 0;
  int64_t batch    = 64;  // global
  bool shuffle     = true;
  uint64_t seed    = 1;
  // optimizer
  std::string optimizer = "sgd";  // sgd | adamw
  double lr             = 0.05;   // SGD's; `paraxis train` without --lr gives adamw kAdamwDefaultLr
  double momentum       = 0.9;
  double weight_decay   = 0.0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double clip             = 0.0;         // > 0: clip the global gradient norm
  std::string lr_schedule = "constant";  // constant | cosine (linear warmup, cosine decay to min_lr)
  int64_t warmup          = 0;
  double min_lr           = 0.0;
  // evaluation and files
  int64_t eval_every   = 0;  // steps; 0: only at the end
  int64_t eval_batches = 0;  // 0: the whole evaluation split
  std::string init_path, save_path, log_path, checkpoint_dir, resume_dir, trace_path;
  int64_t save_every   = 0;
  int64_t stop_at      = 0;  // > 0: stop after this step (on the schedule of `steps`); resume later
  int keep_checkpoints = 2;  // committed checkpoints kept in checkpoint_dir (the newest ones)
  // layout
  std::string backend = "threads";  // threads | mpi
  int devices         = 1;
  int dp = 0, tp = 1, pp = 1;  // dp 0: devices / (tp * pp * sp)
  int sp                 = 1;  // spatial (domain) parallelism: conv side split along H (parallel/spatial.h)
  std::string sp_fc      = "batch";  // the FC side under sp: batch | model (weights split over sp)
  int microbatches       = 1;
  std::string schedule   = "1f1b";
  int virtual_stages     = 1;
  bool placement         = false;  // workload partitioning: consecutive blocks on consecutive devices, m = 1
  int threads_per_device = 1;
  double comm_timeout    = 300;
  double bucket_mb       = 25;
  int zero               = 0;
  bool defer_wgrad       = false;  // Linear weight gradients once per step from all micro-batches
  bool recompute = false;  // activations dropped after each forward and recomputed (R) before backward
  std::string precision =
      "fp32";  // fp32 | bf16: matmul inputs rounded to bf16, fp32 accumulation (precision.h)
  // output
  std::string progress = "auto";  // auto | bar | lines | none
  bool quiet           = false;
  // cost model: print the predicted step time beside the measured one (--predict)
  bool predict = false;
  std::string machine;                      // hardware profile written by `paraxis calibrate`
  std::string preset = "cpu-this-machine";  // or a built-in profile
  // Measure the prediction's Linear rates and memory bandwidth in this run, before and after training:
  // 1 (--calibrate), 0 (--no-calibrate), -1: on for --predict unless --machine, --preset or --backend mpi
  // is given (the preset's rates are another machine's).
  int calibrate = -1;
};

struct TrainResult {
  std::vector<double> losses;               // per step
  std::vector<double> step_ms;              // per step (rank 0's wall time)
  double eval_loss = 0, eval_accuracy = 0;  // last evaluation (accuracy for classifiers; 0 for text)
  int64_t steps_done       = 0;
  int interrupted_by       = 0;  // SIGINT / SIGTERM that ended the run early (after a step), or 0
  int64_t samples          = 0;
  int64_t peak_stash_bytes = 0;   // device 0: the most activation bytes it kept for the backward (measured)
  double median_step_ms() const;  // train/loop.h's median_step_ms of step_ms
};

// Resolves derived values (dp, steps from epochs needs the data size, so that part is done in run_training)
// and checks every rule; throws user errors (exit 2) naming the value, the rule and a valid alternative.
void validate_train_config(TrainConfig& cfg);
TrainResult run_training(const TrainConfig& cfg);

// Workload partitioning (`placement`): consecutive blocks on consecutive devices, i.e. a pipeline of one
// stage per device (pp = devices) run as GPipe with one micro-batch. The one rule for `paraxis train`,
// run_layout and the demo's cost-model layout.
void apply_placement(TrainConfig& cfg);

// The Engine's configuration of a run whose layout is resolved (dp derived, placement applied).
EngineConfig engine_config(const TrainConfig& cfg);

// The resolved layout as a trace records it (TraceSet::layout_info, read by the analysis' verdict).
trace::LayoutInfo trace_layout_info(const TrainConfig& cfg);
// The model, batch and optimizer the trace records (trace::RunInfo).
trace::RunInfo trace_run_info(const TrainConfig& cfg);

}  // namespace paraxis
