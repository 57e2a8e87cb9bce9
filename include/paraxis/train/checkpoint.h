// paraxis/train/checkpoint.h — save and resume a run exactly.
//
//   save_checkpoint(dir, rank, cfg, engine, {step, loader.state()});   // every device, every --save-every
//   steps CheckpointState s = load_checkpoint(dir, rank, cfg, engine);        // parameters + optimizer state
//   restored loader.restore(s.loader);                                          // the next batch is the one
//   that was due
//
// One file per device, DIR/device-<rank>.safetensors: this device's parameters under their names, the
// optimizer state under "optim.<param>.<buffer>", and metadata (step, loader epoch and batch, seed, model and
// layout). Written to a temporary name, fsynced, then renamed (write_safetensors), so a crash during a save
// leaves the previous checkpoint whole. Randomness is counter-based (keyed on seed, step, micro-batch), so
// the step and the loader position are the whole RNG state. Resuming checks that the model and layout match.
#pragma once

#include <string>

#include "paraxis/data/loader.h"
#include "paraxis/parallel/engine.h"
#include "paraxis/train/trainer.h"

namespace paraxis {

struct CheckpointState {
  int64_t step = 0;
  LoaderState loader;
};

void save_checkpoint(const std::string& dir, int rank, const TrainConfig& cfg, Engine& engine,
                     const CheckpointState& state);
CheckpointState load_checkpoint(const std::string& dir, int rank, const TrainConfig& cfg, Engine& engine);
std::string checkpoint_path(const std::string& dir, int rank);

}  // namespace paraxis
