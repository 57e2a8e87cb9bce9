#include "paraxis/train/trainer.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "paraxis/comm/launch.h"
#include "paraxis/core/error.h"
#include "paraxis/core/input_file.h"
#include "paraxis/core/safe_write.h"
#include "paraxis/core/safetensors.h"
#include "paraxis/data/loader.h"
#include "paraxis/data/sources.h"
#include "paraxis/kernels/precision.h"
#include "paraxis/nn/model_spec_json.h"
#include "paraxis/nn/optim.h"
#include "paraxis/nn/param_io.h"
#include "paraxis/parallel/engine.h"
#include "paraxis/trace/chrome_trace.h"
#include "paraxis/trace/merge.h"
#include "paraxis/trace/recorder.h"
#include "paraxis/train/checkpoint.h"
#include "paraxis/train/interrupt.h"
#include "paraxis/train/loop.h"
#include "paraxis/train/progress.h"

namespace fs = std::filesystem;

namespace paraxis {

double TrainResult::median_step_ms() const {
  return paraxis::median_step_ms(step_ms);
}

namespace {

struct DataSpec {
  std::string kind;  // fashion-mnist | idx | text | synthetic
  std::string a, b;  // paths
};

DataSpec parse_data(const std::string& text) {
  DataSpec d;
  if (text == "fashion-mnist" || text == "synthetic" || text == "text") {
    d.kind = text;
  } else if (text.rfind("idx:", 0) == 0) {
    d.kind           = "idx";
    std::string rest = text.substr(4);
    size_t comma     = rest.find(',');
    PX_USER_CHECK(comma != std::string::npos && comma > 0 && comma + 1 < rest.size(),
                  "--data {}: idx needs two paths, images and labels; use --data idx:IMAGES,LABELS", text);
    d.a = rest.substr(0, comma), d.b = rest.substr(comma + 1);
  } else if (text.rfind("text:", 0) == 0) {
    d.kind = "text";
    d.a    = text.substr(5);
  } else {
    PX_USER_FAIL(
        "--data '{}' is not a data source; use fashion-mnist, idx:IMAGES,LABELS, text[:PATH] or synthetic",
        text);
  }
  return d;
}

void check_readable(const std::string& path, const char* flag) {
  check_input_file(flag, path);
}

struct Datasets {
  std::shared_ptr<const Dataset> train, eval;
  std::string eval_name;
  bool text = false;
};

// Fashion-MNIST or an IDX pair, checked against the classifier's input and output sizes.
Datasets load_classification(const TrainConfig& cfg, const DataSpec& d) {
  const ModelSpec& m          = cfg.model;
  const bool images           = m.has_images();
  ClassificationDataset train = d.kind == "fashion-mnist" ? load_fashion_mnist("train", images)
                                                          : load_idx_classification(d.a, d.b, images);
  const int64_t in            = shape_numel(train.sample_shape());
  if (m.kind == "mlp") {
    PX_USER_CHECK(m.mlp_sizes.front() == in,
                  "--mlp-sizes starts with {} but the data has {} features; use --mlp-sizes {},...",
                  m.mlp_sizes.front(), in, in);
    PX_USER_CHECK(m.mlp_sizes.back() >= train.num_classes(),
                  "--mlp-sizes ends with {} outputs but the data has {} classes; end it with {}",
                  m.mlp_sizes.back(), train.num_classes(), train.num_classes());
  } else if (m.has_images()) {
    const Shape want = {m.image[0], m.image[1], m.image[2]};
    const Shape got  = train.sample_shape();
    const std::string fix =
        m.kind == "cnn" && got.size() == 3 ? fmt::format("--image {},{},{} or ", got[0], got[1], got[2]) : "";
    PX_USER_CHECK(got == want,
                  "--model {} takes {} images (--image); the data has samples {}; use {}--data synthetic",
                  m.kind, shape_str(want), shape_str(got), fix);
    PX_USER_CHECK(m.classes >= train.num_classes(),
                  "--classes {} but the data has {} classes; use --classes {}", m.classes,
                  train.num_classes(), train.num_classes());
  } else {
    PX_USER_FAIL("--model gpt needs text data; use --data text or --data text:PATH (got --data {})",
                 cfg.data);
  }
  Datasets out;
  auto tr   = std::make_shared<ClassificationDataset>(std::move(train));
  out.train = tr;
  if (d.kind == "fashion-mnist") {
    out.eval      = std::make_shared<ClassificationDataset>(load_fashion_mnist("test", images));
    out.eval_name = "test";
  } else {
    out.eval      = tr;
    out.eval_name = "train (an idx pair has no test split)";
  }
  return out;
}

Datasets text_datasets(TextSplits s) {
  Datasets out;
  out.train = s.train, out.eval = s.val, out.eval_name = "validation";
  out.text = true;
  return out;
}

// Synthetic classification: one draw (the same class centres), split into training rows and held-out rows;
// the noise grows with the dimension so that the classes overlap a little and the task is not solved in a
// few steps.
Datasets synthetic_classification(const TrainConfig& cfg) {
  const ModelSpec& m = cfg.model;
  const Shape sample =
      m.has_images() ? Shape{m.image[0], m.image[1], m.image[2]} : Shape{m.mlp_sizes.front()};
  const int64_t classes = m.has_images() ? m.classes : m.mlp_sizes.back();
  const float noise     = 0.3f * std::sqrt(static_cast<float>(shape_numel(sample)));
  // 16384 training and 2048 held-out rows, fewer for large images (at most 2^26 floats, 256 MiB, in all):
  // AlexNet's 3x224x224 gets 392 + 49.
  const int64_t train_n = std::clamp<int64_t>((int64_t{1} << 26) / shape_numel(sample) / 9 * 8, 64, 16384);
  const int64_t eval_n  = std::max<int64_t>(8, train_n / 8);
  const ClassificationDataset all =
      make_synthetic_classification(train_n + eval_n, sample, classes, cfg.seed, noise);
  Tensor x = all.features();
  // Unit variance per feature (centre N(0, 1) plus noise), the scale a default learning rate expects.
  const float unit = 1.0f / std::sqrt(1.0f + noise * noise);
  for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] *= unit;
  const Tensor& y = all.labels();
  Datasets out;
  out.train = std::make_shared<ClassificationDataset>(x.slice(0, train_n), y.slice(0, train_n), classes,
                                                      "synthetic train");
  out.eval  = std::make_shared<ClassificationDataset>(
      x.slice(train_n, train_n + eval_n), y.slice(train_n, train_n + eval_n), classes, "synthetic held-out");
  out.eval_name = "held-out synthetic";
  return out;
}

Datasets load_data(const TrainConfig& cfg) {
  const DataSpec d   = parse_data(cfg.data);
  const ModelSpec& m = cfg.model;
  if (d.kind == "fashion-mnist" || d.kind == "idx") return load_classification(cfg, d);
  if (d.kind == "text") {
    PX_USER_CHECK(m.kind == "gpt", "--data {} is text; it trains --model gpt, not {}", cfg.data, m.kind);
    PX_USER_CHECK(m.vocab >= 256, "--vocab {}: text is byte-level and needs --vocab 256 (or more)", m.vocab);
    if (!d.a.empty()) check_readable(d.a, "--data text:");
    return text_datasets(
        make_text_splits(read_text(d.a), m.context, 0.1, 256, d.a.empty() ? "fortunes" : d.a));
  }
  if (m.kind == "gpt")
    return text_datasets(make_text_splits(make_synthetic_tokens(1 << 18, m.vocab, cfg.seed), m.context, 0.1,
                                          m.vocab, "synthetic tokens"));
  return synthetic_classification(cfg);
}

// A resumed run appends to its log; lines of steps after the checkpoint (written before the interruption) are
// dropped first, so the log reads as one uninterrupted run.
void drop_log_lines_after(const std::string& path, int64_t step) {
  std::ifstream in(path);
  if (!in) return;
  std::vector<std::string> keep;
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("step") && j["step"].is_number_integer() &&
        j["step"].get<int64_t>() > step)
      continue;
    keep.push_back(line);
  }
  in.close();
  std::string text;
  for (const std::string& line : keep) text += line + "\n";
  write_file_atomic("--log", path, text);
}

