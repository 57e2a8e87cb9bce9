// `paraxis demo [--quick] [--out DIR] [--steps N]`: the seed's thesis, measured. The same model trains the
// same steps from the same seed on five layouts — one device, workload partitioning on two devices, 1F1B on
// two devices (m = 8), tensor parallelism (tp2) and data parallelism (dp2) — and one table shows the measured
// step time, speedup, utilization, bubble, verdict and final loss of each. Every layout's trace and one HTML
// report comparing them are written to DIR.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>

#include "cli/command.h"
#include "cli/in_run_rates.h"
#include "cli/model_flags.h"
#include "paraxis/core/error.h"
#include "paraxis/core/safe_write.h"
#include "paraxis/cost/hardware.h"
#include "paraxis/cost/planner.h"
#include "paraxis/data/sources.h"
#include "paraxis/measure/calibration.h"
#include "paraxis/measure/measure.h"
#include "paraxis/trace/analysis.h"
#include "paraxis/trace/chrome_trace.h"
#include "paraxis/trace/report.h"
#include "paraxis/train/layout_run.h"
#include "paraxis/train/progress.h"

namespace fs = std::filesystem;

namespace paraxis::cli {
namespace {

struct DemoArgs {
  bool quick      = false;
  std::string out = "paraxis-demo";
  int64_t steps   = 0;  // 0: 20, or 6 with --quick
  std::string mlp_sizes;
  std::string data     = "auto";  // auto | fashion-mnist | synthetic
  std::string progress = "auto";
  int microbatches     = 8;
  bool defer_wgrad     = true;  // the 1F1B row's Linear weight gradients once per step (--no-defer-wgrad)
  std::string machine;          // hardware profile for the predicted column
  std::string preset = "cpu-this-machine";  // used when no --machine is given
  int rounds         = 1;  // every layout this many times, round-robin; the table shows the median round
  // Measure the profile's Linear rates in this run, one round before each round of layouts: 1 yes
  // (--calibrate), 0 no (--no-calibrate), -1 when neither --machine nor --preset is given (the default, since
  // a preset's rates are another machine's).
  int calibrate     = -1;
  bool preset_given = false;
};

struct DemoLayout {
  std::string label;  // the table's first column
  std::string file;   // trace file name
  LayoutRunConfig cfg;
};

struct DemoRow {
  DemoLayout layout;
  std::optional<LayoutRunResult> run;  // the median round's run; empty: the build cannot run this layout
  std::vector<LayoutRunResult> runs;   // every round's, in order
  std::string unavailable;             // why a layout was not run
  std::optional<trace::Analysis> analysis;
  std::optional<double> predicted_ms;
  trace::TraceSet predicted_trace;  // the cost model's simulated step (one pipeline group)
};

// The cost model's layout of a demo run, as run_layout runs it (placement: a pipeline of one micro-batch).
cost::Layout layout_of(const LayoutRunConfig& c) {
  const TrainConfig t = train_config(c);
  cost::Layout layout;
  layout.pp                 = t.pp;
  layout.tp                 = t.tp;
  layout.dp                 = t.dp > 0 ? t.dp : t.devices / (t.tp * t.pp);
  layout.schedule           = pipeline::parse_schedule_kind(t.schedule);
  layout.microbatches       = t.microbatches;
  layout.threads_per_device = c.threads_per_device;
  layout.optimizer          = "sgd";
  layout.defer_wgrad        = c.defer_wgrad;
  return layout;
}

// "1f1b.json" → "1f1b.predicted.json": the cost model's simulated step of the same layout.
std::string predicted_file(const std::string& measured) {
  return fs::path(measured).stem().string() + ".predicted.json";
}

// --calibrate: the rates the predictions use, measured in the run itself (measure::RunCalibration) — one
// round of every layout's Linear calls before each round of layouts.
measure::RunCalibration run_calibration(const std::vector<DemoRow>& rows) {
  cost::LinearCalls calls;
  int devices = 1;
  for (const DemoRow& r : rows) {
    const LayoutRunConfig& c = r.layout.cfg;
    calls.merge(cost::linear_calls(cost::describe_model(c.model), layout_of(c), c.batch));
    devices = std::max(devices, c.devices);
  }
  return measure::RunCalibration(calls, devices);
}

std::string load_average() {
  std::ifstream f("/proc/loadavg");
  double one = 0, five = 0, fifteen = 0;
  if (!(f >> one >> five >> fifteen)) return "unknown";
  return fmt::format("{:.2f} {:.2f} {:.2f}", one, five, fifteen);
}

std::shared_ptr<const Dataset> demo_data(const std::string& choice, std::string& name) {
  const bool have_fashion = fs::exists(fs::path(kFashionMnistDir) / "train-images-idx3-ubyte.gz") ||
                            fs::exists(fs::path(kFashionMnistDir) / "train-images-idx3-ubyte");
  if (choice == "fashion-mnist" || (choice == "auto" && have_fashion)) {
    name = "Fashion-MNIST (60000 training images)";
    return std::make_shared<ClassificationDataset>(load_fashion_mnist("train"));
  }
  if (choice == "auto")
    fmt::print(
        "notice: Fashion-MNIST is not installed ({} is missing; apt-get install dataset-fashion-mnist);\n"
        "        training on synthetic data of the same shape instead (784 features, 10 classes).\n",
        kFashionMnistDir);
  name = "synthetic (Gaussian blobs, 784 features, 10 classes)";
  return std::make_shared<ClassificationDataset>(make_synthetic_classification(16384, {784}, 10, 1, 1.0f));
}

std::vector<DemoLayout> demo_layouts(const LayoutRunConfig& base, int m, bool defer_wgrad) {
  std::vector<DemoLayout> out;
  auto add = [&](std::string label, std::string file, auto configure) {
    DemoLayout l{std::move(label), std::move(file), base};
    configure(l.cfg);
    l.cfg.name = l.label;
    out.push_back(std::move(l));
  };
  add("1 device", "1-device.json", [](LayoutRunConfig&) {});
  add("placement, 2 devices", "placement.json",
      [](LayoutRunConfig& c) { c.devices = 2, c.placement = true; });
  add(fmt::format("1F1B, 2 devices, m={}{}", m, defer_wgrad ? ", defer-W" : ""), "1f1b.json",
      [m, defer_wgrad](LayoutRunConfig& c) {
        c.devices = 2, c.pp = 2, c.microbatches = m, c.schedule = "1f1b", c.defer_wgrad = defer_wgrad;
      });
  add("tp2, 2 devices", "tp2.json", [](LayoutRunConfig& c) { c.devices = 2, c.tp = 2; });
  add("dp2, 2 devices", "dp2.json", [](LayoutRunConfig& c) { c.devices = 2, c.dp = 2; });
  return out;
}

// A layout's measured step: its run's median step, or with rounds the median over the rounds' medians.
double measured_ms(const DemoRow& r) {
  std::vector<double> ms;
  for (const LayoutRunResult& run : r.runs) ms.push_back(run.median_step_ms());
  return measure::median_mean(ms);
}

std::string verdict_word(const DemoRow& r) {
  if (!r.analysis) return "-";
  if (r.layout.cfg.devices == 1) return "one device";
  // The kind without its details: "pipeline (1F1B, m = 8)" -> "pipeline".
  const trace::Analysis& a = *r.analysis;
  const std::string kind   = a.kind.substr(0, a.kind.find(" ("));
  return a.parallel || kind == "workload partitioning" ? kind : kind + ", serial";
}

// A layout's name up to its first comma ("1F1B, 2 devices, m=8" -> "1F1B") for one-line lists.
std::string short_name(const DemoRow& r) {
  return r.layout.cfg.name.substr(0, r.layout.cfg.name.find(','));
}

void print_table(const std::vector<DemoRow>& rows, double one_device_ms, int rounds) {
  const bool ranged = rounds > 1;
  fmt::print("\n{:<30} {:>10}{} {:>10} {:>6} {:>8} {:>8} {:>7}  {:<22} {:>11}\n", "layout", "step ms",
             ranged ? fmt::format(" {:>15}", "rounds min-max") : "", "predicted", "error", "speedup", "util.",
             "bubble", "verdict", "final loss");
  fmt::print("{:-<30} {:->10}{} {:->10} {:->6} {:->8} {:->8} {:->7}  {:-<22} {:->11}\n", "", "",
             ranged ? fmt::format(" {:->15}", "") : "", "", "", "", "", "", "", "");
  for (const DemoRow& r : rows) {
    if (!r.run) {
      fmt::print("{:<30} not run: {}\n", r.layout.label, r.unavailable);
      continue;
    }
    const double ms       = measured_ms(r);
    std::string predicted = r.predicted_ms ? fmt::format("{:.1f}", *r.predicted_ms) : "-";
    std::string error     = r.predicted_ms ? fmt::format("{:+.0f}%", 100 * (*r.predicted_ms / ms - 1)) : "-";
    std::string util      = r.analysis ? fmt::format("{:.1f}%", 100 * r.analysis->utilization) : "-";
    std::string bubble    = r.analysis ? fmt::format("{:.1f}%", 100 * r.analysis->bubble) : "-";
    std::string range;
    if (ranged) {
      double lo = INFINITY, hi = 0;
      for (const LayoutRunResult& run : r.runs)
        lo = std::min(lo, run.median_step_ms()), hi = std::max(hi, run.median_step_ms());
      range = fmt::format(" {:>15}", fmt::format("{:.1f}-{:.1f}", lo, hi));
    }
    fmt::print("{:<30} {:>10.1f}{} {:>10} {:>6} {:>7.2f}x {:>8} {:>7}  {:<22} {:>11.7f}\n", r.layout.label,
               ms, range, predicted, error, one_device_ms / ms, util, bubble, verdict_word(r),
               r.run->losses.back());
  }
}

// The layouts ordered by measured step and by predicted step, and whether the orders agree.
void print_ranking(const std::vector<DemoRow>& rows) {
  std::vector<const DemoRow*> ran;
  for (const DemoRow& r : rows)
    if (r.run && r.predicted_ms) ran.push_back(&r);
  if (ran.size() < 2) return;
  auto order = [&](auto key) {
    std::vector<const DemoRow*> v = ran;
    std::stable_sort(v.begin(), v.end(),
                     [&](const DemoRow* a, const DemoRow* b) { return key(*a) < key(*b); });
    std::string text;
    for (const DemoRow* r : v) text += (text.empty() ? "" : " < ") + short_name(*r);
    return text;
  };
  const std::string measured  = order([](const DemoRow& r) { return measured_ms(r); });
  const std::string predicted = order([](const DemoRow& r) { return *r.predicted_ms; });
  fmt::print("Ranking, fastest first: measured {}; predicted {}{}.\n", measured,
             measured == predicted ? "the same" : predicted, measured == predicted ? "" : " (differs)");
}

// A notice when a layout's rounds disagree by more than 25%: the machine's speed changed under the run, and
// no prediction (made from a calibration at another moment) can agree with the measured step closer than the
// measurement agrees with itself. Seen on this shared VM: 1F1B at 371-872 ms within one demo run.
void print_unsteady_rounds(const std::vector<DemoRow>& rows) {
  std::vector<std::string> unsteady;
  for (const DemoRow& r : rows) {
    if (r.runs.size() < 2) continue;
    std::vector<double> ms;
    for (const LayoutRunResult& run : r.runs) ms.push_back(run.median_step_ms());
    const double spread = measure::spread_of(ms);
    if (spread > 0.25)
      unsteady.push_back(fmt::format("{} {:.0f}-{:.0f} ms", short_name(r),
                                     *std::min_element(ms.begin(), ms.end()),
                                     *std::max_element(ms.begin(), ms.end())));
  }
  if (unsteady.empty()) return;
  fmt::print(
      "notice: the rounds of {} differ by more than 25%: this machine's speed changed during the run\n"
      "        (another job, or a shared host). Measured steps, errors and ranking are only as steady as "
      "that;\n"
      "        re-run on a quiet machine or with more --rounds.\n",
      fmt::join(unsteady, ", "));
}

void print_explanation(const std::vector<DemoRow>& rows, int m, bool defer_wgrad, int64_t batch) {
  const int p = 2;
  fmt::print(
      "\nWhat the verdicts mean (utilization = the share of the step a device computed; bubble = 1 - it):\n"
      "  placement   workload partitioning: the first layers live on device 0, the rest on device 1, and "
      "the\n"
      "              one batch flows through them in turn - device 1 waits for device 0's forward, device 0\n"
      "              for device 1's backward. At most one device computes at a time: ~50% utilization and\n"
      "              ~1x speedup, however many devices hold the layers.\n"
      "  1F1B        streams m = {} micro-batches: device 0 computes micro-batch j+1 while device 1 "
      "computes\n"
      "              j. Only filling and draining the pipe idles a device: bubble (p-1)/(m+p-1) = {:.1f}% "
      "for\n"
      "              p = {}, plus whatever the two stages' unequal work adds.{}\n"
      "  tp2         splits every layer: each device holds half of each weight matrix and computes every\n"
      "              layer at once on its half; the pieces are joined by all-reduces (comm track).\n"
      "  dp2         splits the batch: each device runs the whole model on {} of the {} rows; the gradients\n"
      "              are averaged by an all-reduce that overlaps the backward.\n"
      "  waiting     a device blocked on a peer that has not sent yet (a receive posted before its send, a\n"
      "              collective entered before the last member): red in report.html, apart from the\n"
      "              transfer itself (comm).\n",
      m, 100.0 * (p - 1) / (m + p - 1), p,
      defer_wgrad
          ? "\n              defer-W: each Linear's weight gradient is one GEMM of all m micro-batches at "
            "the\n              step's end (32-row passes are memory-bound here); --no-defer-wgrad: "
            "one per micro-batch."
          : "",
      batch / 2, batch);
  for (const DemoRow& r : rows)
    if (r.analysis && r.layout.cfg.devices > 1)
      fmt::print("  {:<31} {}\n", r.layout.label + ":", r.analysis->verdict);
}

// The flags' own checks, before anything is loaded or trained.
void check_args(const DemoArgs& args) {
  PX_USER_CHECK(args.steps >= 0, "--steps {} must be positive (or 0 for the default)", args.steps);
  PX_USER_CHECK(args.steps == 0 || args.steps >= 3,
                "--steps {}: the demo needs at least 3 steps (one to warm up, two to trace); use --steps 3",
                args.steps);
  PX_USER_CHECK(args.data == "auto" || args.data == "fashion-mnist" || args.data == "synthetic",
                "--data {} is unknown; use auto, fashion-mnist or synthetic", args.data);
  PX_USER_CHECK(args.microbatches >= 1 && 256 % (args.microbatches * 2) == 0,
                "--microbatches {} must divide the 128 rows of a data-parallel half batch; use 8",
                args.microbatches);
  PX_USER_CHECK(args.progress == "auto" || args.progress == "bar" || args.progress == "none",
                "--progress {} is unknown; use auto, bar or none", args.progress);
  PX_USER_CHECK(args.rounds >= 1 && args.rounds <= 20,
                "--rounds {}: must be between 1 and 20 (each round runs every layout once); e.g. --rounds 3",
                args.rounds);
}

void create_out_dir(const std::string& out) {
  std::error_code ec;
  fs::create_directories(out, ec);
  PX_USER_CHECK(!ec && fs::is_directory(out),
                "--out {}: cannot create the directory ({}); give a writable path", out,
                ec ? ec.message() : "not a directory");
}

// What every layout shares: the model, batch, steps, optimizer and seed (the data is loaded after the
// header line is printed).
LayoutRunConfig base_config(const DemoArgs& args) {
  LayoutRunConfig base;
  // The widths make the two pipeline stages do equal work (fc1+fc2 | fc3+fc4; fc1 computes no input
  // gradient, so 2·784·a + 3·a·b ≈ 3·b·b), so 1F1B can show its gain; with the MLP 784-4096-4096-10 one stage
  // holds 84% of the flops and 1F1B could gain at most 1.19x whatever the schedule.
  std::vector<int64_t> sizes = args.quick ? std::vector<int64_t>{784, 1664, 2048, 2048, 10}
                                          : std::vector<int64_t>{784, 3584, 4096, 4096, 10};
  if (!args.mlp_sizes.empty()) sizes = parse_mlp_sizes(args.mlp_sizes);
  PX_USER_CHECK(sizes.size() >= 3 && sizes.front() == 784 && sizes.back() == 10,
                "--mlp-sizes {}: the demo's data has 784 features and 10 classes and pipelining needs two "
                "layers; use e.g. --mlp-sizes 784,1024,1024,10",
                args.mlp_sizes);
  base.model = ModelSpec::mlp(sizes);
  validate_model_spec(base.model);
  base.batch       = 256;
  base.steps       = args.steps > 0 ? args.steps : (args.quick ? 6 : 20);
  base.lr          = 0.01;
  base.momentum    = 0.9;
  base.seed        = 1;
  base.trace_steps = 2;
  return base;
}

// Layout i of `total` in one round: its run (one entry of r.runs), with a progress display and one summary
// line.
void run_one(DemoRow& r, const DemoArgs& args, const LayoutRunConfig& base, int round, int i, int total) {
  if (args.rounds > 1)
    fmt::print("[round {}/{}, {}/{}] {}\n", round, args.rounds, i + 1, total, r.layout.label);
  else
    fmt::print("[{}/{}] {}\n", i + 1, total, r.layout.label);
  std::fflush(stdout);
  // A bar on a terminal; otherwise the one summary line per layout below is the progress display.
  Progress progress(args.progress == "auto" ? (isatty(fileno(stderr)) ? "bar" : "none") : args.progress,
                    base.steps);
  r.layout.cfg.on_step = [&](int64_t step, double loss, double ms) {
    progress.update(step, loss, base.batch / (ms / 1e3));
  };
  try {
    r.runs.push_back(run_layout(r.layout.cfg));
  } catch (const Error& e) {
    // Only a layout this build does not support yet (tensor parallelism before it lands) is skipped.
    if (r.layout.cfg.tp == 1 || e.exit_code() != 2) throw;
    r.unavailable = e.what();
  }
  progress.finish();
  if (r.unavailable.empty())
    fmt::print("      median step {:.1f} ms, final loss {:.7f}\n", r.runs.back().median_step_ms(),
               r.runs.back().losses.back());
  else
    fmt::print("      skipped: {}\n", r.unavailable);
}

// Round-robin: on a shared machine the speed drifts over seconds to minutes; rounds spread every layout
// over the same stretch of time, and the table shows each layout's median round.
void run_rounds(std::vector<DemoRow>& rows, const DemoArgs& args, const LayoutRunConfig& base,
                std::optional<measure::RunCalibration>& calibration) {
  const int total = static_cast<int>(rows.size());
  for (int round = 1; round <= args.rounds; ++round) {
    if (calibration) {
      fmt::print(
          "[{}] calibrating: the layouts' Linear rates, alone, in turns and at once; memory bandwidth\n",
          args.rounds > 1 ? fmt::format("round {}/{}", round, args.rounds) : "0/" + std::to_string(total));
      std::fflush(stdout);
      fmt::print("      done in {:.1f} s\n", calibration->measure_round());
    }
    for (int i = 0; i < total; ++i)
      if (rows[i].unavailable.empty()) run_one(rows[i], args, base, round, i, total);
  }
}

// Each layout's predicted step, and its median round: the run whose trace, utilization and verdict the table
// shows (the round whose step is the table's; the lower middle one for an even count).
void predict_and_pick_median(std::vector<DemoRow>& rows, const cost::HardwareProfile& hw) {
  for (DemoRow& r : rows) {
    if (r.runs.empty()) continue;
    // The cost model's step (include/paraxis/cost/planner.h) from the same model, batch and schedule the
    // demo runs; shown beside the measured one and labelled predicted.
    cost::PredictedStep p =
        cost::predict_step(r.layout.cfg.model, layout_of(r.layout.cfg), r.layout.cfg.batch, hw);
    r.predicted_ms    = p.step_s * 1e3;
    r.predicted_trace = std::move(p.trace);
    std::vector<size_t> order(r.runs.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return r.runs[a].median_step_ms() < r.runs[b].median_step_ms(); });
    r.run = r.runs[order[(order.size() - 1) / 2]];
  }
}

// Analyses every run layout and writes its measured and predicted traces, the profile and report.html to
// --out; returns the report's path.
std::string write_results(std::vector<DemoRow>& rows, double one_device_ms, const DemoArgs& args,
                          const LayoutRunConfig& base, const cost::HardwareProfile& hw) {
  std::vector<trace::ReportEntry> entries;
  for (DemoRow& r : rows) {
    if (!r.run) continue;
    r.run->trace.one_device_step_ns = one_device_ms * 1e6;
    // One steady-state step: the last one (the trace keeps the last two; neither is the first of the run).
    r.analysis = trace::analyze(r.run->trace, {.step = static_cast<int>(r.run->trace.steps.size()) - 1});
    const std::string path = (fs::path(args.out) / r.layout.file).string();
    trace::write_chrome_trace(r.run->trace, path);
    entries.push_back({r.layout.label + " (" + r.layout.file + ")", r.run->trace});
    const std::string predicted = predicted_file(r.layout.file);
    trace::write_chrome_trace(r.predicted_trace, (fs::path(args.out) / predicted).string());
    entries.push_back({r.layout.label + ", predicted (" + predicted + ")", r.predicted_trace});
  }
  // The profile behind the predicted column: `paraxis predict --machine DIR/machine.json` reproduces a row.
  cost::save_hardware(hw, (fs::path(args.out) / "machine.json").string());
  const std::string report = (fs::path(args.out) / "report.html").string();
  write_file_atomic(
      "--out", report,
      trace::render_html_report(
          entries, {.title = fmt::format("paraxis demo: {}, batch {}", base.model.describe(), base.batch)}));
  return report;
}

// What the table's figures are, and how far the layouts' final losses agree.
void print_loss_summary(const std::vector<DemoRow>& rows, int64_t steps, int rounds) {
  double lo = INFINITY, hi = -INFINITY;
  for (const DemoRow& r : rows)
    if (r.run) lo = std::min(lo, r.run->losses.back()), hi = std::max(hi, r.run->losses.back());
  fmt::print(
      "\nAll figures measured in this run (step ms: median over steps 2..{}{}; utilization, bubble and "
      "verdict: the last step's trace{}).\nFinal losses equal across layouts: max difference {:.2e} "
      "(fp32 summation order).\n",
      steps, rounds > 1 ? fmt::format(", then the median over {} rounds run round-robin", rounds) : "",
      rounds > 1 ? " of the median round" : "", hi - lo);
}

// Where the predicted column's rates came from.
void print_prediction_source(const DemoArgs& args, bool calibrated) {
  if (calibrated)
    fmt::print(
        "predicted: the cost model's step time (`paraxis predict`), not measured, from rates measured in "
        "this "
        "run (--calibrate):\n"
        "  the Linear passes of the layouts' shapes alone, in turns and at once, and the memory bandwidth, "
        "in {} "
        "round(s),\n"
        "  one before each round of layouts, the median over them{}; the rest from {}.\n",
        args.rounds, args.machine.empty() ? "; the threads backend's latency and bandwidth" : "",
        args.machine.empty() ? "preset " + args.preset : args.machine);
  else
    fmt::print(
        "predicted: the cost model's step time (`paraxis predict`) with hardware profile {}; not measured.\n",
        args.machine.empty()
            ? "preset " + args.preset +
                  " (for this machine's rates: --calibrate, or `paraxis calibrate -o m.json`, "
                  "then --machine m.json)"
            : args.machine);
}

void print_written(const std::vector<DemoRow>& rows, const std::string& report, const std::string& out) {
  fmt::print("\nwrote {} and the traces beside it:", report);
  for (const DemoRow& r : rows)
    if (r.run) fmt::print(" {}", r.layout.file);
  fmt::print(
      "\nwith each layout's predicted step as a trace ({}, ...) and the profile the predictions used "
      "(machine.json);\nopen the traces in ui.perfetto.dev; `paraxis analyze {}` explains one.\n",
      predicted_file(rows[0].layout.file), (fs::path(out) / "1f1b.json").string());
}

int run_demo(const DemoArgs& args) {
  check_args(args);
  // The hardware profile is input too: a bad --machine or --preset stops the demo before anything trains.
  cost::HardwareProfile hw =
      args.machine.empty() ? cost::hardware_preset(args.preset) : cost::load_hardware(args.machine);
  const bool calibrate =
      calibrate_in_run(args.calibrate, args.machine.empty() && !args.preset_given, args.machine, args.preset);
  create_out_dir(args.out);
  LayoutRunConfig base = base_config(args);
  fmt::print(
      "paraxis demo: {} on the threads backend, global batch {}, SGD (lr {}, momentum {}), {} steps "
      "per layout\nload average {}\n",
      base.model.describe(), base.batch, base.lr, base.momentum, base.steps, load_average());
  std::string data_name;
  base.data = demo_data(args.data, data_name);
  fmt::print("data: {}\n", data_name);

  std::vector<DemoRow> rows;
  for (DemoLayout& l : demo_layouts(base, args.microbatches, args.defer_wgrad))
    rows.push_back({std::move(l)});
  std::optional<measure::RunCalibration> calibration;
  if (calibrate) calibration.emplace(run_calibration(rows));
  run_rounds(rows, args, base, calibration);
  std::string unsteady_calibration;
  if (calibration)
    hw = calibration->profile(hw, args.machine.empty(), "paraxis demo --calibrate", unsteady_calibration);
  predict_and_pick_median(rows, hw);
  const double one_device_ms = measured_ms(rows[0]);
  const std::string report   = write_results(rows, one_device_ms, args, base, hw);

  print_table(rows, one_device_ms, args.rounds);
  print_loss_summary(rows, base.steps, args.rounds);
  print_ranking(rows);
  print_unsteady_rounds(rows);
  print_prediction_source(args, calibration.has_value());
  if (!unsteady_calibration.empty())
    fmt::print("notice: {}: the machine's speed changed during the run; the median round is kept.\n",
               unsteady_calibration);
  print_explanation(rows, args.microbatches, args.defer_wgrad, base.batch);
  print_written(rows, report, args.out);
  return 0;
}

const bool registered = register_command(
    {"demo", "Train one model on 1 device, placement, 1F1B, tp2 and dp2; compare them in one table",
     [](CLI::App& sub) -> Runner {
       auto args = std::make_shared<DemoArgs>();
       sub.add_flag("--quick", args->quick, "A small model and few steps (seconds; what CI runs)");
       sub.add_option("--out", args->out, "Directory for report.html and the traces")->capture_default_str();
       sub.add_option("--steps", args->steps, "Steps per layout (default 20; 6 with --quick)");
       sub.add_option("--mlp-sizes", args->mlp_sizes,
                      "MLP widths (default 784,3584,4096,4096,10; 784,1664,2048,2048,10 with --quick)");
       sub.add_option("--microbatches", args->microbatches, "Micro-batches of the 1F1B layout")
           ->capture_default_str();
       sub.add_flag("--defer-wgrad,!--no-defer-wgrad", args->defer_wgrad,
                    "1F1B row: Linear weight gradients once per step from all micro-batches (default on)");
       sub.add_option("--data", args->data, "auto (Fashion-MNIST if installed) | fashion-mnist | synthetic")
           ->capture_default_str();
       sub.add_option("--progress", args->progress, "auto | bar | none")->capture_default_str();
       sub.add_option("--rounds", args->rounds,
                      "Run every layout this many times, round-robin, and show each one's median round (a "
                      "shared machine's speed drifts)")
           ->capture_default_str();
       sub.add_flag_function(
           "--calibrate,!--no-calibrate", [args](int64_t n) { args->calibrate = n > 0 ? 1 : 0; },
           "Measure the rates for the predicted column in this run: before each round, one round of the "
           "layouts' Linear rates and memory bandwidth (medians over the rounds). Default: on unless "
           "--machine or --preset is given");
       sub.add_option("--machine", args->machine,
                      "Hardware profile for the predicted column (paraxis calibrate)");
       sub.add_option_function<std::string>(
              "--preset",
              [args](const std::string& name) {
                args->preset       = name;
                args->preset_given = true;
              },
              "Built-in hardware profile when no --machine is given (default cpu-this-machine)")
           ->capture_default_str();
       return [args] { return run_demo(*args); };
     }});

}  // namespace
}  // namespace paraxis::cli
