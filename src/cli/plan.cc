// paraxis plan — rank every layout of a model on N devices by predicted step time.
// paraxis predict — predict one layout: step time, bubble, memory, and a predicted Chrome trace.
//
//   paraxis plan --model gpt-175b --devices 1024 --preset h100-sxm --global-batch 1536
//   paraxis plan --model mlp --mlp-sizes 784,1024,1024,10 --devices 2 --global-batch 256
//   paraxis predict --model mlp --devices 2 --pp 2 --schedule 1f1b --microbatches 8 --trace-out pred.json
#include <fmt/format.h>

#include <chrono>

#include "cli/command.h"
#include "cli/model_flags.h"
#include "paraxis/core/error.h"
#include "paraxis/cost/planner.h"
#include "paraxis/trace/chrome_trace.h"

namespace {

using namespace paraxis;
using namespace paraxis::cost;

struct CommonOptions {
  ModelSpec spec;
  std::string machine, preset = "cpu-this-machine", optimizer = "adamw";
  int64_t global_batch     = 32;
  double memory_per_device = 0;
  int threads              = 1;
};

void add_common(CLI::App& sub, CommonOptions& o) {
  cli::add_model_flags(sub, o.spec);
  sub.get_option("--model")->description(
      "mlp, cnn or gpt (sized by their flags), or a GPT by size: gpt-175b, gpt-13b, gpt-6.7b, "
      "gpt-1.3b, gpt:LAYERS,HIDDEN,HEADS,SEQ,VOCAB");
  sub.add_option("--machine", o.machine, "hardware profile written by `paraxis calibrate -o FILE`");
  sub.add_option("--preset", o.preset, "built-in hardware profile (used when --machine is not given)")
      ->capture_default_str();
  sub.add_option("--global-batch", o.global_batch, "samples per optimizer step over all replicas")
      ->capture_default_str();
  sub.add_option("--memory-per-device", o.memory_per_device, "bytes per device (default: the profile's)");
  sub.add_option("--optimizer", o.optimizer, "adamw or sgd (momentum): sets optimizer state and step cost")
      ->capture_default_str();
  sub.add_option("--threads-per-device", o.threads, "cores each device computes with")->capture_default_str();
}

ModelDesc describe(const CommonOptions& o) {
  if (o.spec.kind == "mlp" || o.spec.kind == "cnn" || o.spec.kind == "alexnet" || o.spec.kind == "gpt") {
    cli::validate_model_spec(o.spec);
    return describe_model(o.spec);
  }
  return gpt_symbolic(parse_gpt_size(o.spec.kind));
}

HardwareProfile hardware(const CommonOptions& o) {
  PX_USER_CHECK(o.optimizer == "adamw" || o.optimizer == "sgd", "--optimizer {}: use adamw or sgd",
                o.optimizer);
  return o.machine.empty() ? hardware_preset(o.preset) : load_hardware(o.machine);
}

// The `paraxis train` command that runs `l` (the planner only proposes what train can run; a ctest runs it).
std::string train_command(const ModelSpec& spec, const Layout& l, int64_t batch) {
  std::string model;
  if (spec.kind == "mlp") {
    std::string sizes;
    for (int64_t w : spec.mlp_sizes) sizes += (sizes.empty() ? "" : ",") + std::to_string(w);
    model = "--model mlp --mlp-sizes " + sizes;
  } else if (spec.kind == "cnn") {
    model = fmt::format("--model cnn --cnn-c1 {} --cnn-c2 {} --cnn-fc {} --classes {}", spec.cnn_c1,
                        spec.cnn_c2, spec.cnn_fc, spec.classes);
    if (spec.cnn_kernel != 5 || spec.cnn_stride != 1)
      model += fmt::format(" --cnn-kernel {} --cnn-stride {}", spec.cnn_kernel, spec.cnn_stride);
    if (spec.image != std::vector<int64_t>{1, 28, 28})
      model += fmt::format(" --image {},{},{}", spec.image[0], spec.image[1], spec.image[2]);
  } else if (spec.kind == "alexnet") {
    model = fmt::format("--model alexnet --classes {}", spec.classes);
  } else {
    model = fmt::format("--model gpt --vocab {} --context {} --width {} --heads {} --layers {}", spec.vocab,
                        spec.context, spec.width, spec.heads, spec.layers);
  }
  std::string cmd = fmt::format(
      "paraxis train {} --devices {} --dp {} --tp {} --pp {} --schedule {} "
      "--microbatches {} --batch {} --optimizer {}",
      model, l.devices(), l.dp, l.tp, l.pp, pipeline::schedule_kind_name(l.schedule), l.microbatches, batch,
      l.optimizer);
  if (l.virtual_stages > 1) cmd += fmt::format(" --virtual {}", l.virtual_stages);
  if (l.zero1) cmd += " --zero 1";
  if (l.recompute) cmd += " --recompute";
  if (l.defer_wgrad) cmd += " --defer-wgrad";
  if (l.threads_per_device > 1) cmd += fmt::format(" --threads-per-device {}", l.threads_per_device);
  return cmd;
}

struct PlanFlags {
  CommonOptions common;
  int devices = 1, top = 5;
  double margin = 0.1;
  std::string trace_out;
};

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
       return [f] {
         const auto t0      = std::chrono::steady_clock::now();
         ModelDesc model    = describe(f->common);
         HardwareProfile hw = hardware(f->common);
         PlanOptions opt;
         opt.devices            = f->devices;
         opt.global_batch       = f->common.global_batch;
         opt.memory_per_device  = f->common.memory_per_device;
         opt.memory_margin      = f->margin;
         opt.top_k              = f->top;
         opt.optimizer          = f->common.optimizer;
         opt.threads_per_device = f->common.threads;
         PlanResult plan        = make_plan(model, opt, hw);
         fmt::print("{}", format_plan(plan));
         if (!model.fc_widths.empty() && !plan.ranked.empty()) {
           const Layout& w = plan.ranked.front().layout;
           GholamiCost g   = gholami_integrated(model.fc_widths, opt.global_batch, w.dp, w.tp,
                                                hw.link_for(w.dp * w.tp), hw.bytes_per_element);
           fmt::print(
               "Gholami integrated model (Pr {} x Pc {}, fully connected layers): predicted communication "
               "{:.4g} ms per step (batch-parallel {:.4g}, model-parallel {:.4g})\n",
               w.dp, w.tp, g.total * 1e3, g.batch_parallel * 1e3, g.model_parallel * 1e3);
         }
         if (!model.symbolic && !plan.ranked.empty())
           fmt::print("run the winner: {}\n",
                      train_command(f->common.spec, plan.ranked.front().layout, opt.global_batch));
         if (!f->trace_out.empty() && !plan.ranked.empty()) {
           PredictedStep p = predict_step(model, plan.ranked.front().layout, opt.global_batch, hw, true);
           trace::write_chrome_trace(p.trace, f->trace_out);
           fmt::print("wrote the winner's predicted trace to {}\n", f->trace_out);
         }
         const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
         fmt::print("planned in {:.2f} s ({})\n", s, hw.name);
         return plan.ranked.empty() ? 2 : 0;
       };
     }});