double lr_at(const TrainConfig& cfg, int64_t step, int64_t total) {
  if (cfg.lr_schedule == "constant") return cfg.lr;
  return LrSchedule::warmup_cosine(cfg.lr, cfg.warmup, total, cfg.min_lr).lr_at(step);
}

DeviceOptions device_options(const TrainConfig& cfg) {
  DeviceOptions dev;
  dev.threads_per_device = cfg.threads_per_device;
  dev.comm_timeout_s     = cfg.comm_timeout;
  return dev;
}

void check_numbers(const TrainConfig& cfg) {
  PX_USER_CHECK(!(cfg.steps > 0 && cfg.epochs > 0), "give --steps or --epochs, not both (got {} and {})",
                cfg.steps, cfg.epochs);
  PX_USER_CHECK(cfg.steps >= -1, "--steps {} must be 0 or more", cfg.steps);  // -1: not given
  PX_USER_CHECK(cfg.epochs >= 0, "--epochs {} must be 0 or more", cfg.epochs);
  PX_USER_CHECK(cfg.batch >= 1, "--batch {} must be at least 1; try --batch 64", cfg.batch);
  PX_USER_CHECK(cfg.optimizer == "sgd" || cfg.optimizer == "adamw",
                "--optimizer {} is unknown; use sgd or adamw", cfg.optimizer);
  PX_USER_CHECK(std::isfinite(cfg.lr) && cfg.lr > 0, "--lr {} must be positive; try --lr 0.05", cfg.lr);
  PX_USER_CHECK(cfg.momentum >= 0 && cfg.momentum < 1, "--momentum {} must be in [0, 1); try 0.9",
                cfg.momentum);
  PX_USER_CHECK(cfg.weight_decay >= 0, "--weight-decay {} must be 0 or more", cfg.weight_decay);
  PX_USER_CHECK(cfg.clip >= 0, "--clip {} must be 0 (off) or positive; try --clip 1.0", cfg.clip);
  PX_USER_CHECK(cfg.lr_schedule == "constant" || cfg.lr_schedule == "cosine",
                "--lr-schedule {} is unknown; use constant or cosine", cfg.lr_schedule);
  PX_USER_CHECK(cfg.warmup >= 0, "--warmup {} must be 0 or more", cfg.warmup);
  PX_USER_CHECK(cfg.eval_every >= 0, "--eval-every {} must be 0 (only at the end) or more", cfg.eval_every);
  PX_USER_CHECK(cfg.save_every >= 0, "--save-every {} must be 0 (off) or more", cfg.save_every);
  PX_USER_CHECK(cfg.keep_checkpoints >= 1,
                "--keep-checkpoints {} must be at least 1 (2 keeps the previous one)", cfg.keep_checkpoints);
  PX_USER_CHECK(cfg.stop_at >= 0, "--stop-at {} must be 0 (off) or a step to stop after", cfg.stop_at);
  PX_USER_CHECK(cfg.save_every == 0 || !cfg.checkpoint_dir.empty(),
                "--save-every {} needs --checkpoint-dir DIR to write into", cfg.save_every);
  PX_USER_CHECK(
      cfg.progress == "auto" || cfg.progress == "bar" || cfg.progress == "lines" || cfg.progress == "none",
      "--progress {} is unknown; use auto, bar, lines or none", cfg.progress);
  PX_USER_CHECK(cfg.backend == "threads" || cfg.backend == "mpi",
                "--backend {} is unknown; use threads or mpi", cfg.backend);
  PX_USER_CHECK(cfg.microbatches >= 1, "--microbatches {} must be at least 1", cfg.microbatches);
}

