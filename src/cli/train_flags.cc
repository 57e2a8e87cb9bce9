#include "cli/train_flags.h"

#include "cli/model_flags.h"

namespace paraxis::cli {
namespace {

// What is trained on and for how long.
void add_data_flags(CLI::App& sub, TrainConfig& cfg) {
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
}

void add_optimizer_flags(CLI::App& sub, TrainConfig& cfg) {
  sub.add_option("--optimizer", cfg.optimizer, "sgd | adamw")->capture_default_str();
  sub.add_option("--lr", cfg.lr,
                 "Learning rate (default: 0.05 with sgd, 0.001 with adamw, PyTorch's AdamW default)");
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
}

// Evaluation, parameter files, logs, checkpoints and the trace.
void add_io_flags(CLI::App& sub, TrainConfig& cfg) {
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
}

// The devices and how the model and the batch are split over them.
void add_layout_flags(CLI::App& sub, TrainConfig& cfg) {
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
  sub.add_option("--sp-fc", cfg.sp_fc,
                 "Under --sp: the fully connected side batch-parallel (batch: each device N/sp samples) or "
                 "model-parallel (model: all samples, FC weights split over the sp devices)")
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
}

// How each device runs: cores, timeouts, buckets, ZeRO, deferred weight gradients, recompute, precision.
void add_execution_flags(CLI::App& sub, TrainConfig& cfg) {
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
}

// What is printed, and the cost model's prediction beside the measurement.
void add_report_flags(CLI::App& sub, TrainConfig& cfg) {
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

}  // namespace

void add_train_flags(CLI::App& sub, TrainConfig& cfg) {
  add_model_flags(sub, cfg.model);
  add_data_flags(sub, cfg);
  add_optimizer_flags(sub, cfg);
  add_io_flags(sub, cfg);
  add_layout_flags(sub, cfg);
  add_execution_flags(sub, cfg);
  add_report_flags(sub, cfg);
}

}  // namespace paraxis::cli
