// bench_parallel — the parallel axes on 2 devices (2 cores), against one device and against PyTorch.
//
//   build/bench_parallel [--steps 10] [--runs 3] [--model mlp|gpt|both] [--peer torch|none]
//
// For the MLP 784-4096-4096-10 at global batch 256 and the GPT (V256, T128, C256, NH4, L4) at batch 8: one
// device (1 thread), one device with 2 threads, dp2, tp2 and placement on 2 devices (1 thread each); the
// median step time (median over runs of each run's median step), the speedup over one device, the issue's
// target, and the PyTorch peer measured in the same run: 1 thread, 2 threads, and DDP (gloo, 2 processes x
// 1 thread). Every training step includes the SGD update, on both sides. ratio = peer ms / paraxis ms (above
// 1: paraxis is faster).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <optional>

#include "bench_util.h"
#include "paraxis/core/error.h"
#include "paraxis/train/layout_run.h"

using namespace paraxis;

namespace {

struct Row {
  std::string label;
  LayoutRunConfig cfg;
  std::string target;      // the goal, e.g. ">= 1.8x"
  std::string peer_label;  // the peer it is compared with
  std::string peer_args;   // bench/peers/<args>, empty: none
};

double measure(const LayoutRunConfig& cfg, int runs) {
  std::vector<double> medians;
  for (int r = 0; r < runs; ++r) medians.push_back(run_layout(cfg).median_step_ms());
  return bench::median(medians);
}

void bench_model(const std::string& title, const ModelSpec& spec, int64_t batch, int steps, int runs,
                 bool peers) {
  LayoutRunConfig base;
  base.model                   = spec;
  base.data                    = bench::synthetic_data(spec);
  base.batch                   = batch;
  base.steps                   = steps;
  base.lr                      = 0.01;
  const std::string peer_model = bench::peer_model_args(spec);
  const int peer_runs          = std::max(5, steps);
  auto torch_step              = [&](int threads) {
    return fmt::format("torch_step.py {} --batch {} --threads {} --optimizer sgd --runs {}", peer_model,
                                    batch, threads, peer_runs);
  };
  std::vector<Row> rows;
  auto add = [&](std::string label, auto configure, std::string target, std::string peer_label,
                 std::string peer_args) {
    Row r{std::move(label), base, std::move(target), std::move(peer_label), std::move(peer_args)};
    configure(r.cfg);
    rows.push_back(std::move(r));
  };
  add(
      "1 device, 1 thread", [](LayoutRunConfig&) {}, "1.00x", "torch 1 thread", torch_step(1));
  add(
      "1 device, 2 threads", [](LayoutRunConfig& c) { c.threads_per_device = 2; }, "", "torch 2 threads",
      torch_step(2));
  add(
      "dp2 (2 devices x 1 thread)", [](LayoutRunConfig& c) { c.devices = 2, c.dp = 2; }, ">= 1.8x",
      "torch DDP gloo 2x1",
      fmt::format("torch_ddp.py {} --batch {} --procs 2 --threads 1 --runs {}", peer_model, batch,
                  peer_runs));
  add(
      "tp2 (2 devices x 1 thread)", [](LayoutRunConfig& c) { c.devices = 2, c.tp = 2; }, ">= 1.6x",
      "torch 2 threads", torch_step(2));
  add(
      "placement (2 devices)", [](LayoutRunConfig& c) { c.devices = 2, c.placement = true; }, "~1.0x", "",
      "");

  fmt::print("\n{} (global batch {}; {} steps x {} runs per layout)\n", title, batch, steps, runs);
  fmt::print("{:<28} {:>10} {:>8} {:>8}   {:<20} {:>9} {:>7}\n", "layout", "paraxis ms", "speedup", "target",
             "peer", "peer ms", "ratio");
  double one_device = 0;
  for (Row& r : rows) {
    std::optional<double> ms;
    std::string why;
    try {
      ms = measure(r.cfg, runs);
    } catch (const Error& e) {
      if (e.exit_code() != 2) throw;
      why = e.what();  // a layout this build does not support yet (tp before it lands)
    }
    if (!one_device && ms) one_device = *ms;
    std::optional<double> peer =
        peers && !r.peer_args.empty() ? bench::torch_peer_ms(r.peer_args) : std::nullopt;
    std::string peer_ms = peer ? fmt::format("{:.1f}", *peer) : "-";
    if (!ms) {
      fmt::print("{:<28} {:>10} {:>8} {:>8}   {:<20} {:>9} {:>7}   ({})\n", r.label, "n/a", "-", r.target,
                 r.peer_label, peer_ms, "-", why.substr(0, why.find('\n')));
      continue;
    }
    std::string ratio = peer ? fmt::format("{:.2f}", *peer / *ms) : "-";
    fmt::print("{:<28} {:>10.1f} {:>7.2f}x {:>8}   {:<20} {:>9} {:>7}\n", r.label, *ms, one_device / *ms,
               r.target, r.peer_label, peer_ms, ratio);
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_parallel: dp2, tp2, placement on 2 devices vs one device and PyTorch"};
  int steps = 10, runs = 3;
  std::string model = "both", peer = "torch";
  app.add_option("--steps", steps, "Steps per run (the first is not timed)")->capture_default_str();
  app.add_option("--runs", runs, "Runs per layout (median of their medians)")->capture_default_str();
  app.add_option("--model", model, "mlp | gpt | both")->capture_default_str();
  app.add_option("--peer", peer, "torch | none")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    PX_USER_CHECK(steps >= 2 && runs >= 1, "--steps {} --runs {}: need at least 2 steps and 1 run", steps,
                  runs);
    PX_USER_CHECK(model == "mlp" || model == "gpt" || model == "both", "--model {}: use mlp, gpt or both",
                  model);
    fmt::print("bench_parallel: load average at start {}\n", bench::load_average());
    if (model != "gpt")
      bench_model("MLP 784-4096-4096-10", ModelSpec::mlp({784, 4096, 4096, 10}), 256, steps, runs,
                  peer == "torch");
    if (model != "mlp")
      bench_model("GPT V256 T128 C256 NH4 L4", ModelSpec::gpt(256, 128, 256, 4, 4), 8, steps, runs,
                  peer == "torch");
    fmt::print("\nload average at end {}\n", bench::load_average());
  } catch (const Error& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return e.exit_code();
  }
  return 0;
}
