// paraxis/train/loop.h — the training loop. `paraxis train`, run_layout (the demo, the benchmarks) and the
// examples all step an Engine over a Loader with train_steps; what differs between them (logging, progress,
// evaluation, checkpoints, collecting step times) is passed in as hooks.
//
//   run_devices(2, {}, [&](Communicator& world) {
//     Engine engine(spec, ecfg, world);                 // this device's shard
//     Loader loader(train, {.batch_size = 64, .shuffle = true, .seed = 1});
//     LoopHooks hooks;
//     hooks.lr         = [](int64_t step) { return 0.05; };
//     hooks.eval_every = 500;                           // and at the last step
//     hooks.evaluate   = [&](int64_t) { return evaluate_dataset(engine, test, 1000); };
//     hooks.on_step    = [&](const StepReport& r) { if (world.rank() == 0) log(r.step, r.stats.loss); };
//     train_steps(engine, loader, {.start = 0, .end = 1000}, hooks);
//   });
//
// Every device runs the same loop on the same global batches, so the collective hooks (evaluate, checkpoint)
// are called at the same steps everywhere; hooks that print or write files check the rank themselves.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "paraxis/data/dataset.h"
#include "paraxis/data/loader.h"
#include "paraxis/parallel/engine.h"
#include "paraxis/trace/recorder.h"

namespace paraxis {

// Forward-only evaluation over a dataset.
struct EvalResult {
  double loss     = 0;  // mean cross-entropy per row (per token for text)
  double accuracy = 0;  // share of rows (tokens) whose arg-max is the label
  int64_t count   = 0;  // rows (tokens) evaluated
};

// The first `max_batches` batches of `data` (0: all of it) in file order, `batch` rows at a time (the last
// batch may be smaller). Collective: every device of the engine calls it; all get the same result.
EvalResult evaluate_dataset(Engine& engine, std::shared_ptr<const Dataset> data, int64_t batch,
                            int64_t max_batches = 0);

// What the loop hands to on_step after each step.
struct StepReport {
  int64_t step = 0;  // steps done, counting from 1
  double lr    = 0;
  StepStats stats;                 // the Engine's (loss identical on every device, times this device's)
  std::optional<EvalResult> eval;  // set when this step was evaluated
};

struct LoopHooks {
  std::function<double(int64_t step)> lr;  // learning rate of step `step` (from 0); required
  // Evaluation (collective) after every `eval_every` steps (0: never periodically) and after the last one.
  int64_t eval_every = 0;
  std::function<EvalResult(int64_t step)> evaluate;
  // After each step and its evaluation: logging, progress, collecting results.
  std::function<void(const StepReport&)> on_step;
  // After on_step, every `save_every` steps (0: never periodically) and after the last one.
  int64_t save_every = 0;
  std::function<void(int64_t step)> checkpoint;
  // Added to the error when the loss or the gradient norm is not finite ("; lower --lr ...").
  std::string diverged_hint;
  // Asked after each step (and its checkpoint); true ends the run there, with a checkpoint when one is
  // configured. Every device must get the same answer at the same step (`paraxis train` all-reduces it).
  std::function<bool()> stop_requested;
};

// Steps [start, end) as numbered from 0; a resumed run starts past 0 with the loader restored.
struct StepRange {
  int64_t start = 0, end = 0;
};

// Runs the steps: the loader's next global batch, Engine::step at hooks.lr(step), then the hooks. Throws a
// runtime error (exit 1) when the loss or the gradient norm is not finite, naming the step as the log counts
// it (from 1) and the first parameter, in model order, the non-finite update reached. Returns the number of
// steps done (range.end, or earlier when stop_requested said so).
int64_t train_steps(Engine& engine, Loader& loader, StepRange range, const LoopHooks& hooks);

// The steady-state step time of a run: the median of per-step times without the first step (primitive
// creation, first touches) when there are at least 3; the mean of the middle two for an even count; 0 for
// no steps. The one rule for `paraxis train`, run_layout and the demo.
double median_step_ms(std::vector<double> step_ms);

// Per-device trace recorders of one run, gathered into one TraceSet at the end (threads backend).
class DeviceTraces {
 public:
  DeviceTraces(int devices, bool on);
  // Device `rank`'s recorder, made by its own thread (null when off); pass it to the Engine.
  trace::Recorder* start(int rank);
  void set_info(int rank, const Engine& engine);  // where `rank` sits on the grid
  const trace::Recorder* recorder(int rank) const { return recorders_[rank].get(); }
  const trace::DeviceInfo& info(int rank) const { return infos_[rank]; }
  trace::TraceSet collect(const std::string& layout) const;

 private:
  bool on_;
  std::vector<std::unique_ptr<trace::Recorder>> recorders_;
  std::vector<trace::DeviceInfo> infos_;
};

}  // namespace paraxis