struct PredictFlags {
  CommonOptions common;
  Layout layout;
  std::string schedule = "1f1b", trace_out, granularity;
};

const bool predict_registered = cli::register_command(
    {"predict", "Predict one layout's step time, bubble and memory (and its timeline as a Chrome trace)",
     [](CLI::App& sub) -> cli::Runner {
       auto f = std::make_shared<PredictFlags>();
       add_common(sub, f->common);
       sub.add_option("--dp", f->layout.dp, "data-parallel replicas")->capture_default_str();
       sub.add_option("--tp", f->layout.tp, "tensor-parallel devices per layer")->capture_default_str();
       sub.add_option("--pp", f->layout.pp, "pipeline stages (devices)")->capture_default_str();
       sub.add_option("--schedule", f->schedule, "gpipe, 1f1b, interleaved-1f1b or zb-h1")
           ->capture_default_str();
       sub.add_option("-m,--microbatches", f->layout.microbatches, "micro-batches per step")
           ->capture_default_str();
       sub.add_option("--virtual", f->layout.virtual_stages, "model chunks per device (interleaved)")
           ->capture_default_str();
       sub.add_flag("--zero1", f->layout.zero1, "shard optimizer state over dp");
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
       return [f] {
         ModelDesc model    = describe(f->common);
         HardwareProfile hw = hardware(f->common);
         Layout l           = f->layout;
         PX_USER_CHECK(f->granularity.empty() || f->granularity == "full" || f->granularity == "selective",
                       "--recompute-granularity {}: use full or selective", f->granularity);
         l.recompute           = l.recompute || f->granularity == "full";
         l.selective_recompute = f->granularity == "selective";
         l.schedule            = pipeline::parse_schedule_kind(f->schedule);
         l.optimizer           = f->common.optimizer;
         l.threads_per_device  = f->common.threads;
         PredictedStep p       = predict_step(model, l, f->common.global_batch, hw, !f->trace_out.empty());
         fmt::print("{} on {}: {}\n", model.name, hw.name, l.describe());
         fmt::print("predicted step time   {:.4g} ms (micro-batch {})\n", p.step_s * 1e3, p.micro_batch);
         fmt::print("predicted compute     {:.4g} ms on the busiest device\n", p.compute_s * 1e3);
         fmt::print("predicted bubble      {:.1f}%\n", p.bubble * 100);
         for (size_t d = 0; d < p.utilization.size(); ++d)
           fmt::print("  pipeline rank {}: utilization {:.1f}%\n", d, p.utilization[d] * 100);
         fmt::print("predicted memory      {} per device\n", p.memory.summary());
         fmt::print("predicted comm/step   dp {:.4g} MB, tp {:.4g} MB, pp {:.4g} MB per device\n",
                    p.comm.dp / 1e6, p.comm.tp / 1e6, p.comm.pp / 1e6);
         fmt::print("{}\n", p.note);
         if (!f->trace_out.empty()) {
           trace::write_chrome_trace(p.trace, f->trace_out);
           fmt::print("wrote the predicted trace to {}\n", f->trace_out);
         }
         return 0;
       };
     }});

}  // namespace