void check_files(const TrainConfig& cfg) {
  DataSpec data = parse_data(cfg.data);
  if (data.kind == "idx") {
    check_readable(data.a, "--data idx: images");
    check_readable(data.b, "--data idx: labels");
  }
  if (data.kind == "text" && !data.a.empty()) check_readable(data.a, "--data text:");
  if (!cfg.init_path.empty()) check_readable(cfg.init_path, "--init");
  if (!cfg.save_path.empty()) check_output_path("--save", cfg.save_path);
  if (!cfg.log_path.empty()) check_output_path("--log", cfg.log_path);
  if (!cfg.trace_path.empty()) check_output_path("--trace", cfg.trace_path);
  if (!cfg.resume_dir.empty())
    PX_USER_CHECK(fs::is_directory(cfg.resume_dir), "--resume {}: no such checkpoint directory",
                  cfg.resume_dir);
}

}  // namespace

void apply_placement(TrainConfig& cfg) {
  if (!cfg.placement) return;
  cfg.pp           = cfg.devices;
  cfg.schedule     = "gpipe";
  cfg.microbatches = 1;
}

EngineConfig engine_config(const TrainConfig& cfg) {
  EngineConfig e;
  e.grid        = Grid{cfg.dp, cfg.tp, cfg.pp, cfg.sp};
  e.schedule    = {pipeline::parse_schedule_kind(cfg.schedule), cfg.pp, cfg.microbatches, cfg.virtual_stages};
  e.sp_fc       = parse_sp_fc(cfg.sp_fc);
  e.bucket_mb   = cfg.bucket_mb;
  e.zero        = cfg.zero;
  e.defer_wgrad = cfg.defer_wgrad;
  e.recompute   = cfg.recompute;
  e.seed        = cfg.seed;
  e.optim.kind  = cfg.optimizer;
  e.optim.sgd   = {cfg.momentum, cfg.weight_decay};
  e.optim.adamw = {cfg.beta1, cfg.beta2, cfg.eps, cfg.weight_decay};
  e.optim.clip_norm = cfg.clip;
  return e;
}

