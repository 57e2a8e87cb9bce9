// train/checkpoint_store.h — the on-disk pieces of the checkpoint commit protocol (private to src/train).
//
//   DIR/step-000120/device-<rank>.safetensors   every device's tensors (its shards, with their global place)
//   DIR/step-000120/manifest.json                written last, by device 0: the commit point
//   DIR/latest                                   "step-000120": the newest committed step (a convenience)
//   DIR/lock                                     the pid of the run writing into DIR
//
// NOTE [checkpoint commit] A step directory without a valid manifest is an interrupted save and is never
// resumed from; the manifest names every device file with its size and crc32, the step, the run id and the
// layout, so a flipped bit, a file from another run or a tampered step is found before anything is loaded.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "paraxis/data/loader.h"
#include "paraxis/train/trainer.h"

namespace paraxis {

inline constexpr const char* kCheckpointFormat = "paraxis-checkpoint-2";

struct CheckpointManifest {
  int64_t step = 0;
  std::string run_id;
  std::string layout;  // layout_of(cfg) of the run that saved it
  int devices = 0;
  LoaderState loader;
  std::map<std::string, std::string> run;  // model, data, batch, seed, shuffle, optimizer, hyperparameters
  struct File {
    uint32_t crc32 = 0;
    int64_t bytes  = 0;
  };
  std::map<std::string, File> files;  // device-<rank>.safetensors -> size and checksum
};

// Names and paths.
std::string step_dir_name(int64_t step);  // "step-000120"
std::string device_file_name(int rank);   // "device-3.safetensors"
// The steps of DIR's step-NNNNNN directories, newest first (other names are ignored).
std::vector<int64_t> list_step_dirs(const std::string& dir);

// ZeRO-1 optimizer state belongs to "<param>[lo:hi]", elements [lo, hi) of the flattened local parameter:
// returns <param> and sets lo, hi (untouched for a plain parameter name, which is returned as is).
std::string zero_owner(const std::string& owner, int64_t& lo, int64_t& hi);

// A small text file replaced atomically: temporary name, fsync, rename, directory fsync.
void write_file_atomically(const std::string& path, const std::string& text);
// crc32 (zlib) and size of a whole file.
CheckpointManifest::File file_checksum(const std::string& path);
// A whole non-negative decimal integer ("15abc", "-5", "" are not); nullopt otherwise.
std::optional<int64_t> parse_count(const std::string& text);

// manifest.json of a step directory.
void write_manifest(const std::string& step_dir, const CheckpointManifest& m);
// Reads and checks the manifest alone (fields, step against the directory name, the files it lists).
CheckpointManifest read_manifest(const std::string& step_dir);
// Reads and checks the manifest and every file it names (size, crc32, run id and step in each file); throws a
// user error naming the file and the problem.
CheckpointManifest verify_checkpoint(const std::string& step_dir);

// PARAXIS_FAULT=ckpt:<point>[@<step>]: ends the process (exit 86) at that point of the save of that step (any
// step when omitted). Points: before-device-files, between-device-files, after-device-files, after-manifest,
// after-latest. A test hook for the commit protocol; costs one getenv per save otherwise.
bool fault_requested(const char* point, int64_t step);
[[noreturn]] void fault_exit(const char* point, int64_t step);

// A resumed run must keep the model, data, batch, seed and shuffle of the run that saved (`saved(key)` reads
// the saved value): user errors naming both values and the flag that resumes (checkpoint_resume.cc).
void check_same_data(const std::string& where, const std::function<std::string(const char*)>& saved,
                     const TrainConfig& cfg);

}  // namespace paraxis
