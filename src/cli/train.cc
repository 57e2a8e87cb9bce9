// `paraxis train`: flags, or the same keys in a TOML file given with --config (flags override the file).
#include <fmt/format.h>

#include <cstdio>
#include <optional>

#include "cli/command.h"
#include "cli/config_file.h"
#include "cli/in_run_rates.h"
#include "cli/model_flags.h"
#include "paraxis/core/error.h"
#include "paraxis/cost/hardware.h"
#include "paraxis/cost/planner.h"
#include "paraxis/kernels/precision.h"
#include "paraxis/measure/measure.h"
#include "paraxis/train/trainer.h"

namespace paraxis::cli {

// Every flag of `paraxis train`, shared with `paraxis demo` and the tests of the config file.
void add_train_flags(CLI::App& sub, TrainConfig& cfg) {
  add_model_flags(sub, cfg.model);
  sub.add_option("--data", cfg.data, "fashion-mnist | idx:IMAGES,LABELS | text[:PATH] | synthetic")
      ->capture_default_str();
  sub.add_option("--steps", cfg.steps, "Training steps (default 100 unless --epochs)");
  sub.add_option("--epochs", cfg.epochs, "Training epochs (instead of --steps)");
  sub.add_option("--batch", cfg.batch, "Global batch size (all data-parallel ranks together)")
      ->capture_default_str();
  sub.add_flag("--shuffle,!--no-shuffle", cfg.shuffle,
               "Shuffle each epoch (seeded); --no-shuffle: file order");
  sub.add_option("--seed", cfg.seed, "Seed of initialisation, shuffling, synthetic data")
      ->capture_default_str();
  sub.add_option("--optimizer", cfg.optimizer, "sgd | adamw")->capture_default_str();
  sub.add_option("--lr", cfg.lr, "Learning rate")->capture_default_str();
  sub.add_option("--momentum", cfg.momentum, "SGD momentum")->capture_default_str();
  sub.add_option("--weight-decay", cfg.weight_decay, "SGD: L2 added to the gradient; AdamW: decoupled")
      ->capture_default_str();
  sub.add_option("--beta1", cfg.beta1, "AdamW beta1")->capture_default_str();
  sub.add_option("--beta2", cfg.beta2, "AdamW beta2")->capture_default_str();
  sub.add_option("--eps", cfg.eps, "AdamW epsilon")->capture_default_str();
  sub.add_option("--clip", cfg.clip, "Clip the global gradient norm to this (0: off)")->capture_default_str();
  sub.add_option("--lr-schedule", cfg.lr_schedule,
                 "constant | cosine (linear warmup, cosine decay to --min-lr)")
      ->capture_default_str();
  sub.add_option("--warmup", cfg.warmup, "Warmup steps of the cosine schedule")->capture_default_str();
  sub.add_option("--min-lr", cfg.min_lr, "Final learning rate of the cosine schedule")->capture_default_str();
  sub.add_option("--eval-every", cfg.eval_every, "Evaluate every N steps (0: only at the end)")
      ->capture_default_str();
  sub.add_option("--eval-batches", cfg.eval_batches, "Evaluate on at most N batches (0: the whole split)")
      ->capture_default_str();
  sub.add_option("--init", cfg.init_path, "Start from these parameters (safetensors)");
  sub.add_option("--save", cfg.save_path,
                 "Write the final parameters (safetensors); with --steps 0: the initial ones, then exit");
  sub.add_option("--log", cfg.log_path,
                 "JSON lines: step, loss, lr, grad_norm, step_ms, samples_per_s, eval");
  sub.add_option("--save-every", cfg.save_every, "Checkpoint every N steps into --checkpoint-dir");
  sub.add_option(
      "--checkpoint-dir", cfg.checkpoint_dir,
      "Where checkpoints go (DIR/step-NNNNNN/, one file per device and a manifest); also written at "
      "the last step");
  sub.add_option("--keep-checkpoints", cfg.keep_checkpoints,
                 "Committed checkpoints kept in --checkpoint-dir (the newest; default 2)");
  sub.add_option("--resume", cfg.resume_dir,
                 "Resume from the newest complete checkpoint in this directory (or from DIR/step-NNNNNN), on "
                 "any layout");
  sub.add_option("--stop-at", cfg.stop_at,
                 "Stop after this step, keeping the learning-rate schedule of --steps (a time-limited job; "
                 "checkpoints there when --checkpoint-dir is set; continue with --resume)");
  sub.add_option("--trace", cfg.trace_path, "Write a Chrome-trace JSON of every device's actions (Perfetto)");
  sub.add_option("--backend", cfg.backend, "threads (devices are threads) | mpi (under mpirun)")
      ->capture_default_str();
  sub.add_option("--devices", cfg.devices, "Devices (threads backend)")->capture_default_str();
  sub.add_option("--dp", cfg.dp, "Data-parallel size (default: devices / (tp * pp))");
  sub.add_option("--tp,--tensor-model-parallel-size", cfg.tp, "Tensor-parallel size")->capture_default_str();
  sub.add_option("--pp,--pipeline-model-parallel-size", cfg.pp, "Pipeline-parallel size")
      ->capture_default_str();
  sub.add_option("--sp", cfg.sp,
                 "Spatial (domain) parallel size: a CNN's conv side split along the image height, halos "
                 "exchanged; the FC side batch-parallel (docs/domain-parallelism.md)")
      ->capture_default_str();
  sub.add_option("--microbatches", cfg.microbatches, "Micro-batches per step (per data-parallel rank)")
      ->capture_default_str();
  sub.add_option("--schedule", cfg.schedule, "gpipe | 1f1b | interleaved-1f1b | zb-h1")
      ->capture_default_str();
  sub.add_option("--virtual", cfg.virtual_stages, "Model chunks per device (interleaved-1f1b)")
      ->capture_default_str();
  sub.add_flag(
      "--placement", cfg.placement,
      "Workload partitioning: consecutive blocks on consecutive devices, one micro-batch (the baseline)");
  sub.add_option("--threads-per-device", cfg.threads_per_device, "Cores each device's kernels use")
      ->capture_default_str();
  sub.add_option("--comm-timeout", cfg.comm_timeout, "Seconds before a stuck communication aborts the run")
      ->capture_default_str();
  sub.add_option("--bucket-mb", cfg.bucket_mb, "Data-parallel gradient bucket size (MiB)")
      ->capture_default_str();
  sub.add_option("--zero", cfg.zero, "1: ZeRO-1, optimizer state sharded across data-parallel ranks")
      ->capture_default_str();
  sub.add_flag(
      "--defer-wgrad", cfg.defer_wgrad,
      "Pipelines: compute Linear weight gradients once per step from all micro-batches (one large GEMM "
      "instead of m small memory-bound ones; keeps the layers' inputs until then)");
  sub.add_flag("--recompute", cfg.recompute,
               "Activation recompute: each stage keeps only its input after a forward and runs the forward "
               "again (R actions) right before that micro-batch's backward");
  sub.add_option("--precision", cfg.precision,
                 "fp32 | bf16: bf16 matmul inputs with fp32 accumulation; weights, gradients (and their "
                 "all-reduce) and optimizer state stay fp32")
      ->capture_default_str();
  sub.add_option("--progress", cfg.progress, "auto | bar | lines | none")->capture_default_str();
  sub.add_flag("--quiet", cfg.quiet, "Print only the summary");
  sub.add_flag("--predict", cfg.predict,
               "Also print the cost model's predicted step time beside the measured one");
  sub.add_option("--machine", cfg.machine,
                 "Hardware profile for --predict (from `paraxis calibrate -o FILE`)");
  sub.add_option("--preset", cfg.preset, "Built-in hardware profile for --predict when no --machine is given")
      ->capture_default_str();
  sub.add_flag_function(
      "--calibrate,!--no-calibrate", [&cfg](int64_t n) { cfg.calibrate = n > 0 ? 1 : 0; },
      "--predict from rates measured in this run: the layout's Linear passes (alone, with the devices taking "
      "turns and all at once) and the memory bandwidth, before and after training (~10-30 s). Default: on "
      "for --predict "
      "unless --machine, --preset or --backend mpi is given");
}

namespace {

// The cost model's layout of the run.
cost::Layout layout_of(const TrainConfig& cfg) {
  cost::Layout layout;
  layout.dp = cfg.dp > 0 ? cfg.dp : std::max(1, cfg.devices / (cfg.tp * cfg.pp * cfg.sp));
  layout.tp = cfg.tp, layout.pp = cfg.pp, layout.sp = cfg.sp;
  layout.schedule           = pipeline::parse_schedule_kind(cfg.schedule);
  layout.microbatches       = cfg.microbatches;
  layout.virtual_stages     = cfg.virtual_stages;
  layout.zero1              = cfg.zero == 1;
  layout.threads_per_device = cfg.threads_per_device;
  layout.optimizer          = cfg.optimizer;
  layout.bucket_bytes       = cfg.bucket_mb * 1024 * 1024;
  layout.defer_wgrad        = cfg.defer_wgrad;
  layout.recompute          = cfg.recompute;
  return layout;
}

// --predict: the hardware profile (read before training: a bad --machine or --preset is bad input) and, with
// --calibrate, the rates measured in the run — one round before training and one after, so that they
// sample the stretch of this shared host's drift the steps ran in.
class Prediction {
 public:
  Prediction(const TrainConfig& cfg, bool preset_given) : cfg_(cfg) {
    hw_ = cfg.machine.empty() ? cost::hardware_preset(cfg.preset) : cost::load_hardware(cfg.machine);
    const bool calibrate = calibrate_in_run(
        cfg.calibrate, cfg.predict && cfg.machine.empty() && !preset_given && cfg.backend == "threads",
        cfg.machine, cfg.preset);
    PX_USER_CHECK(
        !calibrate || cfg.predict,
        "--calibrate measures the rates of --predict's step time; add --predict (or drop --calibrate)");
    PX_USER_CHECK(
        !calibrate || cfg.backend == "threads",
        "--calibrate measures rates with the threads backend inside this process, not under --backend "
        "mpi; run `paraxis calibrate -o m.json` once and use --predict --machine m.json");
    if (calibrate)
      calibration_.emplace(cost::linear_calls(cost::describe_model(cfg.model), layout_of(cfg), cfg.batch),
                           cfg.devices);
  }