void validate_train_config(TrainConfig& cfg) {
  check_numbers(cfg);
  parse_precision(cfg.precision);
  if (cfg.placement) {
    PX_USER_CHECK(
        cfg.microbatches == 1,
        "--placement streams no micro-batches (m = 1) but --microbatches is {}; drop one of the two",
        cfg.microbatches);
    PX_USER_CHECK(
        cfg.tp == 1 && cfg.sp == 1 && (cfg.dp == 0 || cfg.dp == 1),
        "--placement puts whole blocks on devices; it does not combine with --tp {} / --dp {} / --sp {}",
        cfg.tp, cfg.dp, cfg.sp);
    apply_placement(cfg);
  }
  check_files(cfg);
  if (cfg.backend == "threads") cfg.dp = make_grid(cfg.devices, cfg.dp, cfg.tp, cfg.pp, cfg.sp).dp;
  validate_device_options(cfg.devices, device_options(cfg));
  if (cfg.backend == "threads") validate_layout(cfg.model, engine_config(cfg), cfg.batch);
}

namespace {

std::string trace_layout(const TrainConfig& cfg) {
  return fmt::format("{} on {} device(s): {}", cfg.model.describe(), cfg.devices,
                     Grid{cfg.dp, cfg.tp, cfg.pp, cfg.sp}.describe());
}

// --backend mpi: every rank sends its events to rank 0, which puts them on its own clock and writes one trace
// (trace/merge.h). Collective over the world communicator.
void write_merged_trace(Communicator& world, const trace::Recorder& rec, const trace::DeviceInfo& info,
                        const std::string& layout, const TrainConfig& cfg) {
  std::optional<trace::TraceSet> set = trace::gather_trace(world, trace::local_trace(rec, info), layout);
  if (!set) return;
  set->layout_info = trace_layout_info(cfg);
  set->run         = trace_run_info(cfg);
  trace::write_chrome_trace(*set, cfg.trace_path);
  if (!cfg.quiet)
    fmt::print(
        "trace: merged from {} ranks onto rank 0's clock, max offset uncertainty {:.1f} µs; wrote {}\n",
        set->num_devices(), trace::max_clock_uncertainty_ns(*set) / 1e3, cfg.trace_path);
}

// What every device of one run shares: the resolved configuration, the data, the trace recorders, and the
// results rank 0 fills in (read after the devices have joined).
struct Run {
  TrainConfig cfg;
  Datasets data;
  LoaderOptions loader;
  int64_t total_steps = 0;  // the schedule's length (--stop-at may end the run earlier)
  bool export_only    = false;
  Backend backend     = Backend::kThreads;
  EngineConfig engine;
  std::unique_ptr<DeviceTraces> traces;
  TrainResult result;
  ResumePoint resume;                    // with --resume: the verified checkpoint to load
  std::string run_id;                    // the checkpoints' run id (the resumed one's, or new)
  std::unique_ptr<CheckpointLock> lock;  // --checkpoint-dir, held by process rank 0
};

// --resume and --checkpoint-dir, once per process before the devices start: the checkpoint to load (verified),
// the run id, and the directory's lock. A fresh run refuses a directory holding another run's checkpoints.
void prepare_checkpoints(Run& run) {
  const TrainConfig& cfg = run.cfg;
  const bool lead        = run.backend != Backend::kMpi || rank_source_from_env().rank == 0;
  if (!cfg.resume_dir.empty()) run.resume = find_resume_point(cfg.resume_dir, cfg, lead && !cfg.quiet);
  run.run_id = run.resume.run_id.empty() ? new_run_id() : run.resume.run_id;
  if (cfg.checkpoint_dir.empty() || !lead) return;
  run.lock                = std::make_unique<CheckpointLock>(cfg.checkpoint_dir, !cfg.quiet);
  const std::string other = committed_run_id(cfg.checkpoint_dir);
  PX_USER_CHECK(
      other.empty() || other == run.run_id,
      "--checkpoint-dir {} holds the checkpoints of another run ({}); continue it with --resume {}, "
      "or use an empty directory",
      cfg.checkpoint_dir, other, cfg.checkpoint_dir);
}

// The data, the number of steps (from --epochs needs the data's size) and, under MPI, the layout on the
// world's size.
std::unique_ptr<Run> prepare_run(const TrainConfig& cfg_in) {
  auto run         = std::make_unique<Run>();
  TrainConfig& cfg = run->cfg;
  cfg              = cfg_in;
  run->data        = load_data(cfg);
  run->loader      = {.batch_size = cfg.batch, .shuffle = cfg.shuffle, .seed = cfg.seed};
  const Loader probe(run->data.train, run->loader);
  PX_USER_CHECK(probe.batches_per_epoch() >= 1,
                "--batch {} is larger than the {} training samples; use --batch {}", cfg.batch,
                run->data.train->size(), run->data.train->size());
  if (cfg.epochs > 0) cfg.steps = cfg.epochs * probe.batches_per_epoch();
  if (cfg.steps < 0 && cfg.epochs == 0) cfg.steps = 100;  // --steps 0 is zero steps
  run->total_steps = cfg.steps;
  PX_USER_CHECK(
      cfg.lr_schedule != "cosine" || run->total_steps == 0 || cfg.warmup < run->total_steps,
      "--warmup {} must be fewer than the {} training steps for --lr-schedule cosine; use e.g. --warmup {}",
      cfg.warmup, run->total_steps, run->total_steps / 10);
  run->export_only = cfg.steps == 0 && !cfg.save_path.empty();
  run->backend     = parse_backend(cfg.backend);
  if (run->backend == Backend::kMpi) {
    cfg.devices = rank_source_from_env().size;
    apply_placement(cfg);
    cfg.dp = make_grid(cfg.devices, cfg_in.dp, cfg.tp, cfg.pp, cfg.sp).dp;
    validate_layout(cfg.model, engine_config(cfg), cfg.batch);
  }
  run->engine = engine_config(cfg);
  run->traces = std::make_unique<DeviceTraces>(cfg.devices, !cfg.trace_path.empty());
  prepare_checkpoints(*run);
  return run;
}

// ZeRO-1, measured: the bytes the optimizer allocated on this device, against the same state for every local
// parameter (what each data-parallel replica holds without ZeRO).
void print_zero_state(Engine& engine, const TrainConfig& cfg) {
  int64_t held = engine.optimizer_state_bytes(), shard = 0, local = 0;
  for (Param* p : engine.optimizer().params()) shard += p->value.numel();
  for (Param* p : engine.params()) local += p->value.numel();
  double unsharded = shard > 0 ? static_cast<double>(held) * static_cast<double>(local) / shard : 0;
  fmt::print(
      "ZeRO-1: optimizer state {:.2f} MB on device 0 (measured), {:.2f} MB without sharding over dp {}\n",
      held / 1e6, unsharded / 1e6, cfg.dp);
}

// --init and --resume: the parameters (and with --resume the optimizer state and the loader's position).
// Returns the step to start from.
int64_t restore(const Run& run, Engine& engine, Loader& loader, Communicator& world) {
  const TrainConfig& cfg = run.cfg;
  if (!cfg.init_path.empty())
    load_params(read_safetensors(cfg.init_path), engine.params(), cfg.init_path, ExtraTensors::kIgnore);
  if (cfg.resume_dir.empty()) return 0;
  CheckpointState st = load_checkpoint(run.resume, cfg, engine);
  loader.restore(st.loader);
  engine.set_steps_done(st.step);
  if (!run.resume.legacy) return st.step;
  // Format 1, one file per device: a crash between two devices' renames leaves files of different steps.
  float steps[2] = {static_cast<float>(st.step), -static_cast<float>(st.step)};
  world.all_reduce(steps, 2, ReduceOp::kMax);
  PX_USER_CHECK(steps[0] == -steps[1],
                "--resume {}: the devices' checkpoint files are of different steps ({} to {}); the save "
                "was interrupted; resume from an older copy of the directory",
                cfg.resume_dir, -steps[1], steps[0]);
  return st.step;
}

// The run id as device 0 has it (MPI processes each drew their own for a fresh run), one hex digit a float.
std::string shared_run_id(const std::string& mine, Communicator& world) {
  std::vector<float> digits(32, 0);
  for (size_t i = 0; i < mine.size() && i < digits.size(); ++i)
    digits[i] = static_cast<float>(std::stoi(std::string(1, mine[i]), nullptr, 16) + 1);
  world.broadcast(digits.data(), static_cast<int64_t>(digits.size()), 0);
  std::string id;
  for (float d : digits)
    if (d > 0) id += "0123456789abcdef"[static_cast<int>(d) - 1];
  return id;
}

// --steps 0 --save FILE: the initial parameters, gathered on rank 0 (every device takes part).
void export_initial(const TrainConfig& cfg, Engine& engine, bool lead) {
  auto full = engine.gather_params();
  if (!lead) return;
  write_safetensors(cfg.save_path, full,
                    {{"model", cfg.model.describe()}, {"seed", std::to_string(cfg.seed)}});
  fmt::print("wrote the initial parameters of {} to {} ({} tensors)\n", cfg.model.describe(), cfg.save_path,
             full.size());
}

// --save FILE after training.
void save_final(const TrainConfig& cfg, Engine& engine, bool lead, int64_t end) {
  auto full = engine.gather_params();
  if (!lead) return;
  write_safetensors(cfg.save_path, full, {{"model", cfg.model.describe()}, {"steps", std::to_string(end)}});
  if (!cfg.quiet) fmt::print("saved the parameters to {}\n", cfg.save_path);
}

// What rank 0 shows and keeps of a run: the progress bar (or lines), evaluation notes, the JSON-lines log and
// the results. On other ranks it does nothing.
class RunOutput {
 public:
  RunOutput(Run& run, bool lead, int64_t start)
      : run_(run),
        lead_(lead),
        progress_(lead && !run.cfg.quiet ? run.cfg.progress : "none", run.total_steps, start) {
    const std::string& path = run.cfg.log_path;
    if (!lead || path.empty()) return;
    // A resumed run appends, after dropping the lines of steps past its checkpoint.
    if (start > 0) drop_log_lines_after(path, start);
    log_ = std::make_unique<AppendFile>("--log", path, /*truncate=*/start == 0);
  }

