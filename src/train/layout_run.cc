#include "paraxis/train/layout_run.h"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <set>

#include "paraxis/comm/launch.h"
#include "paraxis/core/error.h"
#include "paraxis/data/loader.h"
#include "paraxis/parallel/engine.h"

namespace paraxis {

double LayoutRunResult::median_step_ms() const {
  if (step_ms.empty()) return 0;
  std::vector<double> v = step_ms;
  if (v.size() >= 3) v.erase(v.begin());
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
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

LayoutRunResult run_layout(const LayoutRunConfig& cfg_in) {
  LayoutRunConfig cfg = cfg_in;
  PX_CHECK(cfg.data != nullptr, "run_layout needs a dataset");
  PX_USER_CHECK(cfg.steps >= 1, "--steps {} must be at least 1", cfg.steps);
  PX_USER_CHECK(cfg.trace_steps >= 0 && cfg.trace_steps <= cfg.steps,
                "{} traced steps out of {} steps; trace at most every step", cfg.trace_steps, cfg.steps);
  if (cfg.placement) cfg.pp = cfg.devices, cfg.schedule = "gpipe", cfg.microbatches = 1;

  EngineConfig ecfg;
  ecfg.grid        = make_grid(cfg.devices, cfg.dp, cfg.tp, cfg.pp);
  ecfg.schedule    = {pipeline::parse_schedule_kind(cfg.schedule), cfg.pp, cfg.microbatches};
  ecfg.seed        = cfg.seed;
  ecfg.optim.kind  = "sgd";
  ecfg.optim.sgd   = {cfg.momentum, 0.0};
  ecfg.defer_wgrad = cfg.defer_wgrad;
  validate_layout(cfg.model, ecfg, cfg.batch);
  DeviceOptions dev;
  dev.threads_per_device = cfg.threads_per_device;
  dev.comm_timeout_s     = cfg.comm_timeout_s;
  validate_device_options(cfg.devices, dev);

  LayoutRunResult result;
  result.layout = cfg.placement
                      ? fmt::format("placement on {} devices (pp{}, m1)", cfg.devices, cfg.pp)
                      : fmt::format("{}, {} m{}", ecfg.grid.describe(), cfg.schedule, cfg.microbatches);
  const int n   = cfg.devices;
  std::vector<std::vector<double>> step_ms(n, std::vector<double>(cfg.steps, 0.0));
  std::vector<int64_t> stash(n, 0);
  std::vector<std::unique_ptr<trace::Recorder>> recorders(n);
  std::vector<trace::DeviceInfo> infos(n);
  const LoaderOptions lo{.batch_size = cfg.batch, .shuffle = true, .seed = cfg.seed};
  PX_USER_CHECK(Loader(cfg.data, lo).batches_per_epoch() >= 1,
                "--batch {} is larger than the {} training samples; use --batch {}", cfg.batch,
                cfg.data->size(), cfg.data->size());

  run_devices(n, dev, [&](Communicator& world) {
    const int rank = world.rank();
    if (cfg.trace_steps > 0) recorders[rank] = std::make_unique<trace::Recorder>(rank);
    Engine engine(cfg.model, ecfg, world, recorders[rank].get());
    const Coord c = engine.grid().coord(rank);
    infos[rank]   = {rank, c.dp, c.tp, c.pp};
    Loader loader(cfg.data, lo);
    for (int64_t step = 0; step < cfg.steps; ++step) {
      Batch b     = loader.next();
      StepStats s = engine.step(b.x, b.y, cfg.lr);
      PX_CHECK(std::isfinite(s.loss), "the loss is {} at step {} of {}: training diverged", s.loss, step,
               result.layout);
      step_ms[rank][step] = s.step_ms;
      stash[rank]         = std::max(stash[rank], s.peak_stash_bytes);
      if (rank == 0) {
        result.losses.push_back(s.loss);
        if (cfg.on_step) cfg.on_step(step + 1, s.loss, s.step_ms);
      }
    }
  });

  for (int64_t k = 0; k < cfg.steps; ++k) {
    double slowest = 0;
    for (int d = 0; d < n; ++d) slowest = std::max(slowest, step_ms[d][k]);
    result.step_ms.push_back(slowest);
  }
  result.peak_stash_bytes = stash;
  if (cfg.trace_steps > 0) {
    std::vector<trace::Recorder*> recs;
    for (auto& r : recorders) recs.push_back(r.get());
    trace::TraceSet all = trace::collect(recs, infos, cfg.name.empty() ? result.layout : cfg.name);
    result.trace        = crop_steps(all, all.steps.size() - cfg.trace_steps, cfg.trace_steps);
  }
  return result;
}

}  // namespace paraxis
