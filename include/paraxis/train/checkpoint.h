// paraxis/train/checkpoint.h — save and resume a run exactly, on any layout.
//
//   CheckpointWriter ckpt{dir, run_id, /*keep=*/2};
//   save_checkpoint(ckpt, world, cfg, engine, {step, loader.state()});   // every device, every --save-every
//   ResumePoint from = find_resume_point(resume_dir, cfg, /*talk=*/true); // once per process
//   CheckpointState s = load_checkpoint(from, cfg, engine);              // any device, any layout
//   loader.restore(s.loader);                                            // the next batch is the one due
//
// A checkpoint is committed, not just written (PyTorch DCP / Megatron style): every device writes
// DIR/step-NNNNNN/device-<rank>.safetensors (its parameters and optimizer state, each shard tagged with its
// place in the full tensor), the devices meet at a barrier, then device 0 writes manifest.json (step, run id,
// layout, loader position, run settings, size and crc32 of every file) atomically, points DIR/latest at the
// step and removes all but the newest --keep-checkpoints committed steps. Resume takes the newest step whose
// manifest and files verify, saying which and why it skipped newer ones; the loader assembles each full tensor
// from the saved shards and takes the slice the new layout needs, so dp, tp, pp and ZeRO-1 checkpoints resume
// on any other layout. Randomness is counter-based (seed, step, micro-batch): step and loader position are
// the whole RNG state, so a resume on the same layout is bit-identical to an uninterrupted run.
#pragma once

#include <string>

#include "paraxis/comm/communicator.h"
#include "paraxis/data/loader.h"
#include "paraxis/parallel/engine.h"
#include "paraxis/train/trainer.h"

namespace paraxis {

struct CheckpointState {
  int64_t step = 0;
  LoaderState loader;
};

struct CheckpointWriter {
  std::string dir;     // --checkpoint-dir
  std::string run_id;  // the same in every file of one run, kept across resumes
  int keep = 2;        // committed steps kept (--keep-checkpoints)
};

// Every device calls it at the same step (collective: two barriers).
void save_checkpoint(const CheckpointWriter& w, Communicator& world, const TrainConfig& cfg, Engine& engine,
                     const CheckpointState& state);

struct ResumePoint {
  std::string step_dir;  // the step directory to load (or, for a format-1 checkpoint, the directory)
  std::string run_id;    // the run it belongs to ("" for format 1)
  bool legacy = false;   // paraxis-checkpoint-1: one flat directory, same layout only
};
// --resume DIR: DIR/step-NNNNNN/ (explicit: refused with exit 2 unless it verifies) or a checkpoint directory
// (the newest step that verifies; newer ones that do not are named with the reason). Checks the model, data,
// batch, seed, shuffle and optimizer against cfg; notes a layout or hyperparameter change when `talk`.
ResumePoint find_resume_point(const std::string& dir, const TrainConfig& cfg, bool talk);
// Loads parameters and optimizer state into this device's shards, whatever layout saved them.
CheckpointState load_checkpoint(const ResumePoint& from, const TrainConfig& cfg, Engine& engine);

// A fresh run id (hex, from the clock and random_device).
std::string new_run_id();
// The run id of DIR's newest committed checkpoint, "" if none (a fresh run refuses a directory of another).
std::string committed_run_id(const std::string& dir);

// What the checkpoint records of a configuration (also used by the format-1 loader).
std::string checkpoint_layout(const TrainConfig& cfg);
std::string checkpoint_hyperparameters(const TrainConfig& cfg);

// Format 1 (paraxis before the commit protocol): DIR/device-<rank>.safetensors, same layout only.
CheckpointState load_legacy_checkpoint(const std::string& dir, int rank, const TrainConfig& cfg,
                                       Engine& engine);

// DIR/lock holds the pid of the run writing into DIR; released on destruction. A lock of a live process is
// refused (exit 2); one of a dead process is taken over with a note.
class CheckpointLock {
 public:
  CheckpointLock(const std::string& dir, bool talk);
  ~CheckpointLock();
  CheckpointLock(const CheckpointLock&)            = delete;
  CheckpointLock& operator=(const CheckpointLock&) = delete;

 private:
  std::string path_;
};

}  // namespace paraxis
