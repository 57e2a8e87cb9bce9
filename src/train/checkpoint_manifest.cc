// manifest.json: written last by device 0 (the commit point), and the verification of a step directory
// against it before anything is loaded (NOTE [checkpoint commit] in checkpoint_store.h).
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "paraxis/core/error.h"
#include "paraxis/core/safetensors.h"
#include "train/checkpoint_store.h"

namespace paraxis {

namespace fs = std::filesystem;
using nlohmann::json;

void write_manifest(const std::string& step_dir, const CheckpointManifest& m) {
  json files = json::object();
  for (const auto& [name, f] : m.files)
    files[name] = {{"bytes", f.bytes}, {"crc32", fmt::format("{:08x}", f.crc32)}};
  json j = {{"format", kCheckpointFormat},
            {"step", m.step},
            {"run_id", m.run_id},
            {"layout", m.layout},
            {"devices", m.devices},
            {"loader_epoch", m.loader.epoch},
            {"loader_batch", m.loader.batch},
            {"run", m.run},
            {"files", files}};
  write_file_atomically((fs::path(step_dir) / "manifest.json").string(), j.dump(2) + "\n");
}

namespace {

// A count in the manifest: a JSON integer >= 0 (a string such as "-5" or "15abc" is tampering).
int64_t count_field(const json& j, const char* key, const std::string& path) {
  PX_USER_CHECK(j.contains(key), "{}: no '{}' entry; the manifest is damaged", path, key);
  const json& v = j.at(key);
  PX_USER_CHECK(v.is_number_integer() && v.get<int64_t>() >= 0,
                "{}: '{}' is {}, not a non-negative integer; the manifest was altered", path, key, v.dump());
  return v.get<int64_t>();
}

std::string text_field(const json& j, const char* key, const std::string& path) {
  PX_USER_CHECK(j.contains(key) && j.at(key).is_string(), "{}: no '{}' text; the manifest is damaged", path,
                key);
  return j.at(key).get<std::string>();
}

json parse_manifest(const std::string& path) {
  PX_USER_CHECK(fs::is_regular_file(path), "{} is missing: the save was interrupted before it was committed",
                path);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  json j = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  PX_USER_CHECK(j.is_object(), "{}: not valid JSON; the manifest is damaged", path);
  PX_USER_CHECK(text_field(j, "format", path) == kCheckpointFormat, "{}: format '{}', expected {}", path,
                text_field(j, "format", path), kCheckpointFormat);
  return j;
}

CheckpointManifest manifest_from_json(const json& j, const std::string& path) {
  CheckpointManifest m;
  m.step         = count_field(j, "step", path);
  m.run_id       = text_field(j, "run_id", path);
  m.layout       = text_field(j, "layout", path);
  m.devices      = static_cast<int>(count_field(j, "devices", path));
  m.loader.epoch = count_field(j, "loader_epoch", path);
  m.loader.batch = count_field(j, "loader_batch", path);
  PX_USER_CHECK(
      j.contains("run") && j.at("run").is_object() && j.contains("files") && j.at("files").is_object(),
      "{}: no 'run' or 'files' object; the manifest is damaged", path);
  for (const auto& [k, v] : j.at("run").items()) m.run[k] = v.is_string() ? v.get<std::string>() : v.dump();
  for (const auto& [name, f] : j.at("files").items()) {
    const std::string crc = f.is_object() ? text_field(f, "crc32", path) : "";
    m.files[name]         = {static_cast<uint32_t>(std::strtoul(crc.c_str(), nullptr, 16)),
                             count_field(f, "bytes", path)};
  }
  return m;
}

// One device file against the manifest: which run and step it says it is of, then size and checksum.
void verify_device_file(const std::string& step_dir, const std::string& name, const CheckpointManifest& m) {
  const std::string path = (fs::path(step_dir) / name).string();
  PX_USER_CHECK(fs::is_regular_file(path), "{} is missing; the manifest lists it", path);
  const SafetensorsFile f = read_safetensors(path);
  auto meta               = [&](const char* key) {
    auto it = f.metadata.find(key);
    return it == f.metadata.end() ? std::string("(none)") : it->second;
  };
  PX_USER_CHECK(meta("run_id") == m.run_id,
                "{}: written by run {} but the manifest is of run {}: the directory mixes two runs", path,
                meta("run_id"), m.run_id);
  PX_USER_CHECK(parse_count(meta("step")) == m.step, "{}: step '{}' but the manifest's step is {}", path,
                meta("step"), m.step);
  const CheckpointManifest::File want = m.files.at(name), got = file_checksum(path);
  PX_USER_CHECK(got.bytes == want.bytes && got.crc32 == want.crc32,
                "{}: checksum mismatch (crc32 {:08x}, {} bytes; the manifest has {:08x}, {} bytes): the file "
                "is corrupt or was altered after the save",
                path, got.crc32, got.bytes, want.crc32, want.bytes);
}

}  // namespace

CheckpointManifest read_manifest(const std::string& step_dir) {
  const std::string path = (fs::path(step_dir) / "manifest.json").string();
  CheckpointManifest m   = manifest_from_json(parse_manifest(path), path);
  fs::path normal        = fs::path(step_dir).lexically_normal();
  if (normal.filename().empty()) normal = normal.parent_path();
  const std::string dir_name = normal.filename().string();
  const std::string expect   = step_dir_name(m.step);
  PX_USER_CHECK(dir_name.rfind("step-", 0) != 0 || dir_name == expect,
                "{}: step {} does not match its directory {}; the manifest was altered", path, m.step,
                dir_name);
  PX_USER_CHECK(m.devices >= 1 && static_cast<int>(m.files.size()) == m.devices,
                "{}: {} devices but {} files listed; the manifest is damaged", path, m.devices,
                m.files.size());
  for (int r = 0; r < m.devices; ++r)
    PX_USER_CHECK(m.files.count(device_file_name(r)), "{}: does not list {}", path, device_file_name(r));
  return m;
}

CheckpointManifest verify_checkpoint(const std::string& step_dir) {
  CheckpointManifest m = read_manifest(step_dir);
  for (const auto& [name, f] : m.files) verify_device_file(step_dir, name, m);
  return m;
}

}  // namespace paraxis