  // One calibration round (nothing without --calibrate).
  void calibrate(const char* when) {
    if (!calibration_) return;
    if (!cfg_.quiet) {
      fmt::print(
          "calibrating for --predict ({}): the layout's Linear rates, alone, in turns and at once; "
          "memory bandwidth\n",
          when);
      std::fflush(stdout);
    }
    const double s = calibration_->measure_round();
    if (!cfg_.quiet) fmt::print("      done in {:.1f} s\n", s);
  }

  void print(double measured_ms) const {
    std::string unsteady, source = cfg_.machine.empty() ? "preset " + cfg_.preset : cfg_.machine;
    cost::HardwareProfile hw = hw_;
    if (calibration_) {
      hw     = calibration_->profile(hw, cfg_.machine.empty(), "paraxis train --calibrate", unsteady);
      source = "rates measured in this run, before and after training, the rest from " + source;
    }
    const cost::PredictedStep p = cost::predict_step(cfg_.model, layout_of(cfg_), cfg_.batch, hw);
    fmt::print("step time: measured {:.2f} ms (median), predicted {:.2f} ms (cost model, {}; {:+.0f}%)\n",
               measured_ms, p.step_s * 1e3, source,
               measured_ms > 0 ? 100.0 * (p.step_s * 1e3 - measured_ms) / measured_ms : 0.0);
    if (calibration_) print_fixed_costs(hw, measured_ms);
    if (!unsteady.empty())
      fmt::print(
          "notice: {}: the machine's speed changed during the run; the prediction uses their median.\n",
          unsteady);
  }

