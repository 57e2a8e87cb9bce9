#include "cli/units.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <utility>

#include "paraxis/core/error.h"

namespace paraxis::cli {

double parse_bytes(const std::string& flag, const std::string& text) {
  static const std::pair<const char*, double> units[] = {
      {"", 1},      {"b", 1},        {"kb", 1e3},        {"mb", 1e6},           {"gb", 1e9},
      {"tb", 1e12}, {"kib", 1024.0}, {"mib", 1048576.0}, {"gib", 1073741824.0}, {"tib", 1099511627776.0}};
  char* end      = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  std::string unit(end == nullptr ? "" : end);
  unit.erase(std::remove(unit.begin(), unit.end(), ' '), unit.end());
  std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const auto& [name, scale] : units) {
    if (end != text.c_str() && unit == name && v > 0) return v * scale;
  }
  PX_USER_FAIL("{} {}: give a positive size in bytes with an optional unit, e.g. {} 80GB, 80GiB or 8e10",
               flag, text, flag);
}

double parse_seconds(const std::string& flag, const std::string& text) {
  static const std::pair<const char*, double> units[] = {
      {"", 1}, {"s", 1}, {"ms", 1e-3}, {"us", 1e-6}, {"\xc2\xb5s", 1e-6}, {"ns", 1e-9}};
  char* end      = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  std::string unit(end == nullptr ? "" : end);
  unit.erase(std::remove(unit.begin(), unit.end(), ' '), unit.end());
  std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const auto& [name, scale] : units)
    if (end != text.c_str() && unit == name && v > 0) return v * scale;
  PX_USER_FAIL("{} {}: give a positive time with an optional unit (s, ms, us, ns), e.g. {} 2us", flag, text,
               flag);
}

double parse_bandwidth(const std::string& flag, const std::string& text) {
  std::string bytes = text;
  const size_t per  = bytes.find("/s");
  if (per != std::string::npos && per + 2 == bytes.size()) bytes.resize(per);
  PX_USER_CHECK(per == std::string::npos || per + 2 == text.size(),
                "{} {}: give a positive rate in bytes per second, e.g. {} 6GB/s", flag, text, flag);
  try {
    return parse_bytes(flag, bytes);
  } catch (const Error&) {
    PX_USER_FAIL(
        "{} {}: give a positive rate in bytes per second, e.g. {} 6GB/s (units B, kB, MB, GB, KiB, "
        "...)",
        flag, text, flag);
  }
}

std::string format_seconds(double s) {
  if (s >= 1) return fmt::format("{:.4g} s", s);
  if (s >= 1e-3) return fmt::format("{:.4g} ms", s * 1e3);
  return fmt::format("{:.4g} us", s * 1e6);
}

std::string format_bytes(double bytes) {
  const char* names[] = {"B", "kB", "MB", "GB", "TB"};
  int i               = 0;
  while (bytes >= 1000 && i < 4) bytes /= 1000, ++i;
  return fmt::format("{:.3g} {}", bytes, names[i]);
}

}  // namespace paraxis::cli
