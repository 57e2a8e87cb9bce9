// apply_config_file (cli/config_file.h): `paraxis train --config FILE`, on the train command's own flags
// (cli/train_flags.h) as CLI11 left them after parsing `paraxis train`.
#include "cli/config_file.h"
#include "cli/train_flags.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_input("input.toml", data, size);
  return fuzz::expect_user_errors([&] {
    CLI::App app;
    CLI::App* sub = app.add_subcommand("train");
    sub->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // as main's train
    paraxis::TrainConfig cfg;
    paraxis::cli::add_train_flags(*sub, cfg);
    app.parse(std::vector<std::string>{"train"});
    paraxis::cli::apply_config_file(*sub, path);
  });
}
