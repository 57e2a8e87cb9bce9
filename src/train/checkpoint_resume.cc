// --resume DIR: which checkpoint to load (the newest one that verifies) and whether this run may continue it.
#include <fmt/format.h>

#include <filesystem>
#include <functional>
#include <vector>

#include "paraxis/core/error.h"
#include "paraxis/train/checkpoint.h"
#include "train/checkpoint_store.h"

namespace paraxis {

namespace fs = std::filesystem;

namespace {}  // namespace

// The settings that decide what the saved state means; a resume that changes one trains something else.
void check_same_data(const std::string& where, const std::function<std::string(const char*)>& saved,
                     const TrainConfig& cfg) {
  PX_USER_CHECK(saved("model") == cfg.model.describe(),
                "--resume {}: the checkpoint is of model '{}' but this run builds '{}'", where,
                saved("model"), cfg.model.describe());
  PX_USER_CHECK(saved("batch") == std::to_string(cfg.batch) && saved("data") == cfg.data,
                "--resume {}: the checkpoint trained --data {} --batch {}; this run has --data {} --batch {}",
                where, saved("data"), saved("batch"), cfg.data, cfg.batch);
  // Seed and shuffle decide the order of the remaining batches: a different one silently trains on other
  // data.
  PX_USER_CHECK(
      saved("seed") == std::to_string(cfg.seed),
      "--resume {}: the checkpoint was trained with --seed {} but this run has --seed {}; resume with "
      "--seed {}",
      where, saved("seed"), cfg.seed, saved("seed"));
  const std::string shuffle = cfg.shuffle ? "true" : "false";
  PX_USER_CHECK(saved("shuffle") == shuffle,
                "--resume {}: the checkpoint was trained with shuffle {} but this run has shuffle {}; resume "
                "with {}",
                where, saved("shuffle"), shuffle, saved("shuffle") == "true" ? "--shuffle" : "--no-shuffle");
}

namespace {

void check_same_run(const std::string& where, const CheckpointManifest& m, const TrainConfig& cfg) {
  auto saved = [&](const char* key) {
    auto it = m.run.find(key);
    return it == m.run.end() ? std::string("(none)") : it->second;
  };
  check_same_data(where, saved, cfg);
  PX_USER_CHECK(saved("optimizer") == cfg.optimizer,
                "--resume {}: the checkpoint holds {} state but this run has --optimizer {}; resume with "
                "--optimizer {}",
                where, saved("optimizer"), cfg.optimizer, saved("optimizer"));
}

void tell_resume(const std::string& step_dir, const CheckpointManifest& m, const TrainConfig& cfg) {
  const std::string layout = checkpoint_layout(cfg);
  fmt::print(stderr, "resuming from {} (step {}, run {})\n", step_dir, m.step, m.run_id);
  if (m.layout != layout)
    fmt::print(stderr, "note: resharding the checkpoint from layout '{}' to layout '{}'\n", m.layout, layout);
  if (m.run.count("hyperparameters") && m.run.at("hyperparameters") != checkpoint_hyperparameters(cfg))
    fmt::print(stderr,
               "note: resuming with other hyperparameters than the checkpoint's; the run will differ from an "
               "uninterrupted one\n  checkpoint: {}\n  this run:   {}\n",
               m.run.at("hyperparameters"), checkpoint_hyperparameters(cfg));
}

ResumePoint accept(const std::string& step_dir, const CheckpointManifest& m, const TrainConfig& cfg,
                   bool talk) {
  check_same_run(step_dir, m, cfg);
  if (talk) tell_resume(step_dir, m, cfg);
  return {step_dir, m.run_id, false};
}

}  // namespace

ResumePoint find_resume_point(const std::string& dir_in, const TrainConfig& cfg, bool talk) {
  fs::path normal = fs::path(dir_in).lexically_normal();
  if (normal.filename().empty()) normal = normal.parent_path();  // "ck/step-000008/"
  const std::string dir = normal.string();
  if (fs::is_regular_file(normal / "manifest.json") || normal.filename().string().rfind("step-", 0) == 0)
    return accept(dir, verify_checkpoint(dir), cfg, talk);  // asked for this one: any problem is an error
  const std::vector<int64_t> steps = list_step_dirs(dir);
  if (steps.empty() && fs::is_regular_file(fs::path(dir) / device_file_name(0))) {
    if (talk)
      fmt::print(stderr,
                 "note: {} is a {} checkpoint (no manifest, not verified); it resumes on its own "
                 "layout only\n",
                 dir, "paraxis-checkpoint-1");
    return {dir, "", true};
  }
  std::vector<std::string> skipped;
  for (int64_t step : steps) {
    const std::string step_dir = (fs::path(dir) / step_dir_name(step)).string();
    try {
      CheckpointManifest m = verify_checkpoint(step_dir);
      if (talk)
        for (const std::string& s : skipped) fmt::print(stderr, "note: skipped {}\n", s);
      return accept(step_dir, m, cfg, talk);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kUser) throw;
      skipped.push_back(e.what());
    }
  }
  std::string reasons;
  for (const std::string& s : skipped) reasons += "\n  " + s;
  PX_USER_FAIL("--resume {}: no complete checkpoint (no step-NNNNNN directory that verifies){}", dir,
               reasons);
}

}  // namespace paraxis
