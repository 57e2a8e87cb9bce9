// Every flag of `paraxis train` (the config file's keys are the same names): the train command and the
// config file's fuzz harness (tests/fuzz/fuzz_config.cc) build the same options.
//
//   add_train_flags(sub, cfg);   // writes into cfg as CLI11 parses, then apply_config_file(sub, path)
#pragma once

#include <CLI/CLI.hpp>

#include "paraxis/train/trainer.h"

namespace paraxis::cli {

void add_train_flags(CLI::App& sub, TrainConfig& cfg);

}  // namespace paraxis::cli
