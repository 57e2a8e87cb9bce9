// bench_pipeline — the pipeline schedules as run by the Engine, measured against theory.
//
//   build/bench_pipeline [--steps 8] [--runs 3] [--microbatches 8]
//
// 1. Bubble: GPipe, 1F1B and ZB-H1 on 2 devices with m micro-batches, on an MLP whose two stages do equal
//    work (2048-2048-2048-2048-2048-10, synthetic data, batch 256). Measured = 1 − (each device's F/B/I/W
//    time) / (the pipeline window: step begin to the last backward), from the trace of a steady-state step;
//    theory = (p−1)/(m+p−1) for GPipe and 1F1B (docs/architecture.md, reference facts), and for ZB-H1 Qi et
//    al.'s (p−1)(T_F+T_I−T_W) / (m(T_F+T_I+T_W) + (p−1)(T_F+T_I−T_W)) with the trace's mean pass times. The
//    whole step's bubble (`paraxis analyze`: optimizer step and transfers included) is printed beside it.
// 2. Peak stashed activations per stage (Engine StepStats::peak_stash_bytes): GPipe holds m micro-batches,
//    1F1B at most p − r on stage r; bytes and micro-batches (bytes ÷ one micro-batch's stash).
// 3. Speedup of pp2 1F1B (m = 8) and placement (m = 1) over one device: MLP 784-4096-4096-10 (the issue's
//    model) and 784-3584-4096-4096-10 (two stages of equal work), with the bound the stage cut allows.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <map>
#include <tuple>

#include "bench_util.h"
#include "paraxis/core/error.h"
#include "paraxis/pipeline/dry_run.h"
#include "paraxis/pipeline/partition.h"
#include "paraxis/trace/analysis.h"
#include "paraxis/train/layout_run.h"

using namespace paraxis;

