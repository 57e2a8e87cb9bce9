// `paraxis example-trace --layout 1f1b -o 1f1b.json`: an idealised trace with known answers (see
// paraxis/trace/synthetic.h), to try `paraxis analyze` and `paraxis report` without running a model.
#include <fmt/format.h>

#include "cli/command.h"
#include "paraxis/core/error.h"
#include "paraxis/trace/chrome_trace.h"
#include "paraxis/trace/synthetic.h"

namespace {

struct ExampleArgs {
  std::string layout = "1f1b";
  int devices        = 4;
  int microbatches   = 8;
  double comm_ms     = 0.05;
  int steps          = 1;
  std::string output;
};

int run_example(const ExampleArgs& a) {
  using namespace paraxis::trace;
  PX_USER_CHECK(a.devices >= 1 && a.devices <= 64, "--devices {} is out of range; use 1..64", a.devices);
  PX_USER_CHECK(a.comm_ms >= 0, "--comm-ms {} is negative; use 0 or more", a.comm_ms);
  PX_USER_CHECK(a.steps >= 1, "--steps {} is not a number of steps; use 1 or more", a.steps);
  TraceSet set;
  if (a.layout == "placement" || a.layout == "1f1b" || a.layout == "gpipe") {
    PipelineShape s;
    s.stages       = a.devices;
    s.microbatches = a.layout == "placement" ? 1 : a.microbatches;
    s.schedule     = a.layout == "gpipe" ? "gpipe" : "1f1b";
    // The same mini-batch in every case: m micro-batches each cost 1/m of it.
    s.forward_ns  = 8e6 / s.microbatches;
    s.backward_ns = 16e6 / s.microbatches;
    s.comm_ns     = a.comm_ms * 1e6;
    set           = synthetic_pipeline(s);
  } else if (a.layout == "tp") {
    TensorParallelShape s;
    s.devices      = a.devices;
    s.layers       = 4;
    s.forward_ns   = 8e6 / s.devices;
    s.backward_ns  = 16e6 / s.devices;
    s.allreduce_ns = a.comm_ms * 1e6 * 4;
    set            = synthetic_tensor_parallel(s);
  } else if (a.layout == "dp") {
    DataParallelShape s;
    s.devices      = a.devices;
    s.forward_ns   = 32e6 / s.devices;
    s.backward_ns  = 64e6 / s.devices;
    s.allreduce_ns = a.comm_ms * 1e6 * 20;
    set            = synthetic_data_parallel(s);
  } else {
    PX_USER_FAIL("--layout '{}' is unknown; use placement, 1f1b, gpipe, tp or dp", a.layout);
  }
  if (a.steps > 1) set = repeat_steps(set, a.steps);
  write_chrome_trace(set, a.output);
  size_t events = 0;
  for (const auto& device_events : set.events) events += device_events.size();
  fmt::print("wrote {} ({}, {} devices, {} step{}, {} events)\n", a.output, set.layout, set.num_devices(),
             set.steps.size(), set.steps.size() == 1 ? "" : "s", events);
  return 0;
}

const bool registered = paraxis::cli::register_command(
    {"example-trace",
     "Write an idealised trace of a layout (placement, 1f1b, gpipe, tp, dp) for analyze/report",
     [](CLI::App& sub) -> paraxis::cli::Runner {
       auto args = std::make_shared<ExampleArgs>();
       sub.add_option("--layout", args->layout, "placement, 1f1b, gpipe, tp or dp")->capture_default_str();
       sub.add_option("--devices", args->devices,
                      "Number of devices (pipeline stages for placement/1f1b/gpipe)")
           ->capture_default_str();
       sub.add_option("-m,--microbatches", args->microbatches, "Micro-batches for 1f1b and gpipe")
           ->capture_default_str();
       sub.add_option("--comm-ms", args->comm_ms, "Cost of one transfer between stages (ms)")
           ->capture_default_str();
       sub.add_option("--steps", args->steps, "Repeat the step this many times (a long run)")
           ->capture_default_str();
       sub.add_option("-o,--output", args->output, "Where to write the Chrome-trace JSON")->required();
       return [args] { return run_example(*args); };
     }});

}  // namespace
