#include "paraxis/train/trainer.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "paraxis/comm/launch.h"
#include "paraxis/core/error.h"
#include "paraxis/core/safetensors.h"
#include "paraxis/data/loader.h"
#include "paraxis/data/sources.h"
#include "paraxis/nn/optim.h"
#include "paraxis/parallel/engine.h"
#include "paraxis/trace/chrome_trace.h"
#include "paraxis/trace/merge.h"
#include "paraxis/trace/recorder.h"
#include "paraxis/train/checkpoint.h"
#include "paraxis/train/progress.h"

namespace fs = std::filesystem;

namespace paraxis {

double TrainResult::median_step_ms() const {
  if (step_ms.empty()) return 0;
  std::vector<double> v = step_ms;
  // Skip the first step (primitive creation, first touches) when there are enough.
  if (v.size() > 3) v.erase(v.begin());
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
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
  PX_USER_CHECK(fs::is_regular_file(path), "{} {}: no such file", flag, path);
}

void check_writable_parent(const std::string& path, const char* flag) {
  fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) parent = ".";
  PX_USER_CHECK(fs::is_directory(parent), "{} {}: directory {} does not exist; create it first", flag, path,
                parent.string());
}

struct Datasets {
  std::shared_ptr<const Dataset> train, eval;
  std::string eval_name;
  bool text = false;
};

Datasets load_data(const TrainConfig& cfg) {
  DataSpec d         = parse_data(cfg.data);
  const ModelSpec& m = cfg.model;
  Datasets out;
  bool images = m.kind == "cnn";
  if (d.kind == "fashion-mnist" || d.kind == "idx") {
    ClassificationDataset train = d.kind == "fashion-mnist" ? load_fashion_mnist("train", images)
                                                            : load_idx_classification(d.a, d.b, images);
    int64_t in                  = shape_numel(train.sample_shape());
    if (m.kind == "mlp") {
      PX_USER_CHECK(m.mlp_sizes.front() == in,
                    "--mlp-sizes starts with {} but the data has {} features; use --mlp-sizes {},...",
                    m.mlp_sizes.front(), in, in);
      PX_USER_CHECK(m.mlp_sizes.back() >= train.num_classes(),
                    "--mlp-sizes ends with {} outputs but the data has {} classes; end it with {}",
                    m.mlp_sizes.back(), train.num_classes(), train.num_classes());
    } else if (m.kind == "cnn") {
      PX_USER_CHECK(train.sample_shape() == (Shape{1, 28, 28}),
                    "the cnn takes 28x28 images; the data has samples {}", shape_str(train.sample_shape()));
      PX_USER_CHECK(m.classes >= train.num_classes(),
                    "--classes {} but the data has {} classes; use --classes {}", m.classes,
                    train.num_classes(), train.num_classes());
    } else {
      PX_USER_FAIL("--model gpt needs text data; use --data text or --data text:PATH (got --data {})",
                   cfg.data);
    }
    auto tr   = std::make_shared<ClassificationDataset>(std::move(train));
    out.train = tr;
    if (d.kind == "fashion-mnist") {
      out.eval      = std::make_shared<ClassificationDataset>(load_fashion_mnist("test", images));
      out.eval_name = "test";
    } else {
      out.eval      = tr;
      out.eval_name = "train (an idx pair has no test split)";
    }
  } else if (d.kind == "text") {
    PX_USER_CHECK(m.kind == "gpt", "--data {} is text; it trains --model gpt, not {}", cfg.data, m.kind);
    PX_USER_CHECK(m.vocab >= 256, "--vocab {}: text is byte-level and needs --vocab 256 (or more)", m.vocab);
    if (!d.a.empty()) check_readable(d.a, "--data text:");
    TextSplits s = make_text_splits(read_text(d.a), m.context, 0.1, 256, d.a.empty() ? "fortunes" : d.a);
    out.train = s.train, out.eval = s.val, out.eval_name = "validation";
    out.text = true;
  } else {  // synthetic
    if (m.kind == "gpt") {
      TextSplits s = make_text_splits(make_synthetic_tokens(1 << 18, m.vocab, cfg.seed), m.context, 0.1,
                                      m.vocab, "synthetic tokens");
      out.train = s.train, out.eval = s.val, out.eval_name = "validation";
      out.text = true;
    } else {
      Shape sample    = m.kind == "cnn" ? Shape{1, 28, 28} : Shape{m.mlp_sizes.front()};
      int64_t classes = m.kind == "cnn" ? m.classes : m.mlp_sizes.back();
      // One draw (the same class centres), split into training rows and held-out rows; the noise grows with
      // the dimension so that the classes overlap a little and the task is not solved in a few steps.
      ClassificationDataset all = make_synthetic_classification(
          16384 + 2048, sample, classes, cfg.seed, 0.3f * std::sqrt(static_cast<float>(shape_numel(sample))));
      Tensor x = all.features();
      // Unit variance per feature (centre N(0, 1) plus noise), the scale a default learning rate expects.
      const float noise = 0.3f * std::sqrt(static_cast<float>(shape_numel(sample)));
      const float unit  = 1.0f / std::sqrt(1.0f + noise * noise);
      for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] *= unit;
      const Tensor& y = all.labels();
      out.train       = std::make_shared<ClassificationDataset>(x.slice(0, 16384), y.slice(0, 16384), classes,
                                                          "synthetic train");
      out.eval        = std::make_shared<ClassificationDataset>(
          x.slice(16384, 16384 + 2048), y.slice(16384, 16384 + 2048), classes, "synthetic held-out");
      out.eval_name = "held-out synthetic";
    }
  }
  return out;
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
  std::ofstream out(path, std::ios::trunc);
  for (const std::string& line : keep) out << line << "\n";
}

