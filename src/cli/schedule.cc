// paraxis schedule — print a pipeline schedule, validate it, dry-run it, and compare its bubble with theory.
//
//   paraxis schedule --schedule 1f1b --pp 4 --microbatches 8
//   paraxis schedule --schedule interleaved-1f1b --pp 2 --microbatches 4 --virtual 2 --lowered --format csv
//   paraxis schedule --from my_schedule.csv --durations F=1,I=1,W=1 --timeline
//   paraxis schedule --from torch_artifact.csv --format torch-csv   # PyTorch's CSV form, read and written
//   paraxis schedule --pp 4 --costs 4,1,1,1,1,1,1,4      # also cut 8 blocks into 4 balanced stages
#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "cli/command.h"
#include "paraxis/core/error.h"
#include "paraxis/pipeline/dry_run.h"
#include "paraxis/pipeline/generators.h"
#include "paraxis/pipeline/grid.h"
#include "paraxis/pipeline/lower.h"
#include "paraxis/pipeline/partition.h"
#include "paraxis/pipeline/torch_csv.h"
#include "paraxis/pipeline/validate.h"

namespace {

using namespace paraxis;
using namespace paraxis::pipeline;

struct Options {
  std::string schedule = "1f1b";
  int pp = 2, microbatches = 4, virtual_stages = 1;
  std::string format    = "grid";
  bool lowered          = false;
  bool timeline         = false;
  std::string durations = "F=1,B=2,I=1,W=1";
  std::string from_file;
  std::string costs;
};

// A .csv file is in PyTorch's form when is_torch_csv says so (an empty cell, an OVERLAP_F_B pair or
// UNSHARD/RESHARD in some row), else in ours; a torch CSV without those reads the same in both. `torch` keeps
// what writes a torch file back unchanged (idle cells, overlapped pairs).
Schedule read_schedule_file(const std::string& path, std::optional<TorchCsvSchedule>& torch) {
  std::ifstream in(path);
  PX_USER_CHECK(in.good(), "--from {}: cannot open the file; give a schedule in CSV (.csv) or text form",
                path);
  std::stringstream buf;
  buf << in.rdbuf();
  const bool csv = path.size() >= 4 && path.compare(path.size() - 4, 4, ".csv") == 0;
  if (csv && is_torch_csv(buf.str())) {
    torch = parse_torch_csv(buf.str());
    return torch->schedule;
  }
  return csv ? parse_schedule_csv(buf.str()) : parse_schedule_text(buf.str());
}

// --format torch-csv: the schedule alone, as torch's _load_csv reads it (so the figures go to stderr). A
// torch file read with --from comes back unchanged unless --lowered changed the schedule.
void print_torch_csv(const Schedule& s, const std::optional<TorchCsvSchedule>& from,
                     const std::string& figures) {
  fmt::print("{}", from && from->schedule == s ? format_torch_csv(*from) : format_torch_csv(s));
  fmt::print(stderr, "{}", figures);
}

std::vector<double> parse_costs(const std::string& text) {
  std::vector<double> costs;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end      = nullptr;
    const double c = std::strtod(item.c_str(), &end);
    PX_USER_CHECK(!item.empty() && *end == '\0',
                  "--costs item '{}' is not a number; write e.g. --costs 4,1,1,4", item);
    costs.push_back(c);
  }
  return costs;
}

std::string join(const std::vector<int>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += fmt::format("{}{}", i ? " " : "", v[i]);
  return out;
}

