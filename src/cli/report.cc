// `paraxis report TRACE... -o report.html [--steps A:B]`: one self-contained HTML page comparing traces side
// by side, each shown over a window of its steps.
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "cli/command.h"
#include "paraxis/core/error.h"
#include "paraxis/core/safe_write.h"
#include "paraxis/trace/chrome_trace.h"
#include "paraxis/trace/report.h"
#include "paraxis/trace/step_window.h"

namespace {

struct ReportArgs {
  std::vector<std::string> traces;
  std::string output = "report.html";
  std::string title  = "paraxis trace report";
  std::string steps;  // "A:B"; empty: each trace's median step and its neighbours
};

int run_report(const ReportArgs& args) {
  using namespace paraxis;
  trace::ReportOptions options{.title = args.title};
  check_output_path("-o", args.output, /*allow_stdout=*/true);                   // before reading big traces
  if (!args.steps.empty()) options.steps = trace::parse_step_range(args.steps);  // before reading big files
  std::vector<trace::ReportEntry> entries;
  for (trace::TraceRun& run : trace::read_trace_runs(args.traces))
    entries.push_back({std::move(run.name), std::move(run.set)});
  const std::string html = trace::render_html_report(entries, options);
  write_output("-o", args.output, html);
  fmt::print(args.output == "-" ? stderr : stdout, "wrote {} ({} trace{}, {:.0f} KB)\n", args.output,
             entries.size(), entries.size() == 1 ? "" : "s", html.size() / 1e3);
  return 0;
}

const bool registered = paraxis::cli::register_command(
    {"report", "Self-contained HTML report: timelines, utilization and verdict of one or more traces",
     [](CLI::App& sub) -> paraxis::cli::Runner {
       auto args = std::make_shared<ReportArgs>();
       sub.add_option("TRACE", args->traces,
                      "Chrome-trace JSON files, shown side by side; a PyTorch run's rank files one after "
                      "another (grouped by their distributedInfo world size)")
           ->required();
       sub.add_option("-o,--output", args->output, "HTML file to write")->capture_default_str();
       sub.add_option("--title", args->title, "Heading of the page")->capture_default_str();
       sub.add_option("--steps", args->steps,
                      "Steps A:B to show (0-based, both included; K for one); default: the median step and "
                      "its neighbours");
       return [args] { return run_report(*args); };
     }});

}  // namespace