  void evaluated(int64_t step, const EvalResult& e) {
    if (!lead_) return;
    const Datasets& data      = run_.data;
    run_.result.eval_loss     = e.loss;
    run_.result.eval_accuracy = data.text ? 0 : e.accuracy;
    if (data.text)
      progress_.note(fmt::format("step {}: {} loss {:.4f}, perplexity {:.2f}", step, data.eval_name, e.loss,
                                 std::exp(e.loss)));
    else
      progress_.note(fmt::format("step {}: {} loss {:.4f}, accuracy {:.2f}%", step, data.eval_name, e.loss,
                                 100 * e.accuracy));
  }

  void stepped(const StepReport& r) {
    if (!lead_) return;
    const StepStats& s         = r.stats;
    const int64_t batch        = run_.cfg.batch;
    const double samples_per_s = batch / (s.step_ms / 1000.0);
    run_.result.losses.push_back(s.loss);
    run_.result.step_ms.push_back(s.step_ms);
    run_.result.peak_stash_bytes = std::max(run_.result.peak_stash_bytes, s.peak_stash_bytes);
    run_.result.steps_done       = r.step;
    run_.result.samples += batch;
    progress_.update(r.step, s.loss, samples_per_s);
    if (!log_) return;
    nlohmann::json line = {{"step", r.step},
                           {"loss", s.loss},
                           {"lr", r.lr},
                           {"grad_norm", s.grad_norm},
                           {"step_ms", s.step_ms},
                           {"compute_ms", s.compute_ms},
                           {"optim_ms", s.optim_ms},
                           {"samples_per_s", samples_per_s}};
    if (r.eval) {
      line["eval_loss"] = r.eval->loss;
      if (run_.data.text)
        line["eval_perplexity"] = std::exp(r.eval->loss);
      else
        line["eval_accuracy"] = r.eval->accuracy;
    }
    log_->write_line(line.dump());
  }

