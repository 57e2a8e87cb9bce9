#include "paraxis/train/layout_run.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "paraxis/comm/launch.h"
#include "paraxis/core/error.h"
#include "paraxis/data/loader.h"
#include "paraxis/parallel/engine.h"
#include "paraxis/train/loop.h"

namespace paraxis {

double LayoutRunResult::median_step_ms() const {
  return paraxis::median_step_ms(step_ms);
}

trace::TraceSet crop_steps(const trace::TraceSet& set, size_t first, size_t count) {
  PX_CHECK(first + count <= set.steps.size() && count > 0, "steps [{}, {}) of a trace with {} steps", first,
           first + count, set.steps.size());
  trace::TraceSet out = set;
  out.steps.assign(set.steps.begin() + first, set.steps.begin() + first + count);
  const int64_t lo = out.steps.front().t_begin_ns, hi = out.steps.back().t_end_ns;
  auto inside = [&](const trace::Event& e) { return e.t_end_ns > lo && e.t_begin_ns < hi; };
  // A collective (or transfer) that straddles the window's edge is kept on every device that took part, so
  // no member of a call is cut away from the others (devices reach a step boundary at different times).
  std::set<int64_t> kept_flows;
  for (const auto& device_events : out.events)
    for (const trace::Event& e : device_events)
      if (e.flow_id >= 0 && inside(e)) kept_flows.insert(e.flow_id);
  for (auto& device_events : out.events)
    std::erase_if(device_events, [&](const trace::Event& e) {
      return !inside(e) && !(e.flow_id >= 0 && kept_flows.count(e.flow_id));
    });
  return out;
}

TrainConfig train_config(const LayoutRunConfig& c) {
  TrainConfig t;
  t.model = c.model;
  t.batch = c.batch, t.steps = c.steps, t.seed = c.seed;
  t.optimizer = "sgd", t.lr = c.lr, t.momentum = c.momentum;
  t.devices = c.devices, t.dp = c.dp, t.tp = c.tp, t.pp = c.pp, t.sp = c.sp;
  t.microbatches = c.microbatches, t.schedule = c.schedule, t.placement = c.placement;
  t.threads_per_device = c.threads_per_device, t.comm_timeout = c.comm_timeout_s;
  t.defer_wgrad = c.defer_wgrad;
  t.recompute   = c.recompute;
  t.progress = "none", t.quiet = true;
  apply_placement(t);
  return t;
}

namespace {

std::string layout_name(const TrainConfig& t) {
  return t.placement
             ? fmt::format("placement on {} devices (pp{}, m1)", t.devices, t.pp)
             : fmt::format("{}, {} m{}", Grid{t.dp, t.tp, t.pp, t.sp}.describe(), t.schedule, t.microbatches);
}

// Per step, the slowest device's time (step_ms[device][step]).
std::vector<double> slowest_per_step(const std::vector<std::vector<double>>& step_ms) {
  std::vector<double> out(step_ms.front().size(), 0.0);
  for (const auto& device : step_ms)
    for (size_t k = 0; k < out.size(); ++k) out[k] = std::max(out[k], device[k]);
  return out;
}

}  // namespace

LayoutRunResult run_layout(const LayoutRunConfig& cfg) {
  PX_CHECK(cfg.data != nullptr, "run_layout needs a dataset");
  PX_USER_CHECK(cfg.steps >= 1, "--steps {} must be at least 1", cfg.steps);
  PX_USER_CHECK(cfg.trace_steps >= 0 && cfg.trace_steps <= cfg.steps,
                "{} traced steps out of {} steps; trace at most every step", cfg.trace_steps, cfg.steps);
  TrainConfig t = train_config(cfg);
  validate_train_config(t);  // the same rules as `paraxis train`: grid, schedule, batch, devices
  const EngineConfig ecfg = engine_config(t);
  const LoaderOptions lo{.batch_size = t.batch, .shuffle = true, .seed = t.seed};
  PX_USER_CHECK(Loader(cfg.data, lo).batches_per_epoch() >= 1,
                "--batch {} is larger than the {} training samples; use --batch {}", cfg.batch,
                cfg.data->size(), cfg.data->size());

  LayoutRunResult result;
  result.layout = layout_name(t);
  const int n   = t.devices;
  std::vector<std::vector<double>> step_ms(n, std::vector<double>(cfg.steps, 0.0));
  std::vector<int64_t> stash(n, 0);
  DeviceTraces traces(n, cfg.trace_steps > 0);
  auto device = [&](Communicator& world) {
    const int rank = world.rank();
    Engine engine(t.model, ecfg, world, traces.start(rank));
    traces.set_info(rank, engine);
    Loader loader(cfg.data, lo);
    LoopHooks hooks;
    hooks.lr            = [&](int64_t) { return t.lr; };
    hooks.diverged_hint = fmt::format(" ({})", result.layout);
    hooks.on_step       = [&](const StepReport& r) {
      step_ms[rank][r.step - 1] = r.stats.step_ms;
      stash[rank]               = std::max(stash[rank], r.stats.peak_stash_bytes);
      if (rank != 0) return;
      result.losses.push_back(r.stats.loss);
      if (cfg.on_step) cfg.on_step(r.step, r.stats.loss, r.stats.step_ms);
    };
    train_steps(engine, loader, {0, cfg.steps}, hooks);
  };
  run_devices(n, {.threads_per_device = t.threads_per_device, .comm_timeout_s = t.comm_timeout}, device);

  result.step_ms          = slowest_per_step(step_ms);
  result.peak_stash_bytes = stash;
  if (cfg.trace_steps > 0) {
    trace::TraceSet all = traces.collect(cfg.name.empty() ? result.layout : cfg.name);
    all.layout_info     = trace_layout_info(t);
    all.run             = trace_run_info(t);
    result.trace        = crop_steps(all, all.steps.size() - cfg.trace_steps, cfg.trace_steps);
  }
  return result;
}

}  // namespace paraxis
