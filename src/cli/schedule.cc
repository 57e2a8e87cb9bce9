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
#include "cli/model_flags.h"
#include "paraxis/core/error.h"
#include "paraxis/core/input_file.h"
#include "paraxis/parallel/spatial.h"
#include "paraxis/parallel/step_plan.h"
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
  // The whole step (tail included) of a layout as the engine runs it: any of these flags asks for it.
  bool step = false;
  int dp = 1, tp = 1, zero = 0, sp = 1;
  std::string sp_fc = "batch";
  double bucket_mb = 25, clip = 0;
  bool defer_wgrad = false;
  ModelSpec model;
  bool whole_step(const CLI::App& app) const {
    for (const char* f :
         {"--step", "--dp", "--tp", "--sp", "--sp-fc", "--zero", "--bucket-mb", "--clip", "--defer-wgrad"})
      if (app.count(f) > 0) return true;
    return false;
  }
};

// Each REDUCE_GRADb of the whole step: its size and the blocks whose gradients fill it.
void print_buckets(const ModelSpec& spec, const StepPlan& plan) {
  if (plan.spec.dp < 2 || plan.spec.zero1) return;
  const auto model = build_model(spec);
  for (size_t r = 0; r < plan.spec.buckets.size(); ++r)
    for (size_t b = 0; b < plan.spec.buckets[r].size(); ++b) {
      const pipeline::GradBucket& bk = plan.spec.buckets[r][b];
      std::string names;
      for (int blk : bk.blocks) names += (names.empty() ? "" : ", ") + model->blocks[blk]->name();
      fmt::print("device {} REDUCE_GRAD{}: {:.2f} MB of gradients ({})\n", r, b,
                 static_cast<double>(bk.end - bk.begin) * 4 / (1024.0 * 1024.0), names);
    }
  fmt::print("\n");
}

// --sp: which split each block uses; the halo exchanges and the layout change run inside the F and B actions
// (the spatial layers' own passes), so the lists above do not change. With --pp, each block's stage: every
// stage is split over the same sp devices, and a transfer between stages carries each member's own slab (or
// its share of the samples) to the member with the same sp coordinate.
void print_spatial_splits(const Options& o, const StepPlan& plan) {
  const SpFc fc = parse_sp_fc(o.sp_fc);
  fmt::print(
      "domain parallelism, sp {}, FC side {}: halos inside each conv/pool block's F and B, the layout change "
      "inside flatten's{}{}\n",
      o.sp, sp_fc_name(fc),
      fc == SpFc::kModel ? "; the FC shards' all-reduces inside their F and B; each conv block's gradients "
                           "summed over sp at its last W"
                         : "",
      o.pp > 1 ? "; each stage on the same sp devices, SEND/RECV between the members with the same sp "
                 "coordinate (each its own slab or share)"
               : "");
  const std::vector<BlockSplit> rows = spatial_layout(o.model, o.sp, int64_t{o.sp} * o.microbatches, fc);
  for (size_t b = 0; b < rows.size(); ++b) {
    int stage = 0;
    while (plan.cuts[stage + 1] <= static_cast<int>(b)) ++stage;
    const std::string where = o.pp > 1 ? fmt::format("stage {:<3}", stage) : "";
    fmt::print("  {:<16} {:<16} {}{:<30} {}\n", rows[b].block, rows[b].kind, where, rows[b].split,
               rows[b].per_device);
  }
  fmt::print("\n");
}

// The layout's whole step from the engine's own planner (parallel/step_plan.h): buckets, FLUSH_W, ZeRO-1,
// GRAD_NORM and OPT_STEP in every device's list.
StepPlan whole_step(const Options& o, std::string& title) {
  PX_USER_CHECK(
      o.from_file.empty(),
      "--from reads a schedule; the whole-step flags (--dp, --tp, --zero, "
      "--bucket-mb, --clip, --defer-wgrad, --step) describe a layout instead: give one or the other");
  cli::validate_model_spec(o.model);
  EngineConfig cfg;
  cfg.grid            = Grid{o.dp, o.tp, o.pp, o.sp};
  cfg.sp_fc           = parse_sp_fc(o.sp_fc);
  cfg.schedule        = {parse_schedule_kind(o.schedule), o.pp, o.microbatches, o.virtual_stages};
  cfg.bucket_mb       = o.bucket_mb;
  cfg.zero            = o.zero;
  cfg.defer_wgrad     = o.defer_wgrad;
  cfg.optim.clip_norm = o.clip;
  validate_layout(o.model, cfg, int64_t{o.dp} * o.microbatches * o.sp);
  const StepPlan plan = plan_step(o.model, cfg);
  title               = fmt::format(
                    "step of {} on dp {} x tp {} x pp {} ({} m {}{}{}{}): each pipeline device's list, which "
                                  "its {} data-{} and tensor-parallel replica(s) run alike",
                    o.model.describe(), o.dp, o.tp, o.pp, o.schedule, o.microbatches,
      o.dp > 1 && o.zero == 0 ? fmt::format(", buckets of {:g} MB", o.bucket_mb) : "",
      o.zero ? ", ZeRO-1" : "", o.defer_wgrad ? ", deferred weight gradients" : "", o.dp * o.tp * o.sp,
      o.sp > 1 ? ", spatial-" : "");
  if (o.sp > 1)
    title += cfg.sp_fc_model()
                 ? fmt::format("; sp {}, FC weights split over sp: the gradients average over dp", o.sp)
                 : fmt::format("; sp {}: the gradients average over dp x sp", o.sp);
  return plan;
}

