// paraxis plan — rank every layout of a model on N devices by predicted step time.
// paraxis predict — predict one layout: step time, bubble, memory, and a predicted Chrome trace.
//
//   paraxis plan --model gpt-175b --devices 1024 --preset h100-sxm --global-batch 1536
//   paraxis plan --model mlp --mlp-sizes 784,1024,1024,10 --devices 2 --global-batch 256
//   paraxis predict --model mlp --devices 2 --pp 2 --schedule 1f1b --microbatches 8 --trace-out pred.json
#include <fmt/format.h>

#include <chrono>
#include <cmath>

#include "cli/command.h"
#include "cli/hardware_notes.h"
#include "cli/layout_args.h"
#include "cli/model_flags.h"
#include "cli/units.h"
#include "paraxis/core/error.h"
#include "paraxis/cost/planner.h"
#include "paraxis/cost/precision.h"
#include "paraxis/parallel/spatial.h"
#include "paraxis/trace/chrome_trace.h"

namespace {

using namespace paraxis;
using namespace paraxis::cost;

struct CommonOptions {
  ModelSpec spec;
  std::string machine, preset = "cpu-this-machine", optimizer = "adamw", memory_per_device;
  std::string latency, bandwidth;  // α and 1/β given directly (they replace the profile's links)
  std::string precision;           // fp32 | bf16 (empty: the profile's own dtype)
  int64_t global_batch = 32, micro_batch_size = 0;
  int threads       = 1;
  bool preset_given = false;
};

void add_common(CLI::App& sub, CommonOptions& o) {
  cli::add_model_flags(sub, o.spec);
  sub.get_option("--model")->description(
      "mlp, cnn or gpt (sized by their flags), or a GPT by size: gpt-175b, gpt-13b, gpt-6.7b, "
      "gpt-1.3b, gpt:LAYERS,HIDDEN,HEADS,SEQ,VOCAB");
  sub.add_option("--machine", o.machine, "hardware profile written by `paraxis calibrate -o FILE`");
  sub.add_option_function<std::string>(
         "--preset", [&o](const std::string& name) { o.preset = name, o.preset_given = true; },
         "built-in hardware profile (used when --machine is not given): a100-80gb, h100-sxm, h200, "
         "cpu-this-machine")
      ->default_str("cpu-this-machine");
  sub.add_option("--global-batch,--global-batch-size", o.global_batch,
                 "samples per optimizer step over all replicas (Megatron-LM's --global-batch-size)")
      ->capture_default_str();
  sub.add_option(
      "--micro-batch-size", o.micro_batch_size,
      "samples per micro-batch per replica (Megatron-LM's name): micro-batch size x m x dp = global "
      "batch");
  sub.add_option("--memory-per-device", o.memory_per_device,
                 "memory per device: bytes or with a unit, e.g. 80GB, 80GiB (default: the profile's)");
  sub.add_option("--optimizer", o.optimizer, "adamw or sgd (momentum): sets optimizer state and step cost")
      ->capture_default_str();
  sub.add_option("--precision", o.precision,
                 "fp32 or bf16: the matmul rates to price at (default: the profile's own, bf16 on the GPU "
                 "presets, fp32 on a CPU); see docs/cost-model.md");
  sub.add_option("--threads-per-device", o.threads, "cores each device computes with")->capture_default_str();
  sub.add_option("--latency", o.latency,
                 "link latency alpha per message, e.g. 2us (replaces the profile's intra- and inter-node "
                 "links' alpha)");
  sub.add_option("--bandwidth", o.bandwidth,
                 "link bandwidth 1/beta per direction per device, e.g. 6GB/s (replaces the profile's links' "
                 "bandwidth; measured tables are then not used)");
}

// --latency / --bandwidth: the α–β link of the paper's machine (or any) in place of the profile's links.
void override_links(const CommonOptions& o, HardwareProfile& hw) {
  if (o.latency.empty() && o.bandwidth.empty()) return;
  const double alpha = o.latency.empty() ? -1 : cli::parse_seconds("--latency", o.latency);
  const double bw    = o.bandwidth.empty() ? -1 : cli::parse_bandwidth("--bandwidth", o.bandwidth);
  for (LinkProfile* l : {&hw.intra_node, &hw.inter_node}) {
    if (alpha > 0) l->latency_s = alpha;
    if (bw > 0) l->bandwidth = bw, l->efficiency = 1;
    l->p2p_measured.clear(), l->allreduce_measured.clear();  // the α–β line, as given
    l->source = "given on the command line";
  }
  fmt::print(
      "links: alpha {} and bandwidth {}/s per direction per device (1/beta), given by {} in place of "
      "the profile's intra- and inter-node links; collectives and transfers priced by alpha-beta\n",
      cli::format_seconds(hw.intra_node.latency_s), cli::format_bytes(hw.intra_node.bandwidth),
      alpha > 0 && bw > 0 ? "--latency and --bandwidth"
      : alpha > 0         ? "--latency (bandwidth: the profile's)"
                          : "--bandwidth (latency: the profile's)");
}

ModelDesc describe(const CommonOptions& o) {
  if (o.spec.kind == "mlp" || o.spec.kind == "cnn" || o.spec.kind == "alexnet" || o.spec.kind == "gpt") {
    cli::validate_model_spec(o.spec);
    return describe_model(o.spec);
  }
  return gpt_symbolic(parse_gpt_size(o.spec.kind));
}

GptSize gpt_size(const ModelSpec& spec) {
  if (spec.kind == "gpt") return {spec.layers, spec.width, spec.heads, spec.context, spec.vocab};
  return parse_gpt_size(spec.kind);
}

bool is_gpt(const ModelSpec& spec) {
  return spec.kind.rfind("gpt", 0) == 0;
}

double memory_per_device(const CommonOptions& o) {
  return o.memory_per_device.empty() ? 0 : cli::parse_bytes("--memory-per-device", o.memory_per_device);
}

// The profile, and what it is (datasheet preset, measured file, and the default preset's notice).
HardwareProfile hardware(const CommonOptions& o, const ModelDesc& model) {
  PX_USER_CHECK(o.optimizer == "adamw" || o.optimizer == "sgd", "--optimizer {}: use adamw or sgd",
                o.optimizer);
  HardwareProfile hw = o.machine.empty() ? hardware_preset(o.preset) : load_hardware(o.machine);
  if (!o.precision.empty()) {
    PricedProfile priced = at_precision(hw, o.precision);
    hw                   = priced.hw;
    fmt::print("assumed: {}\n", priced.assumption);
  }
  std::string notice = cli::default_preset_notice(model, hw, o.preset_given || !o.machine.empty());
  if (!notice.empty()) fmt::print("{}\n", notice);
  fmt::print("{}\n", cli::hardware_provenance(hw, o.machine.empty()));
  override_links(o, hw);
  return hw;
}

// Pipeline ranks with the same utilization (to the printed 0.1%) on one line: a 64-stage pipeline prints a
// few stage groups, not 64 lines.
void print_utilization(const std::vector<double>& u) {
  for (size_t first = 0; first < u.size();) {
    size_t last = first;
    while (last + 1 < u.size() && std::lround(u[last + 1] * 1000) == std::lround(u[first] * 1000)) ++last;
    if (last == first)
      fmt::print("  pipeline rank {}: utilization {:.1f}%\n", first, u[first] * 100);
    else
      fmt::print("  pipeline ranks {}-{}: utilization {:.1f}% each\n", first, last, u[first] * 100);
    first = last + 1;
  }
}

struct PlanFlags {
  CommonOptions common;
  int devices = 1, top = 5;
  double margin = 0.1;
  std::string trace_out;
};

// Under the plan: how to run its winner — `paraxis train`'s flags and, for a GPT, Megatron-LM's arguments.
void print_winner_commands(const CommonOptions& o, const ModelDesc& model, const PredictedStep& w,
                           const HardwareProfile& hw) {
  if (!model.symbolic)
    fmt::print("run the winner: {}\n", cli::train_command(o.spec, w.layout, o.global_batch));
  else
    fmt::print("the winner as paraxis train flags: {}\n", cli::train_layout_flags(w.layout, o.global_batch));
  if (is_gpt(o.spec))
    fmt::print("the winner in Megatron-LM (pretrain_gpt.py on {} GPUs, data-parallel size {}): {}\n",
               w.layout.devices(), w.layout.dp,
               cli::megatron_arguments(gpt_size(o.spec), w.layout, w.micro_batch, o.global_batch,
                                       hw.bytes_per_element == 2));
}

int run_plan(const PlanFlags& f) {
  const auto t0      = std::chrono::steady_clock::now();
  ModelDesc model    = describe(f.common);
  HardwareProfile hw = hardware(f.common, model);
  PlanOptions opt;
  opt.devices            = f.devices;
  opt.global_batch       = f.common.global_batch;
  opt.memory_per_device  = memory_per_device(f.common);
  opt.memory_margin      = f.margin;
  opt.top_k              = f.top;
  opt.optimizer          = f.common.optimizer;
  opt.threads_per_device = f.common.threads;
  if (f.common.micro_batch_size > 0) opt.micro_batch_sizes = {f.common.micro_batch_size};
  PlanResult plan = make_plan(model, opt, hw);
  fmt::print("{}", format_plan(plan));
  if (!model.fc_widths.empty() && !plan.ranked.empty()) {
    const Layout& w = plan.ranked.front().layout;
    GholamiCost g   = gholami_integrated(model.fc_widths, opt.global_batch, w.dp, w.tp,
                                         hw.link_for(w.dp * w.tp), hw.bytes_per_element);
    fmt::print(
        "Gholami integrated model (Pr {} x Pc {}, fully connected layers): predicted communication {} per "
        "step (batch-parallel {}, model-parallel {})\n",
        w.dp, w.tp, cli::format_seconds(g.total), cli::format_seconds(g.batch_parallel),
        cli::format_seconds(g.model_parallel));
  }
  if (!plan.ranked.empty()) print_winner_commands(f.common, model, plan.ranked.front(), hw);
  if (!f.trace_out.empty() && !plan.ranked.empty()) {
    PredictedStep p = predict_step(model, plan.ranked.front().layout, opt.global_batch, hw, true);
    trace::write_chrome_trace(p.trace, f.trace_out);
    fmt::print("wrote the winner's predicted trace to {}\n", f.trace_out);
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("planned in {:.2f} s ({})\n", s, hw.name);
  return plan.ranked.empty() ? 2 : 0;
}

const bool plan_registered = cli::register_command(
    {"plan", "Rank layouts (dp x tp x pp, micro-batches, schedule, ZeRO-1, recompute) by predicted step time",
     [](CLI::App& sub) -> cli::Runner {
       auto f = std::make_shared<PlanFlags>();
       add_common(sub, f->common);
       sub.add_option("--devices", f->devices, "devices to lay the model on")->required();
       sub.add_option("--top", f->top, "how many of the fastest layouts to print")->capture_default_str();
       sub.add_option("--memory-margin", f->margin,
                      "fraction of each device's memory a layout must leave free")
           ->capture_default_str();
       sub.add_option("--trace-out", f->trace_out, "write the winner's predicted Chrome trace here");
       return [f] { return run_plan(*f); };
     }});

struct PredictFlags {
  CommonOptions common;
  Layout layout;
  int64_t dataset_size    = 0;  // samples per epoch (0: no per-epoch figures)
  std::string schedule    = "1f1b", trace_out, granularity;
  bool microbatches_given = false;
};

// Megatron-LM's naming: micro-batch size x m x dp = global batch. --micro-batch-size alone sets m; with -m
// too, the three must agree (exit 2 naming both and a value that would).
void resolve_micro_batch(const PredictFlags& f, Layout& l) {
  const int64_t mbs = f.common.micro_batch_size, gb = f.common.global_batch;
  if (mbs <= 0) return;
  PX_USER_CHECK(
      gb % (mbs * l.dp) == 0,
      "--micro-batch-size {} x --dp {} does not divide --global-batch {}; use --micro-batch-size {} or "
      "--global-batch {}",
      mbs, l.dp, gb, 1, mbs * l.dp * std::max<int64_t>(1, gb / (mbs * l.dp)));
  const int64_t m = gb / (mbs * l.dp);
  PX_USER_CHECK(
      !f.microbatches_given || m == l.microbatches,
      "--micro-batch-size {} and -m {} disagree: micro-batch size x m x dp = {} x {} x {} = {}, but "
      "--global-batch is {}; use -m {} with --micro-batch-size {}, or give only one of them",
      mbs, l.microbatches, mbs, l.microbatches, l.dp, mbs * l.microbatches * l.dp, gb, m, mbs);
  l.microbatches = static_cast<int>(m);
}

void print_prediction(const ModelDesc& model, const HardwareProfile& hw, const Layout& l,
                      const PredictedStep& p) {
  fmt::print("{} on {}: {}\n", model.name, hw.name, l.describe());
  fmt::print("predicted step time   {} (micro-batch size {}, {} micro-batches)\n",
             cli::format_seconds(p.step_s), p.micro_batch, l.microbatches);
  fmt::print("predicted compute     {} on the busiest device\n", cli::format_seconds(p.compute_s));
  fmt::print("predicted bubble      {:.1f}%\n", p.bubble * 100);
  print_utilization(p.utilization);
  fmt::print("predicted memory      {} per device\n", p.memory.summary());
  fmt::print("predicted comm/step   dp {}, tp {}, pp {}{} per device\n", cli::format_bytes(p.comm.dp),
             cli::format_bytes(p.comm.tp), cli::format_bytes(p.comm.pp),
             l.sp > 1 ? fmt::format(", sp {}", cli::format_bytes(p.comm.sp)) : "");
  fmt::print("{}\n", p.note);
}

// What the "model" part holds: tp's collectives and, under --sp-fc model, the FC shards' over the sp group.
std::string model_comm_label(const Layout& l) {
  const std::string shards = "the FC shards' all-reduces over the sp group (--sp-fc model)";
  if (!l.fc_model()) return "tensor-parallel collectives";
  return l.tp > 1 ? "tensor-parallel collectives and " + shards : shards;
}

// Gholami et al.'s split of one iteration's communication (and an epoch's, with --dataset-size).
void print_comm_split(const PredictedStep& p, const Layout& l, int64_t global_batch, int64_t dataset_size) {
  const CommSplit& c = p.comm_split;
  auto line          = [](const char* what, double s, double bytes, const std::string& how) {
    fmt::print("  {:<7} {:>10}  {:>9} sent per device  {}\n", what, cli::format_seconds(s),
                        cli::format_bytes(bytes), how);
  };
  fmt::print(
      "predicted communication per iteration (alpha-beta on the profile's links, each term as if it did not "
      "overlap compute; the step time above is simulated with overlap):\n");
  line("batch", c.batch_s, c.batch_bytes, "gradient all-reduce of the batch-parallel side");
  line("model", c.model_s, c.model_bytes, model_comm_label(l));
  line("domain", c.domain_s(), c.domain_bytes(),
       fmt::format("{} halo exchanges {}, {} layout changes {}, spatial gradient all-reduce {}",
                   c.halo_exchanges, cli::format_seconds(c.halo_s), c.layout_changes,
                   cli::format_seconds(c.layout_s), cli::format_seconds(c.spatial_allreduce_s)));
  if (dataset_size <= 0) return;
  const int64_t it = dataset_size / global_batch;
  fmt::print(
      "predicted per epoch: {} samples / global batch {} = {} iterations{}: step {}, communication batch {}, "
      "model {}, domain {}\n",
      dataset_size, global_batch, it,
      dataset_size % global_batch ? fmt::format(" (the last {} samples dropped)", dataset_size % global_batch)
                                  : "",
      cli::format_seconds(p.step_s * it), cli::format_seconds(c.batch_s * it),
      cli::format_seconds(c.model_s * it), cli::format_seconds(c.domain_s() * it));
}

int run_predict(const PredictFlags& f) {
  ModelDesc model    = describe(f.common);
  HardwareProfile hw = hardware(f.common, model);
  Layout l           = f.layout;
  PX_USER_CHECK(f.granularity.empty() || f.granularity == "full" || f.granularity == "selective",
                "--recompute-granularity {}: use full or selective", f.granularity);
  l.recompute           = l.recompute || f.granularity == "full";
  l.selective_recompute = f.granularity == "selective";
  l.schedule            = pipeline::parse_schedule_kind(f.schedule);
  l.optimizer           = f.common.optimizer;
  l.threads_per_device  = f.common.threads;
  resolve_micro_batch(f, l);
  PX_USER_CHECK(f.dataset_size >= 0, "--dataset-size {} must be positive, e.g. --dataset-size 1281167",
                f.dataset_size);
  PX_USER_CHECK(f.dataset_size == 0 || f.dataset_size >= f.common.global_batch,
                "--dataset-size {} is smaller than one global batch of {}; give at least {} samples",
                f.dataset_size, f.common.global_batch, f.common.global_batch);
  PredictedStep p = predict_step(model, l, f.common.global_batch, hw, !f.trace_out.empty());
  print_prediction(model, hw, l, p);
  print_comm_split(p, l, f.common.global_batch, f.dataset_size);
  if (!f.trace_out.empty()) {
    trace::write_chrome_trace(p.trace, f.trace_out);
    fmt::print("wrote the predicted trace to {}\n", f.trace_out);
  }
  return 0;
}

const bool predict_registered = cli::register_command(
    {"predict", "Predict one layout's step time, bubble and memory (and its timeline as a Chrome trace)",
     [](CLI::App& sub) -> cli::Runner {
       auto f = std::make_shared<PredictFlags>();
       add_common(sub, f->common);
       sub.add_option("--dp", f->layout.dp, "data-parallel replicas")->capture_default_str();
       sub.add_option("--tp,--tensor-model-parallel-size", f->layout.tp, "tensor-parallel devices per layer")
           ->capture_default_str();
       sub.add_option("--pp,--pipeline-model-parallel-size", f->layout.pp, "pipeline stages (devices)")
           ->capture_default_str();
       sub.add_option("--sp", f->layout.sp,
                      "domain (spatial) parallel devices: a CNN's conv side split along the image height")
           ->capture_default_str();
       sub.add_option_function<std::string>(
           "--sp-fc", [f](const std::string& v) { f->layout.sp_fc_model = parse_sp_fc(v) == SpFc::kModel; },
           "with --sp: the FC side batch-parallel (batch, default) or its weights split over sp (model)");
       sub.add_option("--dataset-size", f->dataset_size,
                      "samples per epoch: also print the per-epoch figures (iterations = N / global batch)");
       sub.add_option("--schedule", f->schedule, "gpipe, 1f1b, interleaved-1f1b or zb-h1")
           ->capture_default_str();
       sub.add_option_function<int>(
              "-m,--microbatches", [f](int m) { f->layout.microbatches = m, f->microbatches_given = true; },
              "micro-batches per step (per replica)")
           ->default_str("1");
       sub.add_option("--virtual", f->layout.virtual_stages, "model chunks per device (interleaved)")
           ->capture_default_str();
       sub.add_flag("--zero1,--use-distributed-optimizer", f->layout.zero1, "shard optimizer state over dp");
       sub.add_flag("--recompute", f->layout.recompute, "recompute activations in backward");
       sub.add_option("--recompute-granularity", f->granularity,
                      "Megatron-LM's name: full (as --recompute) or selective (the attention core only; a "
                      "gpt-SIZE or gpt:L,H,A,S,V model)");
       sub.add_flag("--sequence-parallel", f->layout.sequence_parallel,
                    "Megatron-LM's sequence parallelism under tp (a gpt-SIZE or gpt:L,H,A,S,V model)");
       sub.add_flag("--clip", f->layout.clip,
                    "the step clips the gradient norm (one more read of the gradients)");
       sub.add_flag("--defer-wgrad", f->layout.defer_wgrad,
                    "Linear weight gradients once per step from all micro-batches (train --defer-wgrad)");
       sub.add_option("--trace-out", f->trace_out, "write the predicted Chrome trace here");
       return [f] { return run_predict(*f); };
     }});

}  // namespace
