// The save side of the checkpoint commit protocol (paraxis/train/checkpoint.h, NOTE [checkpoint commit]).
#include "paraxis/train/checkpoint.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "paraxis/core/error.h"
#include "paraxis/core/safetensors.h"
#include "train/checkpoint_store.h"

namespace paraxis {

namespace fs = std::filesystem;

std::string checkpoint_layout(const TrainConfig& cfg) {
  return fmt::format("devices {} dp {} tp {} pp {} schedule {} m {} v {} zero {} optimizer {}", cfg.devices,
                     cfg.dp, cfg.tp, cfg.pp, cfg.schedule, cfg.microbatches, cfg.virtual_stages, cfg.zero,
                     cfg.optimizer);
}

// What shapes the rest of the run without changing the saved state: a resume that changes one of these is
// allowed (e.g. a lower learning rate), but it is no longer the uninterrupted run, so the user is told.
std::string checkpoint_hyperparameters(const TrainConfig& cfg) {
  return fmt::format(
      "steps {} lr {} schedule {} warmup {} min_lr {} momentum {} weight_decay {} betas {} {} eps {} clip {}",
      cfg.steps, cfg.lr, cfg.lr_schedule, cfg.warmup, cfg.min_lr, cfg.momentum, cfg.weight_decay, cfg.beta1,
      cfg.beta2, cfg.eps, cfg.clip);
}

std::string new_run_id() {
  std::random_device rd;
  const auto now = std::chrono::system_clock::now().time_since_epoch().count();
  return fmt::format("{:08x}{:08x}", static_cast<uint32_t>(now), rd());
}

std::string committed_run_id(const std::string& dir) {
  for (int64_t step : list_step_dirs(dir)) {
    const fs::path manifest = fs::path(dir) / step_dir_name(step) / "manifest.json";
    if (!fs::is_regular_file(manifest)) continue;
    try {
      return read_manifest(manifest.parent_path().string()).run_id;
    } catch (const Error&) {
      continue;  // a damaged step says nothing about the run; an older one may
    }
  }
  return "";
}

namespace {

// A tensor's place in the full one: [shard_dim, groups, begin, full shape...] (absent: the whole tensor).
nlohmann::json shard_place(const Param& p) {
  nlohmann::json place = {p.shard_dim, p.shard_groups, p.shard_begin};
  for (int64_t d : p.full_shape) place.push_back(d);
  return place;
}

// One optimizer buffer under its logical name "optim.<param>.<buffer>", with its place: the parameter's shard
// place, and for ZeRO-1 the flat range [lo, hi) of the local shard it covers ("flat") and that shard's shape.
void add_state(NamedTensors& tensors, nlohmann::json& places, const NamedTensor& s, Engine& engine) {
  const std::string owner  = s.name.substr(0, s.name.rfind('.'));
  const std::string buffer = s.name.substr(s.name.rfind('.') + 1);
  int64_t lo = -1, hi = -1;
  const std::string param = zero_owner(owner, lo, hi);
  const std::string name  = "optim." + param + "." + buffer;
  tensors.emplace_back(name, s.tensor);
  if (buffer == "step") return;  // a counter, the same on every device
  const Param* p = nullptr;
  for (Param* q : engine.params())
    if (q->name == param) p = q;
  PX_CHECK(p != nullptr, "checkpoint: optimizer state '{}' of no parameter", s.name);
  nlohmann::json place = p->shard_dim >= 0 ? shard_place(*p) : nlohmann::json::array({-1, 1, 0});
  if (lo >= 0) place = {{"place", place}, {"flat", {lo, hi}}, {"local", p->value.shape()}};
  if (lo >= 0 || p->shard_dim >= 0) places[name] = place;
}

// This device's parameters and optimizer state ("optim.<param>.<buffer>"), each shard with its place.
void write_device_file(const std::string& path, const CheckpointWriter& w, Engine& engine, int64_t step) {
  NamedTensors tensors;
  nlohmann::json places = nlohmann::json::object();
  for (Param* p : engine.params()) {
    tensors.emplace_back(p->name, p->value);
    if (p->shard_dim >= 0) places[p->name] = shard_place(*p);
  }
  for (NamedTensor& s : engine.optimizer().state()) add_state(tensors, places, s, engine);
  write_safetensors(path, tensors,
                    {{"format", kCheckpointFormat},
                     {"step", std::to_string(step)},
                     {"run_id", w.run_id},
                     {"shards", places.dump()}});
}

CheckpointManifest manifest_of(const CheckpointWriter& w, const TrainConfig& cfg,
                               const CheckpointState& state, int devices) {
  CheckpointManifest m;
  m.step    = state.step;
  m.run_id  = w.run_id;
  m.layout  = checkpoint_layout(cfg);
  m.devices = devices;
  m.loader  = state.loader;
  m.run     = {{"model", cfg.model.describe()},
               {"data", cfg.data},
               {"batch", std::to_string(cfg.batch)},
               {"seed", std::to_string(cfg.seed)},
               {"shuffle", cfg.shuffle ? "true" : "false"},
               {"optimizer", cfg.optimizer},
               {"hyperparameters", checkpoint_hyperparameters(cfg)}};
  return m;
}

// Device 0, after every device's file is on disk: checksums, the manifest (the commit), latest, pruning.
void commit(const CheckpointWriter& w, const std::string& step_dir, CheckpointManifest m) {
  for (int r = 0; r < m.devices; ++r)
    m.files[device_file_name(r)] = file_checksum((fs::path(step_dir) / device_file_name(r)).string());
  write_manifest(step_dir, m);
  if (fault_requested("after-manifest", m.step)) fault_exit("after-manifest", m.step);
  write_file_atomically((fs::path(w.dir) / "latest").string(), step_dir_name(m.step) + "\n");
  if (fault_requested("after-latest", m.step)) fault_exit("after-latest", m.step);
  int kept = 0;
  for (int64_t step : list_step_dirs(w.dir)) {
    const fs::path dir   = fs::path(w.dir) / step_dir_name(step);
    const bool committed = fs::is_regular_file(dir / "manifest.json");
    if (step > m.step) continue;  // a newer step of an earlier attempt: overwritten when reached
    if ((committed && ++kept <= w.keep) || step == m.step) continue;
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
}

}  // namespace

void save_checkpoint(const CheckpointWriter& w, Communicator& world, const TrainConfig& cfg, Engine& engine,
                     const CheckpointState& state) {
  const std::string step_dir = (fs::path(w.dir) / step_dir_name(state.step)).string();
  const int rank = world.rank(), devices = world.size();
  if (rank == 0) {
    std::error_code ec;
    fs::remove_all(step_dir, ec);  // an uncommitted attempt at this step (or a damaged one): start clean
    fs::create_directories(step_dir, ec);
    PX_CHECK(!ec, "--checkpoint-dir {}: cannot create {}: {}", w.dir, step_dir, ec.message());
    if (fault_requested("before-device-files", state.step)) fault_exit("before-device-files", state.step);
  }
  world.barrier();
  // The fault between two devices' files: every device but the last has written its file.
  const bool split       = devices > 1 && fault_requested("between-device-files", state.step);
  const std::string path = (fs::path(step_dir) / device_file_name(rank)).string();
  if (!split || rank < devices - 1) write_device_file(path, w, engine, state.step);
  if (split) {
    world.barrier();
    if (rank == devices - 1) fault_exit("between-device-files", state.step);
    world.barrier();  // not reached: the process has ended
  }
  world.barrier();
  if (rank != 0) return;
  if (fault_requested("after-device-files", state.step)) fault_exit("after-device-files", state.step);
  commit(w, step_dir, manifest_of(w, cfg, state, devices));
}

}  // namespace paraxis
