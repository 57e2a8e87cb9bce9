// `paraxis analyze TRACE... [--one-device-ms X] [--step K | --steps A:B]`: the concurrency report of one
// run (one paraxis trace, or the PyTorch profiler traces of one run's ranks: trace::read_trace_run), or of
// some of its steps.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <optional>

#include "cli/command.h"
#include "cli/predicted_effect.h"
#include "paraxis/core/error.h"
#include "paraxis/core/input_file.h"
#include "paraxis/cost/hardware.h"
#include "paraxis/trace/analysis.h"
#include "paraxis/trace/chrome_trace.h"
#include "paraxis/trace/step_window.h"

namespace {

struct AnalyzeArgs {
  std::vector<std::string> traces;
  double one_device_ms = 0;
  int step             = -1;
  std::string steps;                                 // "A:B"
  std::string machine, preset = "cpu-this-machine";  // prices the recommendation (predicted_effect.h)
};

// The recommendation's predicted effect, when the trace records its run; the profile is read only then.
void print_predicted_effect(const paraxis::trace::TraceSet& set, const paraxis::trace::Analysis& a,
                            const AnalyzeArgs& args) {
  using namespace paraxis;
  if (set.run.model_json.empty() || a.suggested_flags.empty()) return;
  const cost::HardwareProfile hw =
      args.machine.empty() ? cost::hardware_preset(args.preset) : cost::load_hardware(args.machine);
  const std::string name = args.machine.empty() ? "preset " + args.preset : "profile " + args.machine;
  const std::string line = cli::predicted_effect(set, a, hw, name);
  if (!line.empty()) fmt::print("                   {}\n", line);
}

int run_analyze(const AnalyzeArgs& args) {
  using namespace paraxis;
  PX_USER_CHECK(args.one_device_ms >= 0,
                "--one-device-ms {} is negative; give the one-device step time in ms", args.one_device_ms);
  std::optional<trace::StepRange> range;
  if (!args.steps.empty()) range = trace::parse_step_range(args.steps);    // before reading a big file
  if (!args.machine.empty()) check_input_file("--machine", args.machine);  // read only when it prices
  trace::TraceSet set = trace::read_trace_run(args.traces);
  std::string shown;
  if (range) {
    trace::check_step_range(*range, set, fmt::format("{}", fmt::join(args.traces, " ")));
    shown = fmt::format(" ({})", trace::describe_window(*range, set));
    set   = trace::restrict_to_steps(set, *range);
  }
  trace::AnalysisOptions options;
  options.step = args.step;
  if (args.one_device_ms > 0) options.one_device_step_ns = args.one_device_ms * 1e6;
  trace::Analysis a = trace::analyze(set, options);
  fmt::print("trace: {}{}\n{}", fmt::join(args.traces, " "), shown, trace::format_analysis(a));
  print_predicted_effect(set, a, args);
  std::vector<trace::LayerWork> work = trace::trace_work(set);
  if (!work.empty()) {
    auto layouts = trace::standard_layouts(set.num_devices());
    fmt::print("\n{}", trace::format_work_depth(
                           work, layouts,
                           set.layers.empty() ? "ns of measured compute per stage" : "flops per layer"));
  }
  return 0;
}

const bool registered = paraxis::cli::register_command(
    {"analyze", "Concurrency report of a trace: utilization, bubble, overlap, critical path, verdict",
     [](CLI::App& sub) -> paraxis::cli::Runner {
       auto args = std::make_shared<AnalyzeArgs>();
       sub.add_option(
              "TRACE", args->traces,
              "Chrome-trace JSON written by `paraxis train --trace`, or PyTorch profiler traces of one "
              "run (one file per rank, or one merged file)")
           ->required();
       sub.add_option("--one-device-ms", args->one_device_ms,
                      "Step time of the same model on one device (ms), for the speedup");
       auto* step =
           sub.add_option("--step", args->step, "Analyse only this step (0-based); default: all steps");
       sub.add_option("--steps", args->steps,
                      "Analyse only steps A:B (0-based, both included), e.g. the window `paraxis report` "
                      "shows")
           ->excludes(step);
       sub.add_option("--machine", args->machine,
                      "Hardware profile (`paraxis calibrate -o FILE`) that prices the recommendation");
       sub.add_option("--preset", args->preset, "Built-in hardware profile when no --machine is given")
           ->capture_default_str();
       return [args] { return run_analyze(*args); };
     }});

}  // namespace
