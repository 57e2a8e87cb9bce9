// Human units in and out for the cost-model commands: "80GB", "80GiB" or "8e10" bytes in; "1.38 s",
// "12.4 ms", "48.2 GB" out (docs/cost-model.md, Commands).
//
//   double bytes = parse_bytes("--memory-per-device", "80GB");   // 8e10
//   fmt::print("{}\n", format_seconds(0.0124));                   // "12.4 ms"
#pragma once

#include <string>

namespace paraxis::cli {

// A byte count with an optional unit: B, kB, MB, GB, TB (powers of 1000), KiB, MiB, GiB, TiB (powers of
// 1024), case-insensitive; a bare number is bytes. User error (exit 2) quoting `flag` otherwise.
double parse_bytes(const std::string& flag, const std::string& text);

// A time with a unit: s, ms, us (or µs), ns; a bare number is seconds. User error quoting `flag` otherwise.
double parse_seconds(const std::string& flag, const std::string& text);
// A rate in bytes per second: a byte count with parse_bytes's units and "/s" (6GB/s, 6e9/s, 6e9). User error
// quoting `flag` otherwise.
double parse_bandwidth(const std::string& flag, const std::string& text);

std::string format_seconds(double s);    // 4 significant digits in s, ms or us
std::string format_bytes(double bytes);  // 3 significant digits in B, kB, MB, GB or TB

}  // namespace paraxis::cli
