// `paraxis train`: flags, or the same keys in a TOML file given with --config (flags override the file).
#include <fmt/format.h>

#include <cstdio>
#include <optional>

#include "cli/command.h"
#include "cli/config_file.h"
#include "cli/in_run_rates.h"
#include "cli/model_flags.h"
#include "cli/train_flags.h"
#include "paraxis/core/error.h"
#include "paraxis/cost/conv.h"
#include "paraxis/cost/hardware.h"
#include "paraxis/cost/planner.h"
#include "paraxis/cost/precision.h"
#include "paraxis/kernels/precision.h"
#include "paraxis/measure/measure.h"
#include "paraxis/parallel/spatial.h"
#include "paraxis/train/trainer.h"

namespace paraxis::cli {

namespace {

// The cost model's layout of the run.
cost::Layout layout_of(const TrainConfig& cfg) {
  cost::Layout layout;
  layout.dp = cfg.dp > 0 ? cfg.dp : std::max(1, cfg.devices / (cfg.tp * cfg.pp * cfg.sp));
  layout.tp = cfg.tp, layout.pp = cfg.pp, layout.sp = cfg.sp;
  layout.sp_fc_model        = parse_sp_fc(cfg.sp_fc) == SpFc::kModel;
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
    // bf16 on a CPU profile that has not measured it: the in-run calibration measures the speedup here.
    if (calibrate && cfg.precision == "bf16" && hw_.dtype == "fp32" && hw_.bf16_matmul_speedup <= 0)
      hw_.bf16_matmul_speedup = measure::bf16_matmul_speedup();
    cost::PricedProfile priced = cost::at_precision(hw_, cfg.precision);
    hw_                        = priced.hw;
    assumption_                = priced.assumption;
  }

  // One calibration round (nothing without --calibrate).
  void calibrate(const char* when) {
    if (!calibration_) return;
    if (!cfg_.quiet) {
      fmt::print(
          "calibrating for --predict ({}): the layout's Linear and convolution rates, alone, in turns and "
          "at once; memory bandwidth\n",
          when);
      std::fflush(stdout);
    }
    // The Linear passes measured at the run's precision (bf16 products under --precision bf16).
    const MatmulPrecisionScope precision(parse_precision(cfg_.precision));
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
    fmt::print("assumed: {}{}\n", assumption_,
               calibration_
                   ? "; the layout's Linear and convolution passes measured in this run at that precision"
                   : "");
    if (calibration_) print_fixed_costs(hw, measured_ms);
    if (!calibration_) print_unmeasured_convs(hw);
    if (!unsteady.empty())
      fmt::print(
          "notice: {}: the machine's speed changed during the run; the prediction uses their median.\n",
          unsteady);
  }

  // A CNN predicted from a profile that lacks its convolution calls: they keep the rate by call size, which
  // is far off for convolutions (cost/conv.h); says so and how to measure them. GPU presets price every
  // product by their GEMM model instead.
  void print_unmeasured_convs(const cost::HardwareProfile& hw) const {
    const cost::Layout layout = layout_of(cfg_);
    const int64_t micro       = cfg_.batch / (static_cast<int64_t>(layout.dp) * layout.microbatches);
    const auto calls = cost::conv_calls(cost::describe_model(cfg_.model), layout, static_cast<double>(micro));
    const size_t missing = cost::unmeasured_convs(hw, calls).size();
    if (missing == 0 || hw.gemm.sms > 0) return;
    fmt::print(
        "notice: the profile has no measured rate for {} of the run's {} convolution calls (priced at the "
        "rate "
        "by call size); measure them with `paraxis calibrate --model {} --image {} --samples {}{} -o FILE`, "
        "or "
        "in this run with --calibrate\n",
        missing, calls.size(), cfg_.model.kind, fmt::join(cfg_.model.image, ","), micro,
        cfg_.sp > 1 ? fmt::format(" --sp {}", cfg_.sp) : "");
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
  cost::HardwareProfile hw_;  // at the run's --precision
  std::string assumption_;
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
         if (sub.get_option("--lr")->count() == 0 && cfg->optimizer == "adamw") cfg->lr = kAdamwDefaultLr;
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