EngineConfig engine_config(const TrainConfig& cfg) {
  EngineConfig e;
  e.grid        = Grid{cfg.dp, cfg.tp, cfg.pp};
  e.schedule    = {pipeline::parse_schedule_kind(cfg.schedule), cfg.pp, cfg.microbatches, cfg.virtual_stages};
  e.bucket_mb   = cfg.bucket_mb;
  e.zero        = cfg.zero;
  e.defer_wgrad = cfg.defer_wgrad;
  e.seed        = cfg.seed;
  e.optim.kind  = cfg.optimizer;
  e.optim.sgd   = {cfg.momentum, cfg.weight_decay};
  e.optim.adamw = {cfg.beta1, cfg.beta2, cfg.eps, cfg.weight_decay};
  e.optim.clip_norm = cfg.clip;
  return e;
}

double lr_at(const TrainConfig& cfg, int64_t step, int64_t total) {
  if (cfg.lr_schedule == "constant") return cfg.lr;
  return LrSchedule::warmup_cosine(cfg.lr, cfg.warmup, total, cfg.min_lr).lr_at(step);
}

}  // namespace

void validate_train_config(TrainConfig& cfg) {
  PX_USER_CHECK(!(cfg.steps > 0 && cfg.epochs > 0), "give --steps or --epochs, not both (got {} and {})",
                cfg.steps, cfg.epochs);
  PX_USER_CHECK(cfg.steps >= 0, "--steps {} must be 0 or more", cfg.steps);
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
  PX_USER_CHECK(cfg.stop_at >= 0, "--stop-at {} must be 0 (off) or a step to stop after", cfg.stop_at);
  PX_USER_CHECK(cfg.save_every == 0 || !cfg.checkpoint_dir.empty(),
                "--save-every {} needs --checkpoint-dir DIR to write into", cfg.save_every);
  PX_USER_CHECK(
      cfg.progress == "auto" || cfg.progress == "bar" || cfg.progress == "lines" || cfg.progress == "none",
      "--progress {} is unknown; use auto, bar, lines or none", cfg.progress);
  PX_USER_CHECK(cfg.backend == "threads" || cfg.backend == "mpi",
                "--backend {} is unknown; use threads or mpi", cfg.backend);
  PX_USER_CHECK(cfg.microbatches >= 1, "--microbatches {} must be at least 1", cfg.microbatches);
  if (cfg.placement) {
    PX_USER_CHECK(
        cfg.microbatches == 1,
        "--placement streams no micro-batches (m = 1) but --microbatches is {}; drop one of the two",
        cfg.microbatches);
    PX_USER_CHECK(cfg.tp == 1 && (cfg.dp == 0 || cfg.dp == 1),
                  "--placement puts whole blocks on devices; it does not combine with --tp {} / --dp {}",
                  cfg.tp, cfg.dp);
    cfg.pp       = cfg.devices;
    cfg.schedule = "gpipe";
  }
  DataSpec data = parse_data(cfg.data);
  if (data.kind == "idx") {
    check_readable(data.a, "--data idx: images");
    check_readable(data.b, "--data idx: labels");
  }
  if (data.kind == "text" && !data.a.empty()) check_readable(data.a, "--data text:");
  if (!cfg.init_path.empty()) check_readable(cfg.init_path, "--init");
  if (!cfg.save_path.empty()) check_writable_parent(cfg.save_path, "--save");
  if (!cfg.log_path.empty()) check_writable_parent(cfg.log_path, "--log");
  if (!cfg.trace_path.empty()) check_writable_parent(cfg.trace_path, "--trace");
  if (!cfg.resume_dir.empty())
    PX_USER_CHECK(fs::is_directory(cfg.resume_dir), "--resume {}: no such checkpoint directory",
                  cfg.resume_dir);
  if (cfg.backend == "threads") {
    Grid g = make_grid(cfg.devices, cfg.dp, cfg.tp, cfg.pp);
    cfg.dp = g.dp;
  }
  DeviceOptions dev;
  dev.threads_per_device = cfg.threads_per_device;
  dev.comm_timeout_s     = cfg.comm_timeout;
  validate_device_options(cfg.devices, dev);
  if (cfg.backend == "threads") validate_layout(cfg.model, engine_config(cfg), cfg.batch);
}