// A .csv file is in PyTorch's form when is_torch_csv says so (an empty cell, an OVERLAP_F_B pair or
// UNSHARD/RESHARD in some row), else in ours; a torch CSV without those reads the same in both. `torch` keeps
// what writes a torch file back unchanged (idle cells, overlapped pairs).
Schedule read_schedule_file(const std::string& path, std::optional<TorchCsvSchedule>& torch) {
  check_input_file("--from", path);
  std::ifstream in(path);
  PX_USER_CHECK(in.good(), "--from {}: cannot open the file; give a schedule in CSV (.csv) or text form",
                path);
  std::stringstream buf;
  buf << in.rdbuf();
  const bool csv = path.size() >= 4 && path.compare(path.size() - 4, 4, ".csv") == 0;
  return parse_schedule_file(buf.str(), csv, torch);
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

// The schedule to print, and what it came from: the whole step, a generator, or a file (--from).
struct Source {
  Schedule schedule;
  std::optional<TorchCsvSchedule> torch;  // set when --from reads a file in PyTorch's CSV form
  std::optional<StepPlan> plan;           // set for the whole step
  std::string title;
};

Source load_schedule(const Options& o, bool whole, const ScheduleSpec& spec) {
  Source src;
  if (whole) {
    src.plan     = whole_step(o, src.title);
    src.schedule = src.plan->schedule;
  } else if (o.from_file.empty()) {
    src.schedule = generate_schedule(spec);  // checks the spec: user errors exit 2
    src.title    = fmt::format("schedule {}: pp {}, microbatches {}, virtual {}, {} stages", o.schedule, o.pp,
                               o.microbatches, o.virtual_stages, src.schedule.num_stages);
  } else {
    src.schedule = read_schedule_file(o.from_file, src.torch);
    src.title    = fmt::format("schedule from {}{}: {} devices, {} stages, {} microbatches", o.from_file,
                            src.torch ? " (PyTorch's CSV form)" : "", src.schedule.num_devices,
                               src.schedule.num_stages, src.schedule.num_microbatches);
  }
  return src;
}

// The closed-form bubble the dry-run's is compared with; value < 0 when there is none (a schedule --from a
// file has no spec to derive it from).
struct Theory {
  double value = -1;
  std::string label;
};

Theory bubble_theory(const Options& o, const ScheduleSpec& spec, const Durations& durations) {
  Theory t;
  t.value = o.from_file.empty() ? theoretical_idle_fraction(spec) : -1;
  t.label = spec.kind == ScheduleKind::kInterleaved1F1B && spec.virtual_stages > 1
                ? "((p-1)/(v*m+p-1): bubble time / v)"
                : "((p-1)/(m+p-1))";
  if (o.from_file.empty() && spec.kind == ScheduleKind::kZBH1 && spec.microbatches >= spec.pp) {
    // Qi et al. 2024: ZB-H1 idles (p-1)(T_F + T_I - T_W) per device, against m(T_F + T_I + T_W) of work.
    const double bubble =
        (spec.pp - 1) * (durations.forward + durations.backward_input - durations.backward_weight);
    const double work =
        spec.microbatches * (durations.forward + durations.backward_input + durations.backward_weight);
    t.value = bubble / (work + bubble);
    t.label = "((p-1)(F+I-W) per device, Qi et al. 2024)";
  }
  return t;
}

// The dry-run's figures as one '#' comment line, which the schedule parsers skip.
std::string figures_comment(const DryRunResult& r) {
  return fmt::format("# makespan {:g}, idle fraction {:.4f}, peak stash per stage {}\n", r.makespan,
                     r.idle_fraction(), join(r.peak_stash));
}

void print_json(const Options& o, const Schedule& schedule, const DryRunResult& r, double theory) {
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
}

// --format grid (the default): the grid, the dry-run's figures against theory, and the stage partition.
void print_report(const Options& o, bool whole, const Source& src, const Durations& durations,
                  const DryRunResult& r, const Theory& theory) {
  const Schedule& schedule = src.schedule;
  if (src.plan) print_buckets(o.model, *src.plan);
  if (src.plan && o.sp > 1) print_spatial_splits(o, *src.plan);
  fmt::print("{} ({})\n\n", src.title,
             whole                   ? "the whole step"
             : schedule.is_lowered() ? "lowered: with send/recv"
                                     : "compute only");
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
  if (theory.value >= 0)
    fmt::print("bubble (idle fraction of the step): measured {:.4f}, theory {:.4f} {}\n", r.idle_fraction(),
               theory.value, theory.label);
  else
    fmt::print("bubble (idle fraction of the step): measured {:.4f}\n", r.idle_fraction());
  fmt::print("peak stashed micro-batches per stage: {}\n", join(r.peak_stash));
  if (!o.costs.empty()) {
    const StagePartition part = partition_stages(parse_costs(o.costs), schedule.num_stages);
    fmt::print("\nstage partition of {} blocks into {} stages (cuts {}):\n{}", part.cuts.back(),
               part.num_stages(), join(part.cuts), part.summary());
  }
}

int run_schedule(const Options& o, bool whole) {
  PX_USER_CHECK(o.format == "grid" || o.format == "csv" || o.format == "torch-csv" || o.format == "json" ||
                    o.format == "text",
                "--format {} is unknown; use grid, csv, torch-csv, json or text", o.format);
  const Durations durations = parse_durations(o.durations);
  const ScheduleSpec spec{parse_schedule_kind(o.schedule), o.pp, o.microbatches, o.virtual_stages};
  Source src         = load_schedule(o, whole, spec);
  Schedule& schedule = src.schedule;
  validate_schedule(schedule);
  if (o.lowered && !schedule.is_lowered()) schedule = lower_send_recv(schedule);
  validate_schedule(schedule);
  const DryRunResult r = dry_run(schedule, durations);
  const Theory theory  = bubble_theory(o, spec, durations);

  if (o.format == "json") {
    print_json(o, schedule, r, theory.value);
  } else if (o.format == "torch-csv") {
    print_torch_csv(schedule, src.torch, figures_comment(r));
  } else if (o.format == "csv" || o.format == "text") {
    // The schedule alone (it parses back); the figures follow as '#' comments, which the parsers skip.
    fmt::print("{}", o.format == "csv" ? format_schedule_csv(schedule) : format_schedule_text(schedule));
    fmt::print("{}", figures_comment(r));
  } else {
    print_report(o, whole, src, durations, r, theory);
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
       sub.add_flag("--step", o->step,
                    "the whole training step as the engine runs it (gradient buckets, optimizer; implied by "
                    "--dp, --tp, --zero, --bucket-mb, --clip, --defer-wgrad)");
       sub.add_option("--dp", o->dp, "data-parallel replicas (whole step)")->capture_default_str();
       sub.add_option("--tp", o->tp, "tensor-parallel devices per layer (whole step)")->capture_default_str();
       sub.add_option("--sp", o->sp,
                      "spatial (domain-parallel) devices: the conv side split along H (whole step)")
           ->capture_default_str();
       sub.add_option("--sp-fc", o->sp_fc,
                      "with --sp: the FC side batch-parallel (batch) or its weights split over sp (model)")
           ->capture_default_str();
       sub.add_option("--zero", o->zero, "1: ZeRO-1 (whole step)")->capture_default_str();
       sub.add_option("--bucket-mb", o->bucket_mb, "data-parallel gradient bucket size in MB (whole step)")
           ->capture_default_str();
       sub.add_option("--clip", o->clip, "gradient clipping norm (whole step; GRAD_NORM before OPT_STEP)");
       sub.add_flag("--defer-wgrad", o->defer_wgrad, "Linear weight gradients once per step (FLUSH_W)");
       cli::add_model_flags(sub, o->model);
       return [o, &sub] { return run_schedule(*o, o->whole_step(sub)); };
     }});

}  // namespace
