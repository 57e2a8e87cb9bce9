// Names, atomic small files, checksums and strict numbers of the checkpoint protocol (checkpoint_store.h).
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "paraxis/core/error.h"
#include "paraxis/core/safe_write.h"
#include "train/checkpoint_store.h"

namespace paraxis {

namespace fs = std::filesystem;

std::string step_dir_name(int64_t step) {
  return fmt::format("step-{:06d}", step);
}
std::string device_file_name(int rank) {
  return fmt::format("device-{}.safetensors", rank);
}

std::optional<int64_t> parse_count(const std::string& text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::vector<int64_t> list_step_dirs(const std::string& dir) {
  std::vector<int64_t> steps;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_directory() || name.rfind("step-", 0) != 0) continue;
    if (auto step = parse_count(name.substr(5))) steps.push_back(*step);
  }
  std::sort(steps.rbegin(), steps.rend());
  return steps;
}

// The checkpoint's small files (manifest, `latest`) through the one safe-write helper (core/safe_write.h).
void write_file_atomically(const std::string& path, const std::string& text) {
  write_file_atomic("--checkpoint-dir", path, text);
}

CheckpointManifest::File file_checksum(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  PX_USER_CHECK(in.good(), "{}: cannot open", path);
  CheckpointManifest::File f;
  uLong crc = crc32(0L, Z_NULL, 0);
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const std::streamsize n = in.gcount();
    if (n <= 0) break;
    crc = crc32(crc, reinterpret_cast<const Bytef*>(buf.data()), static_cast<uInt>(n));
    f.bytes += n;
  }
  f.crc32 = static_cast<uint32_t>(crc);
  return f;
}

std::string zero_owner(const std::string& owner, int64_t& lo, int64_t& hi) {
  const size_t open = owner.find('[');
  if (open == std::string::npos) return owner;
  lo = std::stoll(owner.substr(open + 1));
  hi = std::stoll(owner.substr(owner.find(':', open) + 1));
  return owner.substr(0, open);
}

namespace {
// PARAXIS_FAULT=ckpt:<point>[@<step>], parsed on each call (a test sets it per process).
bool fault_matches(const std::string& spec, const char* point, int64_t step) {
  const std::string want = fmt::format("ckpt:{}", point);
  if (spec == want) return true;
  if (spec.rfind(want + "@", 0) != 0) return false;
  auto at = parse_count(spec.substr(want.size() + 1));
  return at && *at == step;
}
}  // namespace

bool fault_requested(const char* point, int64_t step) {
  const char* spec = std::getenv("PARAXIS_FAULT");
  return spec != nullptr && fault_matches(spec, point, step);
}

void fault_exit(const char* point, int64_t step) {
  fmt::print(stderr, "PARAXIS_FAULT: ending the process at ckpt:{} of step {}\n", point, step);
  std::fflush(stderr);
  std::_Exit(86);
}

}  // namespace paraxis
