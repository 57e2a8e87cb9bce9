#include "paraxis/train/loop.h"

#include <algorithm>
#include <cmath>

#include "paraxis/core/error.h"
#include "paraxis/measure/calibration.h"

namespace paraxis {

EvalResult evaluate_dataset(Engine& engine, std::shared_ptr<const Dataset> data, int64_t batch,
                            int64_t max_batches) {
  PX_CHECK(data != nullptr && data->size() > 0, "evaluate_dataset needs a non-empty dataset");
  Loader loader(data, {.batch_size = std::min<int64_t>(batch, data->size()),
                       .shuffle    = false,
                       .seed       = 0,
                       .drop_last  = false});
  int64_t batches = loader.batches_per_epoch();
  if (max_batches > 0) batches = std::min(batches, max_batches);
  double loss_sum = 0;
  int64_t correct = 0;
  EvalResult r;
  for (int64_t k = 0; k < batches; ++k) {
    Batch b             = loader.batch(0, k);
    Engine::EvalStats s = engine.evaluate(b.x, b.y);
    loss_sum += s.loss_sum, correct += s.correct, r.count += s.count;
  }
  if (r.count > 0) {
    r.loss     = loss_sum / r.count;
    r.accuracy = static_cast<double>(correct) / r.count;
  }
  return r;
}

namespace {

// Whether a hook with period `every` is due after `done` steps of a run that ends at `end`.
bool due(int64_t done, int64_t every, int64_t end) {
  return (every > 0 && done % every == 0) || done == end;
}

// The parameters are updated before the loop sees the step's statistics, so a non-finite gradient has already
// reached them: the first one (in model order) holding a non-finite value names where it went wrong.
std::string first_nonfinite_param(const Engine& engine) {
  for (const Param* p : engine.params()) {
    const float* v = p->value.data();
    for (int64_t i = 0; i < p->value.numel(); ++i)
      if (!std::isfinite(v[i])) return fmt::format("; the first parameter it reached: '{}'", p->name);
  }
  return "";
}

void check_finite_step(const Engine& engine, const StepReport& r, const std::string& hint) {
  const bool loss_ok = std::isfinite(r.stats.loss);
  if (loss_ok && std::isfinite(r.stats.grad_norm)) return;
  PX_FAIL("step {}: the {} is {}{}; training stopped (diverged, or non-finite data){}", r.step,
          loss_ok ? "gradient norm" : "loss", loss_ok ? r.stats.grad_norm : r.stats.loss,
          first_nonfinite_param(engine), hint);
}

}  // namespace

int64_t train_steps(Engine& engine, Loader& loader, StepRange range, const LoopHooks& hooks) {
  PX_CHECK(static_cast<bool>(hooks.lr), "train_steps needs a learning rate (LoopHooks::lr)");
  for (int64_t step = range.start; step < range.end; ++step) {
    const Batch b = loader.next();
    StepReport r;
    r.step  = step + 1;
    r.lr    = hooks.lr(step);
    r.stats = engine.step(b.x, b.y, r.lr);
    check_finite_step(engine, r, hooks.diverged_hint);
    if (hooks.evaluate && due(r.step, hooks.eval_every, range.end)) r.eval = hooks.evaluate(r.step);
    if (hooks.on_step) hooks.on_step(r);
    const bool saved = hooks.checkpoint && due(r.step, hooks.save_every, range.end);
    if (saved) hooks.checkpoint(r.step);
    if (hooks.stop_requested && r.step < range.end && hooks.stop_requested()) {
      if (hooks.checkpoint && !saved) hooks.checkpoint(r.step);
      return r.step;
    }
  }
  return range.end;
}

double median_step_ms(std::vector<double> step_ms) {
  if (step_ms.empty()) return 0;
  if (step_ms.size() >= 3) step_ms.erase(step_ms.begin());
  return measure::median_mean(std::move(step_ms));
}

DeviceTraces::DeviceTraces(int devices, bool on) : on_(on), recorders_(devices), infos_(devices) {}

trace::Recorder* DeviceTraces::start(int rank) {
  if (on_ && !recorders_[rank]) recorders_[rank] = std::make_unique<trace::Recorder>(rank);
  return recorders_[rank].get();
}

void DeviceTraces::set_info(int rank, const Engine& engine) {
  const Coord c = engine.grid().coord(rank);
  infos_[rank]  = {rank, c.dp, c.tp, c.pp, engine.grid().sp > 1 ? c.sp : -1};
}

trace::TraceSet DeviceTraces::collect(const std::string& layout) const {
  std::vector<trace::Recorder*> recs;
  for (const auto& r : recorders_) recs.push_back(r.get());
  return trace::collect(recs, infos_, layout);
}

}  // namespace paraxis
