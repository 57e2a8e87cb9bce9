#include "paraxis/train/checkpoint.h"

#include <fmt/format.h>
#include <filesystem>

#include "paraxis/core/error.h"
#include "paraxis/core/safetensors.h"
#include "paraxis/nn/param_io.h"

namespace paraxis {

namespace {
std::string layout_of(const TrainConfig& cfg) {
  return fmt::format("devices {} dp {} tp {} pp {} schedule {} m {} v {} zero {} optimizer {}", cfg.devices,
                     cfg.dp, cfg.tp, cfg.pp, cfg.schedule, cfg.microbatches, cfg.virtual_stages, cfg.zero,
                     cfg.optimizer);
}
// What shapes the rest of the run without changing the saved state: a resume that changes one of these is
// allowed (e.g. a lower learning rate), but it is no longer the uninterrupted run, so the user is told.
std::string hyperparameters_of(const TrainConfig& cfg) {
  return fmt::format(
      "steps {} lr {} schedule {} warmup {} min_lr {} momentum {} weight_decay {} betas {} {} eps {} clip {}",
      cfg.steps, cfg.lr, cfg.lr_schedule, cfg.warmup, cfg.min_lr, cfg.momentum, cfg.weight_decay, cfg.beta1,
      cfg.beta2, cfg.eps, cfg.clip);
}
}  // namespace

std::string checkpoint_path(const std::string& dir, int rank) {
  return (std::filesystem::path(dir) / fmt::format("device-{}.safetensors", rank)).string();
}

void save_checkpoint(const std::string& dir, int rank, const TrainConfig& cfg, Engine& engine,
                     const CheckpointState& state) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  PX_CHECK(!ec, "--checkpoint-dir {}: cannot create: {}", dir, ec.message());
  NamedTensors tensors;
  for (Param* p : engine.params()) tensors.emplace_back(p->name, p->value);
  for (NamedTensor& s : engine.optimizer().state()) tensors.emplace_back("optim." + s.name, s.tensor);
  std::map<std::string, std::string> meta = {
      {"format", "paraxis-checkpoint-1"},
      {"step", std::to_string(state.step)},
      {"loader_epoch", std::to_string(state.loader.epoch)},
      {"loader_batch", std::to_string(state.loader.batch)},
      {"seed", std::to_string(cfg.seed)},
      {"shuffle", cfg.shuffle ? "true" : "false"},
      {"hyperparameters", hyperparameters_of(cfg)},
      {"model", cfg.model.describe()},
      {"layout", layout_of(cfg)},
      {"data", cfg.data},
      {"batch", std::to_string(cfg.batch)},
  };
  write_safetensors(checkpoint_path(dir, rank), tensors, meta);
}

CheckpointState load_checkpoint(const std::string& dir, int rank, const TrainConfig& cfg, Engine& engine) {
  std::string path = checkpoint_path(dir, rank);
  PX_USER_CHECK(
      std::filesystem::is_regular_file(path),
      "--resume {}: no checkpoint for device {} ({} is missing); was it written with the same --devices?",
      dir, rank, path);
  SafetensorsFile f = read_safetensors(path);
  auto meta         = [&](const char* key) -> std::string {
    auto it = f.metadata.find(key);
    PX_USER_CHECK(it != f.metadata.end(), "--resume {}: {} has no '{}' entry; it is not a paraxis checkpoint",
                          dir, path, key);
    return it->second;
  };
  PX_USER_CHECK(meta("format") == "paraxis-checkpoint-1",
                "--resume {}: {} has format '{}', expected paraxis-checkpoint-1", dir, path, meta("format"));
  PX_USER_CHECK(meta("model") == cfg.model.describe(),
                "--resume {}: the checkpoint is of model '{}' but this run builds '{}'", dir, meta("model"),
                cfg.model.describe());
  PX_USER_CHECK(
      meta("layout") == layout_of(cfg),
      "--resume {}: the checkpoint's layout is '{}' but this run's is '{}'; resume with the same layout", dir,
      meta("layout"), layout_of(cfg));
  PX_USER_CHECK(meta("batch") == std::to_string(cfg.batch) && meta("data") == cfg.data,
                "--resume {}: the checkpoint trained --data {} --batch {}; this run has --data {} --batch {}",
                dir, meta("data"), meta("batch"), cfg.data, cfg.batch);
  // Seed and shuffle decide the order of the remaining batches: a different one silently trains on other
  // data.
  PX_USER_CHECK(
      meta("seed") == std::to_string(cfg.seed),
      "--resume {}: the checkpoint was trained with --seed {} but this run has --seed {}; resume with "
      "--seed {}",
      dir, meta("seed"), cfg.seed, meta("seed"));
  const std::string shuffle = cfg.shuffle ? "true" : "false";
  PX_USER_CHECK(meta("shuffle") == shuffle,
                "--resume {}: the checkpoint was trained with shuffle {} but this run has shuffle {}; resume "
                "with {}",
                dir, meta("shuffle"), shuffle, meta("shuffle") == "true" ? "--shuffle" : "--no-shuffle");
  if (rank == 0 && meta("hyperparameters") != hyperparameters_of(cfg))
    fmt::print(stderr,
               "note: resuming with other hyperparameters than the checkpoint's; the run will differ from an "
               "uninterrupted one\n  checkpoint: {}\n  this run:   {}\n",
               meta("hyperparameters"), hyperparameters_of(cfg));
  SafetensorsFile params_only, optim_only;
  for (auto& [name, t] : f.tensors) {
    if (name.rfind("optim.", 0) == 0)
      optim_only.tensors[name.substr(6)] = t;
    else
      params_only.tensors[name] = t;
  }
  // A device's file holds its own tensor-parallel shards (the layout must match, checked above): load each
  // parameter whole at its local shape, through views of the engine's storage.
  std::vector<Param> local;
  for (Param* p : engine.params()) {
    Param q;
    q.name       = p->name;
    q.value      = p->value;
    q.full_shape = p->value.shape();
    local.push_back(q);
  }
  std::vector<Param*> local_ptrs;
  for (Param& q : local) local_ptrs.push_back(&q);
  load_params(params_only, local_ptrs, path);
  std::vector<NamedTensor> saved;
  for (auto& [name, t] : optim_only.tensors) saved.push_back({name, t});
  engine.optimizer().load_state(saved);
  CheckpointState st;
  try {
    st.step         = std::stoll(meta("step"));
    st.loader.epoch = std::stoll(meta("loader_epoch"));
    st.loader.batch = std::stoll(meta("loader_batch"));
  } catch (const std::logic_error&) {
    PX_USER_FAIL("--resume {}: {} has a malformed step or loader position", dir, path);
  }
  return st;
}

}  // namespace paraxis
