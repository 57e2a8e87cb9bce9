#include "cli/config_file.h"

#include <fmt/format.h>

#include <toml++/toml.h>
#include <algorithm>

#include "paraxis/core/error.h"
#include "paraxis/core/input_file.h"

namespace paraxis::cli {

namespace {

// What a key is: the file, the key as written, and the option it sets.
struct Key {
  const std::string& path;
  std::string name;
  CLI::Option* opt;
};

bool is_flag(const CLI::Option* opt) {
  return opt->get_expected_max() == 0;  // CLI11 flags expect no argument
}

bool is_number(const CLI::Option* opt) {
  const std::string t = opt->get_type_name();
  return t.find("INT") != std::string::npos || t.find("FLOAT") != std::string::npos ||
         t.find("NUMBER") != std::string::npos;
}

// One scalar as CLI11 input text; a type the option cannot take is refused here, not coerced.
std::string scalar_text(const Key& k, const toml::node& v) {
  const std::string rule = fmt::format("--config {}: key '{}'", k.path, k.name);
  PX_USER_CHECK(!v.is_date() && !v.is_time() && !v.is_date_time(),
                "{} is a date/time; give a {} (e.g. {} = {})", rule, is_flag(k.opt) ? "boolean" : "value",
                k.name, is_flag(k.opt) ? "true" : "1");
  PX_USER_CHECK(v.is_boolean() == is_flag(k.opt), "{} {}; --{} takes {}", rule,
                v.is_boolean() ? "is true/false" : "is not true/false", k.opt->get_lnames().front(),
                is_flag(k.opt) ? "true or false" : "a number or a string");
  if (auto b = v.value<bool>(); v.is_boolean()) return *b ? "true" : "false";
  if (v.is_integer()) return std::to_string(*v.value<int64_t>());
  if (v.is_floating_point()) return fmt::format("{}", *v.value<double>());
  PX_USER_CHECK(v.is_string(), "{} holds a table; give a number, a string or a list of them", rule);
  const std::string s = *v.value<std::string>();
  PX_USER_CHECK(!(s.empty() && is_number(k.opt)), "{} = \"\" is empty; give a number, e.g. {} = 1", rule,
                k.name);
  return s;
}

// A scalar, or a non-empty array of scalars joined with commas (`mlp-sizes = [784, 256, 10]`).
std::vector<std::string> inputs_of(const Key& k, const toml::node& v) {
  if (!v.is_array()) return {scalar_text(k, v)};
  const toml::array& a = *v.as_array();
  PX_USER_CHECK(!a.empty(), "--config {}: key '{}' is an empty array; give a value (e.g. {} = [1, 2])",
                k.path, k.name, k.name);
  std::vector<std::string> items;
  for (const toml::node& e : a) {
    PX_USER_CHECK(!e.is_array() && !e.is_table(), "--config {}: key '{}' holds a nested array or table",
                  k.path, k.name);
    items.push_back(scalar_text(k, e));
  }
  if (k.opt->get_items_expected_max() > 1) return items;
  std::string joined;
  for (size_t i = 0; i < items.size(); ++i) joined += (i ? "," : "") + items[i];
  return {joined};
}

CLI::Option* option_for(CLI::App& sub, const std::string& path, const std::string& key) {
  std::string name = key;
  std::replace(name.begin(), name.end(), '_', '-');
  CLI::Option* opt = sub.get_option_no_throw("--" + name);
  PX_USER_CHECK(opt != nullptr && name != "config" && name != "help",
                "--config {}: unknown key '{}'; keys are the flags of `paraxis {}` without dashes (see "
                "`paraxis {} --help`), e.g. lr = 0.05",
                path, key, sub.get_name(), sub.get_name());
  return opt;
}

void apply_key(CLI::App& sub, const std::string& path, const std::string& key, const toml::node& value) {
  const Key k{path, key, option_for(sub, path, key)};
  if (k.opt->count() > 0) return;  // the command line overrides the file
  const std::vector<std::string> inputs = inputs_of(k, value);
  try {
    k.opt->add_result(inputs);
    k.opt->run_callback();
  } catch (const CLI::Error& e) {
    PX_USER_FAIL("--config {}: key '{}' = '{}' is not a valid value for --{}: {}", path, key, inputs[0],
                 k.opt->get_lnames().front(), e.what());
  }
}

toml::table parse_toml(const std::string& path) {
  try {
    return toml::parse_file(path);
  } catch (const toml::parse_error& e) {  // also a table given twice, a key given twice
    PX_USER_FAIL("--config {}: cannot parse it as TOML: {} (line {}, column {})", path, e.description(),
                 e.source().begin.line, e.source().begin.column);
  }
}

}  // namespace

void apply_config_file(CLI::App& sub, const std::string& path) {
  if (path.empty()) return;
  check_input_file("--config", path);
  const toml::table file = parse_toml(path);
  for (const auto& [key, value] : file) {
    const std::string name(key.str());
    if (const toml::table* t = value.as_table()) {
      PX_USER_CHECK(name == sub.get_name(),
                    "--config {}: table [{}] is not [{}]; put the keys at the top or in [{}]", path, name,
                    sub.get_name(), sub.get_name());
      for (const auto& [inner, v] : *t) {
        PX_USER_CHECK(!v.is_table(), "--config {}: table [{}.{}] is not accepted; put the keys in [{}]", path,
                      name, inner.str(), sub.get_name());
        apply_key(sub, path, std::string(inner.str()), v);
      }
      continue;
    }
    apply_key(sub, path, name, value);
  }
}

}  // namespace paraxis::cli