  void finish() { progress_.finish(); }

 private:
  Run& run_;
  bool lead_;
  Progress progress_;
  std::unique_ptr<AppendFile> log_;
};

// The loop's hooks for `paraxis train`: the schedule's learning rate, evaluation, output, checkpoints.
LoopHooks train_hooks(Run& run, Engine& engine, Loader& loader, Communicator& world, RunOutput& out) {
  const TrainConfig& cfg = run.cfg;
  LoopHooks h;
  h.lr         = [&run](int64_t step) { return lr_at(run.cfg, step, run.total_steps); };
  h.eval_every = cfg.eval_every;
  h.evaluate   = [&run, &engine, &out](int64_t step) {
    EvalResult e = evaluate_dataset(engine, run.data.eval, run.cfg.batch, run.cfg.eval_batches);
    out.evaluated(step, e);
    return e;
  };
  h.on_step       = [&out](const StepReport& r) { out.stepped(r); };
  h.diverged_hint = fmt::format(
      "; if the loss was rising, lower --lr (now {}) or set --clip 1; otherwise check the data and "
      "--init for non-finite values",
      cfg.lr);
  // A signal reaches the devices at different moments: they agree (max over the world) to stop together.
  h.stop_requested = [&world] {
    float stop = interrupt_signal() != 0 ? 1.0f : 0.0f;
    if (world.size() > 1) world.all_reduce(&stop, 1, ReduceOp::kMax);
    return stop > 0;
  };
  if (!cfg.checkpoint_dir.empty()) {
    h.save_every = cfg.save_every;
    const CheckpointWriter writer{cfg.checkpoint_dir, shared_run_id(run.run_id, world), cfg.keep_checkpoints};
    h.checkpoint = [&run, &engine, &loader, &world, writer](int64_t step) {
      save_checkpoint(writer, world, run.cfg, engine, {step, loader.state()});
    };
  }
  return h;
}

// One device's run: build its shard, restore, train, save, trace.
void train_device(Run& run, Communicator& world) {
  const TrainConfig& cfg = run.cfg;
  const int rank         = world.rank();
  const bool lead        = rank == 0;
  Engine engine(cfg.model, run.engine, world, run.traces->start(rank));
  Loader loader(run.data.train, run.loader);
  if (cfg.zero == 1 && lead && !cfg.quiet) print_zero_state(engine, cfg);
  const int64_t start = restore(run, engine, loader, world);
  if (run.export_only) return export_initial(cfg, engine, lead);
  // --stop-at ends the run early (a time-limited job) on the schedule of the full --steps.
  const int64_t end = cfg.stop_at > 0 ? std::min(cfg.stop_at, run.total_steps) : run.total_steps;
  if (lead && end == 0 && !cfg.quiet)
    fmt::print(stderr, "--steps 0: no training step (add --save FILE to write the initial parameters)\n");
  else if (lead && start >= end && !cfg.quiet)
    fmt::print(stderr, "the checkpoint in {} is at step {}: nothing left to train (--steps {})\n",
               cfg.resume_dir, start, end);
  RunOutput out(run, lead, start);
  const int64_t done =
      train_steps(engine, loader, {start, end}, train_hooks(run, engine, loader, world, out));
  out.finish();
  // Stopped by a signal: the checkpoint (if any) is written and the trace follows; no --save of a half run.
  if (!cfg.save_path.empty() && done >= end) save_final(cfg, engine, lead, end);
  if (const trace::Recorder* rec = run.traces->recorder(rank)) {
    run.traces->set_info(rank, engine);
    if (run.backend == Backend::kMpi)
      write_merged_trace(world, *rec, run.traces->info(rank), trace_layout(cfg), cfg);
  }
}

}  // namespace