namespace {

std::string trace_layout(const TrainConfig& cfg) {
  return fmt::format("{} on {} device(s): {}", cfg.model.describe(), cfg.devices,
                     Grid{cfg.dp, cfg.tp, cfg.pp}.describe());
}

// --backend mpi: every rank sends its events to rank 0, which puts them on its own clock and writes one trace
// (trace/merge.h). Collective over the world communicator.
void write_merged_trace(Communicator& world, const trace::Recorder& rec, const trace::DeviceInfo& info,
                        const std::string& layout, const TrainConfig& cfg) {
  std::optional<trace::TraceSet> set = trace::gather_trace(world, trace::local_trace(rec, info), layout);
  if (!set) return;
  trace::write_chrome_trace(*set, cfg.trace_path);
  if (!cfg.quiet)
    fmt::print(
        "trace: merged from {} ranks onto rank 0's clock, max offset uncertainty {:.1f} µs; wrote {}\n",
        set->num_devices(), trace::max_clock_uncertainty_ns(*set) / 1e3, cfg.trace_path);
}

}  // namespace

TrainResult run_training(const TrainConfig& cfg_in) {
  TrainConfig cfg = cfg_in;
  Datasets data   = load_data(cfg);
  LoaderOptions lo;
  lo.batch_size = cfg.batch;
  lo.shuffle    = cfg.shuffle;
  lo.seed       = cfg.seed;
  {
    Loader probe(data.train, lo);
    PX_USER_CHECK(probe.batches_per_epoch() >= 1,
                  "--batch {} is larger than the {} training samples; use --batch {}", cfg.batch,
                  data.train->size(), data.train->size());
    if (cfg.epochs > 0) cfg.steps = cfg.epochs * probe.batches_per_epoch();
  }
  if (cfg.steps == 0 && cfg.epochs == 0 && cfg_in.steps == 0) cfg.steps = 100;
  const int64_t total_steps = cfg.steps;
  PX_USER_CHECK(
      cfg.lr_schedule != "cosine" || cfg.warmup < total_steps,
      "--warmup {} must be fewer than the {} training steps for --lr-schedule cosine; use e.g. --warmup {}",
      cfg.warmup, total_steps, total_steps / 10);

  DeviceOptions dev;
  dev.threads_per_device = cfg.threads_per_device;
  dev.comm_timeout_s     = cfg.comm_timeout;
  TrainResult result;
  std::mutex result_mu;
  const bool export_only = cfg_in.steps == 0 && cfg_in.epochs == 0 && !cfg.save_path.empty();

  Backend backend = parse_backend(cfg.backend);
  int devices     = cfg.devices;
  if (backend == Backend::kMpi) devices = rank_source_from_env().size;
  if (backend == Backend::kMpi) {
    Grid g = make_grid(devices, cfg_in.dp, cfg.tp, cfg.placement ? devices : cfg.pp);
    cfg.dp = g.dp, cfg.pp = g.pp, cfg.devices = devices;
    validate_layout(cfg.model, engine_config(cfg), cfg.batch);
  }
  const EngineConfig ecfg = engine_config(cfg);
  std::vector<std::unique_ptr<trace::Recorder>> recorders(devices);
  std::vector<trace::DeviceInfo> infos(devices);

  launch(backend, devices, dev, [&](Communicator& world) {
    const int rank       = world.rank();
    const bool lead      = rank == 0;
    trace::Recorder* rec = nullptr;
    if (!cfg.trace_path.empty()) {
      recorders[rank] = std::make_unique<trace::Recorder>(rank);
      rec             = recorders[rank].get();
    }
    Engine engine(cfg.model, ecfg, world, rec);
    Loader loader(data.train, lo);
    if (cfg.zero == 1 && rank == 0 && !cfg.quiet) {
      // Measured: the bytes the optimizer allocated on this device, against the same state for every local
      // parameter (what each data-parallel replica holds without ZeRO).
      int64_t held = engine.optimizer_state_bytes(), shard = 0, local = 0;
      for (Param* p : engine.optimizer().params()) shard += p->value.numel();
      for (Param* p : engine.params()) local += p->value.numel();
      double unsharded = shard > 0 ? static_cast<double>(held) * static_cast<double>(local) / shard : 0;
      fmt::print(
          "ZeRO-1: optimizer state {:.2f} MB on device 0 (measured), {:.2f} MB without sharding over dp {}\n",
          held / 1e6, unsharded / 1e6, cfg.dp);
    }
    int64_t start = 0;
    if (!cfg.init_path.empty())
      load_params(read_safetensors(cfg.init_path), engine.params(), cfg.init_path, ExtraTensors::kIgnore);
    if (!cfg.resume_dir.empty()) {
      CheckpointState st = load_checkpoint(cfg.resume_dir, rank, cfg, engine);
      start              = st.step;
      loader.restore(st.loader);
      engine.set_steps_done(start);
      // One file per device: a crash between two devices' renames leaves files of different steps.
      float steps[2] = {static_cast<float>(start), -static_cast<float>(start)};
      world.all_reduce(steps, 2, ReduceOp::kMax);
      PX_USER_CHECK(steps[0] == -steps[1],
                    "--resume {}: the devices' checkpoint files are of different steps ({} to {}); the save "
                    "was interrupted; resume from an older copy of the directory",
                    cfg.resume_dir, -steps[1], steps[0]);
    }
    if (export_only) {
      auto full = engine.gather_params();
      if (lead) {
        write_safetensors(cfg.save_path, full,
                          {{"model", cfg.model.describe()}, {"seed", std::to_string(cfg.seed)}});
        fmt::print("wrote the initial parameters of {} to {} ({} tensors)\n", cfg.model.describe(),
                   cfg.save_path, full.size());
      }
      return;
    }
    std::unique_ptr<std::ofstream> log;
    if (lead && !cfg.log_path.empty() && start > 0) drop_log_lines_after(cfg.log_path, start);
    if (lead && !cfg.log_path.empty()) {
      log = std::make_unique<std::ofstream>(cfg.log_path, start > 0 ? std::ios::app : std::ios::trunc);
      PX_USER_CHECK(log->good(), "--log {}: cannot open for writing", cfg.log_path);
    }
    Progress progress(lead && !cfg.quiet ? cfg.progress : "none", total_steps, start);
    auto evaluate = [&](int64_t step, nlohmann::json* rec_json) {
      Loader el(data.eval, {.batch_size = std::min<int64_t>(cfg.batch, data.eval->size()),
                            .shuffle    = false,
                            .seed       = 0,
                            .drop_last  = false});
      int64_t nb = el.batches_per_epoch();
      if (cfg.eval_batches > 0) nb = std::min(nb, cfg.eval_batches);
      double loss     = 0;
      int64_t correct = 0, count = 0;
      for (int64_t k = 0; k < nb; ++k) {
        Batch b             = el.batch(0, k);
        Engine::EvalStats s = engine.evaluate(b.x, b.y);
        loss += s.loss_sum, correct += s.correct, count += s.count;
      }
      double mean = count ? loss / count : 0, acc = count ? static_cast<double>(correct) / count : 0;
      if (lead) {
        std::lock_guard<std::mutex> lock(result_mu);
        result.eval_loss     = mean;
        result.eval_accuracy = data.text ? 0 : acc;
        if (data.text)
          progress.note(fmt::format("step {}: {} loss {:.4f}, perplexity {:.2f}", step, data.eval_name, mean,
                                    std::exp(mean)));
        else
          progress.note(fmt::format("step {}: {} loss {:.4f}, accuracy {:.2f}%", step, data.eval_name, mean,
                                    100 * acc));
        if (rec_json) {
          (*rec_json)["eval_loss"] = mean;
          if (data.text)
            (*rec_json)["eval_perplexity"] = std::exp(mean);
          else
            (*rec_json)["eval_accuracy"] = acc;
        }
      }
    };
    // --stop-at ends the run early (a time-limited job) on the schedule of the full --steps.
    const int64_t end = cfg.stop_at > 0 ? std::min(cfg.stop_at, total_steps) : total_steps;
    if (lead && start >= end && !cfg.quiet)
      fmt::print(stderr, "the checkpoint in {} is at step {}: nothing left to train (--steps {})\n",
                 cfg.resume_dir, start, end);
    for (int64_t step = start; step < end; ++step) {
      Batch b     = loader.next();
      double lr   = lr_at(cfg, step, total_steps);
      StepStats s = engine.step(b.x, b.y, lr);
      PX_CHECK(std::isfinite(s.loss),
               "the loss is {} at step {}: training diverged; lower --lr (now {}) or set --clip 1", s.loss,
               step, cfg.lr);
      nlohmann::json line;
      if (lead) {
        line = {{"step", step + 1},
                {"loss", s.loss},
                {"lr", lr},
                {"grad_norm", s.grad_norm},
                {"step_ms", s.step_ms},
                {"compute_ms", s.compute_ms},
                {"optim_ms", s.optim_ms},
                {"samples_per_s", cfg.batch / (s.step_ms / 1000.0)}};
        std::lock_guard<std::mutex> lock(result_mu);
        result.losses.push_back(s.loss);
        result.step_ms.push_back(s.step_ms);
        result.steps_done = step + 1;
        result.samples += cfg.batch;
      }
      bool do_eval = (cfg.eval_every > 0 && (step + 1) % cfg.eval_every == 0) || step + 1 == end;
      if (do_eval) evaluate(step + 1, lead ? &line : nullptr);
      if (lead) {
        progress.update(step + 1, s.loss, cfg.batch / (s.step_ms / 1000.0));
        if (log) *log << line.dump() << "\n" << std::flush;
      }
      const bool periodic = cfg.save_every > 0 && (step + 1) % cfg.save_every == 0;
      if (!cfg.checkpoint_dir.empty() && (periodic || step + 1 == end))
        save_checkpoint(cfg.checkpoint_dir, rank, cfg, engine, {step + 1, loader.state()});
    }
    progress.finish();
    if (!cfg.save_path.empty()) {
      auto full = engine.gather_params();
      if (lead) {
        write_safetensors(cfg.save_path, full,
                          {{"model", cfg.model.describe()}, {"steps", std::to_string(end)}});
        if (!cfg.quiet) fmt::print("saved the parameters to {}\n", cfg.save_path);
      }
    }
    if (rec) {
      infos[rank] = {rank, engine.grid().coord(rank).dp, engine.grid().coord(rank).tp,
                     engine.grid().coord(rank).pp};
      if (backend == Backend::kMpi) write_merged_trace(world, *rec, infos[rank], trace_layout(cfg), cfg);
    }
  });
  if (!cfg.trace_path.empty() && backend == Backend::kThreads) {
    std::vector<trace::Recorder*> recs;
    for (auto& r : recorders) recs.push_back(r.get());
    trace::write_chrome_trace(trace::collect(recs, infos, trace_layout(cfg)), cfg.trace_path);
  }
  return result;
}

}  // namespace paraxis
