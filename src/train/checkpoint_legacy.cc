// Format 1 checkpoints (paraxis before the commit protocol): DIR/device-<rank>.safetensors, each device's own
// shards, no manifest. Loaded as before, on the layout that saved them only; a resumed run writes format 2.
#include <fmt/format.h>

#include <filesystem>

#include "paraxis/core/error.h"
#include "paraxis/core/safetensors.h"
#include "paraxis/nn/param_io.h"
#include "paraxis/train/checkpoint.h"
#include "train/checkpoint_store.h"

namespace paraxis {

CheckpointState load_legacy_checkpoint(const std::string& dir, int rank, const TrainConfig& cfg,
                                       Engine& engine) {
  std::string path = (std::filesystem::path(dir) / fmt::format("device-{}.safetensors", rank)).string();
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
  PX_USER_CHECK(
      meta("layout") == checkpoint_layout(cfg),
      "--resume {}: the checkpoint's layout is '{}' but this run's is '{}'; resume with the same layout", dir,
      meta("layout"), checkpoint_layout(cfg));
  check_same_data(dir, meta, cfg);
  if (rank == 0 && meta("hyperparameters") != checkpoint_hyperparameters(cfg))
    fmt::print(stderr,
               "note: resuming with other hyperparameters than the checkpoint's; the run will differ from an "
               "uninterrupted one\n  checkpoint: {}\n  this run:   {}\n",
               meta("hyperparameters"), checkpoint_hyperparameters(cfg));
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