  // The runtime's fixed costs measured in this run (measure/fixed_costs.h), and the prediction without them
  // (the kernel call at the preset's assumed figure), so that their share of the step is visible.
  void print_fixed_costs(const cost::HardwareProfile& hw, double measured_ms) const {
    cost::HardwareProfile without = hw;
    without.kernel_overhead_s     = hw_.kernel_overhead_s;
    without.action_overhead_s = without.step_overhead_s = 0;
    const double ms = cost::predict_step(cfg_.model, layout_of(cfg_), cfg_.batch, without).step_s * 1e3;
    fmt::print(
        "fixed costs measured in this run: kernel call {:.3g} us, action {:.3g} us, step {:.3g} us; without "
        "them predicted {:.2f} ms ({:+.0f}%)\n",
        hw.kernel_overhead_s * 1e6, hw.action_overhead_s * 1e6, hw.step_overhead_s * 1e6, ms,
        measured_ms > 0 ? 100.0 * (ms - measured_ms) / measured_ms : 0.0);
  }

 private:
  const TrainConfig& cfg_;
  cost::HardwareProfile hw_;
  std::optional<measure::RunCalibration> calibration_;
};

const bool registered = register_command(
    {"train", "Train a model on one device or any layout (dp x tp x pp, schedules, placement)",
     [](CLI::App& sub) -> Runner {
       auto cfg         = std::make_shared<TrainConfig>();
       auto config_path = std::make_shared<std::string>();
       // A flag given twice takes its last value (a script can append overrides to a base command).
       sub.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
       add_train_flags(sub, *cfg);
       sub.add_option("--config", *config_path,
                      "TOML file with the same keys as the flags, e.g. lr = 0.05 (flags override it)");
       return [cfg, config_path, &sub] {
         apply_config_file(sub, *config_path);
         validate_model_spec(cfg->model);
         validate_train_config(*cfg);
         // The hardware profile first: a bad --machine or --preset is bad input, found before training.
         std::optional<Prediction> prediction;
         if (cfg->predict || cfg->calibrate == 1)
           prediction.emplace(*cfg, sub.get_option("--preset")->count() > 0);
         if (prediction) prediction->calibrate("before training");
         if (cfg->precision == "bf16" && !cfg->quiet)
           fmt::print("--precision bf16: {}\n", describe_bf16_support());
         TrainResult r = run_training(*cfg);
         if (r.steps_done > 0 && !cfg->quiet) {
           fmt::print("trained {} for {} steps: final loss {:.4f}, median step {:.2f} ms",
                      cfg->model.describe(), r.steps_done, r.losses.back(), r.median_step_ms());
           if (r.eval_accuracy > 0)
             fmt::print(", eval accuracy {:.2f}%", 100 * r.eval_accuracy);
           else if (r.eval_loss > 0)
             fmt::print(", eval loss {:.4f}", r.eval_loss);
           fmt::print("\n");
           fmt::print("activations kept for the backward: at most {:.2f} MB on device 0 (measured{})\n",
                      static_cast<double>(r.peak_stash_bytes) / 1e6,
                      cfg->recompute ? ", with --recompute" : "");
         }
         if (r.interrupted_by != 0) {
           fmt::print(stderr, "stopped by signal {} after step {}{}\n", r.interrupted_by, r.steps_done,
                      cfg->checkpoint_dir.empty() ? "" : "; the checkpoint holds that step (--resume it)");
           return 128 + r.interrupted_by;
         }
         if (prediction && r.steps_done > 0) {
           prediction->calibrate("after training");
           prediction->print(r.median_step_ms());
         }
         return 0;
       };
     }});

}  // namespace
}  // namespace paraxis::cli