int run_schedule(const Options& o) {
  PX_USER_CHECK(o.format == "grid" || o.format == "csv" || o.format == "torch-csv" || o.format == "json" ||
                    o.format == "text",
                "--format {} is unknown; use grid, csv, torch-csv, json or text", o.format);
  const Durations durations = parse_durations(o.durations);
  ScheduleSpec spec{parse_schedule_kind(o.schedule), o.pp, o.microbatches, o.virtual_stages};
  Schedule schedule;
  std::optional<TorchCsvSchedule> torch;  // set when --from reads a file in PyTorch's CSV form
  std::string title;
  if (o.from_file.empty()) {
    schedule = generate_schedule(spec);  // checks the spec: user errors exit 2
    title    = fmt::format("schedule {}: pp {}, microbatches {}, virtual {}, {} stages", o.schedule, o.pp,
                           o.microbatches, o.virtual_stages, schedule.num_stages);
  } else {
    schedule = read_schedule_file(o.from_file, torch);
    title    = fmt::format("schedule from {}{}: {} devices, {} stages, {} microbatches", o.from_file,
                        torch ? " (PyTorch's CSV form)" : "", schedule.num_devices, schedule.num_stages,
                           schedule.num_microbatches);
  }
  validate_schedule(schedule);
  if (o.lowered && !schedule.is_lowered()) schedule = lower_send_recv(schedule);
  validate_schedule(schedule);
  const DryRunResult r     = dry_run(schedule, durations);
  double theory            = o.from_file.empty() ? theoretical_idle_fraction(spec) : -1;
  std::string theory_label = spec.kind == ScheduleKind::kInterleaved1F1B && spec.virtual_stages > 1
                                 ? "((p-1)/(v*m+p-1): bubble time / v)"
                                 : "((p-1)/(m+p-1))";
  if (o.from_file.empty() && spec.kind == ScheduleKind::kZBH1 && spec.microbatches >= spec.pp) {
    // Qi et al. 2024: ZB-H1 idles (p-1)(T_F + T_I - T_W) per device, against m(T_F + T_I + T_W) of work.
    const double bubble =
        (spec.pp - 1) * (durations.forward + durations.backward_input - durations.backward_weight);
    const double work =
        spec.microbatches * (durations.forward + durations.backward_input + durations.backward_weight);
    theory       = bubble / (work + bubble);
    theory_label = "((p-1)(F+I-W) per device, Qi et al. 2024)";
  }

  if (o.format == "json") {
    nlohmann::json j;
    j["schedule"]     = o.from_file.empty() ? o.schedule : o.from_file;
    j["devices"]      = schedule.num_devices;
    j["stages"]       = schedule.num_stages;
    j["microbatches"] = schedule.num_microbatches;
    j["stage_device"] = schedule.stage_device;
    j["lowered"]      = schedule.is_lowered();
    j["actions"]      = nlohmann::json::array();
    for (const auto& list : schedule.actions) {
      nlohmann::json row = nlohmann::json::array();
      for (const Action& a : list) row.push_back(to_string(a));
      j["actions"].push_back(row);
    }
    j["makespan"]             = r.makespan;
    j["busy"]                 = r.busy;
    j["idle"]                 = r.idle;
    j["idle_fraction"]        = r.idle_fraction();
    j["idle_fraction_theory"] = theory >= 0 ? nlohmann::json(theory) : nlohmann::json(nullptr);
    j["peak_stash"]           = r.peak_stash;
    fmt::print("{}\n", j.dump(2));
    return 0;
  }
  if (o.format == "torch-csv") {
    print_torch_csv(schedule, torch,
                    fmt::format("# makespan {:g}, idle fraction {:.4f}, peak stash per stage {}\n",
                                r.makespan, r.idle_fraction(), join(r.peak_stash)));
    return 0;
  }
  if (o.format == "csv" || o.format == "text") {
    // The schedule alone (it parses back); the figures follow as '#' comments, which the parsers skip.
    fmt::print("{}", o.format == "csv" ? format_schedule_csv(schedule) : format_schedule_text(schedule));
    fmt::print("# makespan {:g}, idle fraction {:.4f}, peak stash per stage {}\n", r.makespan,
               r.idle_fraction(), join(r.peak_stash));
    return 0;
  }
  fmt::print("{} ({})\n\n", title, schedule.is_lowered() ? "lowered: with send/recv" : "compute only");
  fmt::print("{}\n", format_grid(schedule));
  if (o.timeline)
    fmt::print("timeline (dry-run, one row per time unit):\n{}\n", format_timeline(schedule, r));
  fmt::print(
      "valid: each micro-batch forwarded and backwarded once per stage, F before I before W, one device "
      "per stage\n");
  fmt::print("dry-run (F={:g} B={:g} I={:g} W={:g} SEND={:g} RECV={:g}): no deadlock, makespan {:g}\n",
             durations.forward, durations.backward, durations.backward_input, durations.backward_weight,
             durations.send, durations.recv, r.makespan);
  fmt::print("device  busy      idle\n");
  for (int d = 0; d < schedule.num_devices; ++d) fmt::print("{:>6}  {:<8g}  {:g}\n", d, r.busy[d], r.idle[d]);
  if (theory >= 0)
    fmt::print("bubble (idle fraction of the step): measured {:.4f}, theory {:.4f} {}\n", r.idle_fraction(),
               theory, theory_label);
  else
    fmt::print("bubble (idle fraction of the step): measured {:.4f}\n", r.idle_fraction());
  fmt::print("peak stashed micro-batches per stage: {}\n", join(r.peak_stash));
  if (!o.costs.empty()) {
    const StagePartition part = partition_stages(parse_costs(o.costs), schedule.num_stages);
    fmt::print("\nstage partition of {} blocks into {} stages (cuts {}):\n{}", part.cuts.back(),
               part.num_stages(), join(part.cuts), part.summary());
  }
  return 0;
}

const bool registered = paraxis::cli::register_command(
    {"schedule", "Print, validate and dry-run a pipeline schedule (GPipe, 1F1B, interleaved 1F1B, ZB-H1)",
     [](CLI::App& sub) -> paraxis::cli::Runner {
       auto o = std::make_shared<Options>();
       sub.add_option("--schedule", o->schedule, "gpipe, 1f1b, interleaved-1f1b or zb-h1")
           ->capture_default_str();
       sub.add_option("--pp", o->pp, "pipeline devices p")->capture_default_str();
       sub.add_option("--microbatches,-m", o->microbatches, "micro-batches per step m")
           ->capture_default_str();
       sub.add_option("--virtual", o->virtual_stages, "model chunks per device v (interleaved-1f1b)")
           ->capture_default_str();
       sub.add_option("--format", o->format, "grid, csv, torch-csv (PyTorch's schedule CSV), json or text")
           ->capture_default_str();
       sub.add_flag("--lowered", o->lowered, "insert SEND/RECV actions (as the runtime executes them)");
       sub.add_flag("--timeline", o->timeline, "also print the dry-run timeline (one row per time unit)");
       sub.add_option("--durations", o->durations,
                      "dry-run times per action kind: F=1,B=2,I=1,W=1,SEND=0,RECV=0")
           ->capture_default_str();
       sub.add_option("--from", o->from_file,
                      "read the schedule from a file (.csv: our CSV form or PyTorch's, else text form)");
       sub.add_option("--costs", o->costs, "block costs a,b,c,...: also print the balanced stage partition");
       return [o] { return run_schedule(*o); };
     }});

}  // namespace
