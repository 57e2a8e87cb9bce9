// paraxis/train/layout_run.h — train one model on one layout for a few steps and keep what a comparison
// needs: the loss curve, the measured step times, the peak stash, and a trace of the last steps. `paraxis
// demo`, bench/bench_parallel and bench/bench_pipeline compare layouts with it.
//
//   auto data = std::make_shared<ClassificationDataset>(load_fashion_mnist("train"));
//   LayoutRunConfig cfg;
//   cfg.model = ModelSpec::mlp({784, 3584, 4096, 4096, 10});
//   cfg.data = data;  cfg.batch = 256;  cfg.steps = 20;  cfg.trace_steps = 2;
//   cfg.devices = 2;  cfg.pp = 2;  cfg.microbatches = 8;            // 1F1B over two stages
//   LayoutRunResult r = run_layout(cfg);
//   r.median_step_ms();                      // median measured step (the first step is skipped)
//   r.losses.back();                         // equals every other layout's, to fp32 rounding
//   trace::analyze(r.trace, {.step = (int)r.trace.steps.size() - 1});   // one steady-state step
//
// Every layout starts from the same seeded initialisation and sees the same batches in the same order
// (one seeded loader per device), so the loss curves agree to fp32 rounding whatever the layout.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "paraxis/data/dataset.h"
#include "paraxis/nn/model.h"
#include "paraxis/trace/recorder.h"
#include "paraxis/train/trainer.h"

namespace paraxis {

struct LayoutRunConfig {
  std::string name;  // shown in the trace ("1F1B pp2 m8"); default: the grid
  ModelSpec model;
  std::shared_ptr<const Dataset> data;
  int64_t batch = 256;  // global
  int64_t steps = 10;
  uint64_t seed = 1;                 // initialisation and shuffling
  double lr = 0.05, momentum = 0.9;  // SGD
  // layout
  int devices = 1;
  int dp = 0, tp = 1, pp = 1;  // dp 0: devices / (tp * pp * sp)
  int sp                 = 1;  // domain parallelism (docs/domain-parallelism.md)
  int microbatches       = 1;
  std::string schedule   = "1f1b";  // gpipe | 1f1b | interleaved-1f1b | zb-h1
  bool placement         = false;   // workload partitioning: pp = devices, gpipe, m = 1
  int threads_per_device = 1;
  bool defer_wgrad       = false;  // EngineConfig::defer_wgrad
  bool recompute         = false;  // EngineConfig::recompute
  double comm_timeout_s  = 120;
  // Keep a trace of the last `trace_steps` steps (0: record nothing). Every step is recorded (the recorder
  // costs well under 2% of a step) and the trace is cut to the last ones, so it shows steady state.
  int trace_steps = 0;
  // Called on device 0 after every step (step counts from 1), e.g. for a progress bar.
  std::function<void(int64_t step, double loss, double step_ms)> on_step;
};

struct LayoutRunResult {
  std::string layout;                     // "dp1 x tp1 x pp2, 1f1b m8"
  std::vector<double> losses;             // per step, the global batch's mean loss
  std::vector<double> step_ms;            // per step, the slowest device's wall time
  std::vector<int64_t> peak_stash_bytes;  // per device, the most activation bytes held at once in any step
  trace::TraceSet trace;                  // the last trace_steps steps (steps marked), when asked for
  // Median of step_ms without the first step (primitive creation, first touches) when there are ≥ 3
  // (train/loop.h's median_step_ms, the same as `paraxis train`'s).
  double median_step_ms() const;
};

// Validates the layout (user errors, exit 2, by `paraxis train`'s rules) and runs it on the threads backend,
// through the training loop of train/loop.h.
LayoutRunResult run_layout(const LayoutRunConfig& cfg);

// The run as `paraxis train` would take it (SGD, the same layout, placement applied: pp, schedule and
// micro-batches as they will run); its data is cfg.data, not TrainConfig::data.
TrainConfig train_config(const LayoutRunConfig& cfg);

// The part of a trace inside steps [first, first + count): its events, step marks, everything else kept.
trace::TraceSet crop_steps(const trace::TraceSet& set, size_t first, size_t count);

}  // namespace paraxis