trace::RunInfo trace_run_info(const TrainConfig& cfg) {
  return {model_spec_to_json(cfg.model).dump(), cfg.batch, cfg.optimizer};
}

trace::LayoutInfo trace_layout_info(const TrainConfig& cfg) {
  return {.dp        = cfg.dp > 0 ? cfg.dp : std::max(1, cfg.devices / (cfg.tp * cfg.pp * cfg.sp)),
          .tp        = cfg.tp,
          .pp        = cfg.pp,
          .sp        = cfg.sp,
          .m         = cfg.microbatches,
          .v         = cfg.virtual_stages,
          .schedule  = cfg.schedule,
          .placement = cfg.placement,
          .known     = true};
}

TrainResult run_training(const TrainConfig& cfg) {
  std::unique_ptr<Run> run = prepare_run(cfg);
  const MatmulPrecisionScope precision(parse_precision(cfg.precision));
  InterruptGuard interrupts;
  launch(run->backend, run->cfg.devices, device_options(run->cfg),
         [&](Communicator& world) { train_device(*run, world); });
  if (!cfg.trace_path.empty() && run->backend == Backend::kThreads) {
    trace::TraceSet set = run->traces->collect(trace_layout(run->cfg));
    set.layout_info     = trace_layout_info(run->cfg);
    set.run             = trace_run_info(run->cfg);
    trace::write_chrome_trace(set, cfg.trace_path);
  }
  run->result.interrupted_by = interrupt_signal();
  return std::move(run->result);
}

}  // namespace paraxis