namespace {

struct BubbleFigures {
  double pipeline_bubble = 0;                 // F/B/I/W window only
  double replay_bubble   = 0;                 // the same passes replayed with free transfers, no runtime gaps
  double step_bubble     = 0;                 // analyze() over the whole step
  double t_f = 0, t_i = 0, t_w = 0, t_b = 0;  // mean pass times (ns) per stage and micro-batch
  std::vector<int64_t> stash;
};

bool is_pass(trace::Kind k) {
  using trace::Kind;
  return k == Kind::kForward || k == Kind::kBackward || k == Kind::kBackwardInput ||
         k == Kind::kBackwardWeight;
}

// Replays one step's measured passes in each device's recorded order with the pipeline's dependencies only,
// each as long as it was measured, transfers free: the bubble the schedule alone implies for these very pass
// times (their variance and the stages' imbalance included). Measured − replay is what the runtime and the
// transfers add. The replay is the dry-run (pipeline::dry_run, pipeline/readiness.h's rules) of the
// compute-only schedule read back from the trace, with each action's measured time.
double replay_bubble(const trace::TraceSet& set) {
  using pipeline::ActionKind;
  pipeline::Schedule s;
  std::vector<std::vector<double>> durations(set.events.size());
  s.num_devices = static_cast<int>(set.events.size());
  s.actions.resize(set.events.size());
  for (size_t d = 0; d < set.events.size(); ++d)
    for (const trace::Event& e : set.events[d]) {
      if (!is_pass(e.kind) || e.microbatch < 0) continue;  // the deferred-W flush (mb −1) is not a pass
      const ActionKind k = e.kind == trace::Kind::kForward         ? ActionKind::kForward
                           : e.kind == trace::Kind::kBackward      ? ActionKind::kFullBackward
                           : e.kind == trace::Kind::kBackwardInput ? ActionKind::kBackwardInput
                                                                   : ActionKind::kBackwardWeight;
      s.actions[d].push_back({e.stage, k, e.microbatch});
      durations[d].push_back(static_cast<double>(e.duration_ns()));
    }
  s = pipeline::parse_schedule_text(pipeline::format_schedule_text(s));  // infers stages, owners, m
  const pipeline::DryRunResult r = pipeline::dry_run(s, durations);
  return r.idle_fraction();
}

// The figures of traced step `k` of a run.
BubbleFigures bubble_of(const LayoutRunResult& r, size_t k) {
  const trace::TraceSet set = crop_steps(r.trace, k, 1);
  BubbleFigures f;
  f.step_bubble    = trace::analyze(set).bubble;
  const int64_t lo = set.steps[0].t_begin_ns;
  int64_t hi       = lo;
  double busy = 0, n_f = 0, n_i = 0, n_w = 0, n_b = 0;
  for (const auto& events : set.events)
    for (const trace::Event& e : events) {
      if (!is_pass(e.kind)) continue;
      hi = std::max(hi, e.t_end_ns);
      busy += static_cast<double>(e.duration_ns());
      double d = static_cast<double>(e.duration_ns());
      if (e.kind == trace::Kind::kForward) f.t_f += d, ++n_f;
      if (e.kind == trace::Kind::kBackwardInput) f.t_i += d, ++n_i;
      if (e.kind == trace::Kind::kBackwardWeight) f.t_w += d, ++n_w;
      if (e.kind == trace::Kind::kBackward) f.t_b += d, ++n_b;
    }
  f.pipeline_bubble = 1 - busy / (static_cast<double>(hi - lo) * set.num_devices());
  f.replay_bubble   = replay_bubble(set);
  f.t_f /= std::max(1.0, n_f), f.t_i /= std::max(1.0, n_i), f.t_w /= std::max(1.0, n_w),
      f.t_b /= std::max(1.0, n_b);
  f.stash = r.peak_stash_bytes;
  return f;
}

// The median step (by pipeline bubble) over the traced steps of `runs` runs: one step's bubble varies by
// several points on this machine (12.6–17% over four consecutive GPipe steps of one run).
BubbleFigures measure_bubble(const LayoutRunConfig& cfg, int runs) {
  std::vector<BubbleFigures> all;
  for (int k = 0; k < runs; ++k) {
    const LayoutRunResult r = run_layout(cfg);
    for (size_t step = 0; step < r.trace.steps.size(); ++step) all.push_back(bubble_of(r, step));
  }
  std::sort(all.begin(), all.end(), [](const BubbleFigures& a, const BubbleFigures& b) {
    return a.pipeline_bubble < b.pipeline_bubble;
  });
  return all[all.size() / 2];
}

void bubbles(int steps, int runs, int m) {
  const int p = 2;
  LayoutRunConfig cfg;
  cfg.model        = ModelSpec::mlp({16, 2048, 2048, 2048, 2048, 2048, 10});
  cfg.data         = bench::synthetic_data(cfg.model);
  cfg.batch        = 256;
  cfg.steps        = steps;
  cfg.lr           = 0.01;
  cfg.devices      = p;
  cfg.pp           = p;
  cfg.microbatches = m;
  cfg.trace_steps  = std::min(steps - 1, 4);  // the last ones; the first step warms up
  fmt::print(
      "\n1. Bubble, p = {}, m = {}: {} (balanced stages), batch {}, median step of {} runs x {} traced "
      "steps\n",
      p, m, cfg.model.describe(), cfg.batch, runs, cfg.trace_steps);
  fmt::print("{:<8} {:>10} {:>8} {:>7} {:>8} {:>12}   {}\n", "schedule", "measured", "theory", "diff",
             "replay", "whole step", "mean pass ms (F, B | I, W)");
  std::vector<int64_t> gpipe_stash, f1b1_stash;
  for (const char* schedule : {"gpipe", "1f1b", "zb-h1"}) {
    cfg.schedule     = schedule;
    BubbleFigures f  = measure_bubble(cfg, runs);
    const double tfi = f.t_f + f.t_i - f.t_w;
    double theory    = std::string(schedule) == "zb-h1"
                           ? (p - 1) * tfi / (m * (f.t_f + f.t_i + f.t_w) + (p - 1) * tfi)
                           : static_cast<double>(p - 1) / (m + p - 1);
    double diff      = 100 * (f.pipeline_bubble - theory);
    fmt::print(
        "{:<8} {:>9.1f}% {:>7.1f}% {:>+6.1f}pp {:>7.1f}% {:>11.1f}%   {:.2f}, {:.2f} | {:.2f}, {:.2f}  {}\n",
        schedule, 100 * f.pipeline_bubble, 100 * theory, diff, 100 * f.replay_bubble, 100 * f.step_bubble,
        f.t_f / 1e6, f.t_b / 1e6, f.t_i / 1e6, f.t_w / 1e6,
        std::abs(diff) <= 3 ? "within 3pp" : "OFF by more than 3pp");
    if (std::string(schedule) == "gpipe") gpipe_stash = f.stash;
    if (std::string(schedule) == "1f1b") f1b1_stash = f.stash;
    std::fflush(stdout);
  }

  fmt::print(
      "\n2. Peak stashed activations per stage (measured bytes; micro-batches = bytes / (GPipe's / m))\n");
  fmt::print("{:<6} {:>12} {:>6} {:>12} {:>6} {:>14}\n", "stage", "GPipe MB", "mb", "1F1B MB", "mb",
             "1F1B theory");
  for (int r = 0; r < p; ++r) {
    double per_mb = static_cast<double>(gpipe_stash[r]) / m;
    fmt::print("{:<6} {:>12.2f} {:>6.1f} {:>12.2f} {:>6.1f} {:>14}\n", r, gpipe_stash[r] / 1e6,
               gpipe_stash[r] / per_mb, f1b1_stash[r] / 1e6, f1b1_stash[r] / per_mb,
               fmt::format("<= {}", std::min(p - r, m)));
  }
}

// total work / the largest stage's work: the most any 2-stage pipeline of this cut can gain.
double stage_bound(const ModelSpec& spec, int64_t batch, int stages) {
  // The costs the Engine's partitioner balances.
  const std::vector<double> costs = build_model(spec)->partition_costs(batch);
  double total                    = 0;
  for (double c : costs) total += c;
  return total / pipeline::partition_stages(costs, stages).max_cost;
}

void speedups(int steps, int runs) {
  fmt::print("\n3. Speedup over one device (batch 256, median of {} runs x {} steps)\n", runs, steps);
  fmt::print("{:<28} {:<22} {:>9} {:>8} {:>8} {:>14}\n", "model", "layout", "ms", "speedup", "target",
             "stage bound");
  for (const ModelSpec& spec :
       {ModelSpec::mlp({784, 4096, 4096, 10}), ModelSpec::mlp({784, 3584, 4096, 4096, 10})}) {
    LayoutRunConfig base;
    base.model   = spec;
    base.data    = bench::synthetic_data(spec);
    base.batch   = 256;
    base.steps   = steps;
    base.lr      = 0.01;
    auto measure = [&](LayoutRunConfig c) {
      std::vector<double> v;
      for (int k = 0; k < runs; ++k) v.push_back(run_layout(c).median_step_ms());
      return bench::median(v);
    };
    const double one     = measure(base);
    LayoutRunConfig f1b1 = base;
    f1b1.devices = 2, f1b1.pp = 2, f1b1.microbatches = 8;
    LayoutRunConfig place = base;
    place.devices = 2, place.placement = true;
    const double bound = stage_bound(spec, 256, 2);
    fmt::print("{:<28} {:<22} {:>9.1f} {:>7.2f}x {:>8} {:>14}\n", spec.describe(), "1 device", one, 1.0, "",
               "");
    double ms = measure(f1b1);
    fmt::print("{:<28} {:<22} {:>9.1f} {:>7.2f}x {:>8} {:>13.2f}x\n", "", "pp2 1F1B m=8", ms, one / ms,
               ">= 1.6x", bound * 8 / 9);
    LayoutRunConfig deferred = f1b1;
    deferred.defer_wgrad     = true;
    ms                       = measure(deferred);
    fmt::print("{:<28} {:<22} {:>9.1f} {:>7.2f}x {:>8} {:>13.2f}x\n", "", "pp2 1F1B m=8 defer-W", ms,
               one / ms, ">= 1.6x", bound);
    ms = measure(place);
    fmt::print("{:<28} {:<22} {:>9.1f} {:>7.2f}x {:>8} {:>13.2f}x\n", "", "placement (m=1)", ms, one / ms,
               "~1.0x", 1.0);
    std::fflush(stdout);
  }
  fmt::print(
      "stage bound: total work / the largest stage's work (flops), times m/(m+p-1) for 1F1B: what the stage "
      "cut\nallows at best (784-4096-4096-10 cuts as fc1 | fc2+fc3, 11% | 89% of the flops). defer-W: "
      "--defer-wgrad,\nLinear weight gradients once per step from all 8 micro-batches (one GEMM of 256 rows, "
      "not 8 of 32).\n");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_pipeline: measured bubble and stash against theory, pipeline speedup"};
  int steps = 8, runs = 3, m = 8;
  std::string part = "all";
  app.add_option("--steps", steps, "Steps per run (the last is traced)")->capture_default_str();
  app.add_option("--runs", runs, "Runs per figure (median)")->capture_default_str();
  app.add_option("--microbatches", m, "Micro-batches of the bubble and stash runs")->capture_default_str();
  app.add_option("--part", part, "all | bubble | speedup")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    PX_USER_CHECK(steps >= 3 && runs >= 1, "--steps {} --runs {}: need at least 3 steps and 1 run", steps,
                  runs);
    PX_USER_CHECK(m >= 1 && 256 % m == 0, "--microbatches {} must divide the batch of 256; use 8", m);
    fmt::print("bench_pipeline: load average at start {}\n", bench::load_average());
    if (part != "speedup") bubbles(steps, runs, m);
    if (part != "bubble") speedups(steps, runs);
    fmt::print("\nload average at end {}\n", bench::load_average());
  } catch (const Error& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return e.exit_code();
  }
  return 0;
}
