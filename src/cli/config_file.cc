#include "cli/config_file.h"

#include <algorithm>
#include <filesystem>

#include "paraxis/core/error.h"

namespace paraxis::cli {

void apply_config_file(CLI::App& sub, const std::string& path) {
  if (path.empty()) return;
  PX_USER_CHECK(std::filesystem::is_regular_file(path), "--config {}: no such file", path);
  std::vector<CLI::ConfigItem> items;
  try {
    items = CLI::ConfigTOML().from_file(path);
  } catch (const CLI::Error& e) {
    PX_USER_FAIL("--config {}: cannot parse it as TOML: {}", path, e.what());
  }
  for (const CLI::ConfigItem& item : items) {
    if (item.name == "++" || item.name == "--") continue;  // table open / close markers
    PX_USER_CHECK(item.parents.empty() || (item.parents.size() == 1 && item.parents[0] == sub.get_name()),
                  "--config {}: key '{}' is in table [{}]; put the keys at the top or in [{}]", path,
                  item.fullname(), item.parents.empty() ? "" : item.parents[0], sub.get_name());
    std::string name = item.name;
    std::replace(name.begin(), name.end(), '_', '-');
    CLI::Option* opt = sub.get_option_no_throw("--" + name);
    PX_USER_CHECK(opt != nullptr && name != "config" && name != "help",
                  "--config {}: unknown key '{}'; keys are the flags of `paraxis {}` without dashes (see "
                  "`paraxis {} --help`), e.g. lr = 0.05",
                  path, item.name, sub.get_name(), sub.get_name());
    if (opt->count() > 0) continue;  // the command line overrides the file
    std::vector<std::string> inputs = item.inputs;
    if (opt->get_items_expected_max() <= 1 && inputs.size() > 1) {
      std::string joined;
      for (size_t i = 0; i < inputs.size(); ++i) joined += (i ? "," : "") + inputs[i];
      inputs = {joined};
    }
    try {
      opt->add_result(inputs);
      opt->run_callback();
    } catch (const CLI::Error& e) {
      PX_USER_FAIL("--config {}: key '{}' = '{}' is not a valid value for --{}: {}", path, item.name,
                   inputs.empty() ? "" : inputs[0], name, e.what());
    }
  }
}

}  // namespace paraxis::cli
