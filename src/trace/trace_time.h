// Internal to the trace readers (chrome_import.cc, torch_read.cc): a Chrome trace's time in µs as int64 ns.
//
//   e.t_begin_ns = trace_ns(ev["ts"].get<double>(), "ts", what);   // user error (exit 2) when out of range
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "paraxis/core/error.h"

namespace paraxis::trace {

// Times within ±4e15 µs (a century and more; PyTorch's count µs since 1970, about 1.7e15): a begin plus a
// duration still fits in int64 nanoseconds. A time outside (1e300, inf) is a user error naming the field,
// not a conversion with an undefined result.
inline constexpr double kMaxTraceTimeUs = 4e15;

inline int64_t trace_ns(double us, const char* field, const std::string& what) {
  PX_USER_CHECK(std::isfinite(us) && std::fabs(us) <= kMaxTraceTimeUs,
                "{}: {} = {} µs is out of range; times are within ±{:g} µs of the trace's start", what, field,
                us, kMaxTraceTimeUs);
  return static_cast<int64_t>(std::llround(us * 1000.0));
}

}  // namespace paraxis::trace
