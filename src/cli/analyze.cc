// `paraxis analyze TRACE... [--one-device-ms X] [--step K]`: the concurrency report of one run: one paraxis
// trace, or the PyTorch profiler traces of one run's ranks (trace::read_trace_run).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/command.h"
#include "paraxis/core/error.h"
#include "paraxis/trace/analysis.h"
#include "paraxis/trace/chrome_trace.h"

namespace {

struct AnalyzeArgs {
  std::vector<std::string> traces;
  double one_device_ms = 0;
  int step             = -1;
};

int run_analyze(const AnalyzeArgs& args) {
  using namespace paraxis;
  PX_USER_CHECK(args.one_device_ms >= 0,
                "--one-device-ms {} is negative; give the one-device step time in ms", args.one_device_ms);
  trace::TraceSet set = trace::read_trace_run(args.traces);
  trace::AnalysisOptions options;
  options.step = args.step;
  if (args.one_device_ms > 0) options.one_device_step_ns = args.one_device_ms * 1e6;
  trace::Analysis a = trace::analyze(set, options);
  fmt::print("trace: {}\n{}", fmt::join(args.traces, " "), trace::format_analysis(a));
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
       sub.add_option("--step", args->step, "Analyse only this step (0-based); default: all steps");
       return [args] { return run_analyze(*args); };
     }});

}  // namespace
