#include "paraxis/trace/recorder.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>

#include "paraxis/core/error.h"

namespace paraxis::trace {
namespace {
constexpr std::array<std::string_view, kNumKinds> kKindNames = {
    "F",         "B",         "I",        "W",       "OPT",  "SEND", "RECV", "ALLREDUCE", "REDUCE_SCATTER",
    "ALLGATHER", "BROADCAST", "ALLTOALL", "BARRIER", "WAIT", "OTHER"};
}  // namespace

std::string_view kind_name(Kind k) {
  return kKindNames[static_cast<size_t>(k)];
}

std::optional<Kind> kind_from_name(std::string_view name) {
  for (size_t i = 0; i < kKindNames.size(); ++i)
    if (kKindNames[i] == name) return static_cast<Kind>(i);
  return std::nullopt;
}

bool is_compute(Kind k) {
  switch (k) {
    case Kind::kForward:
    case Kind::kBackward:
    case Kind::kBackwardInput:
    case Kind::kBackwardWeight:
    case Kind::kOptStep:
    case Kind::kOther:
      return true;
    default:
      return false;
  }
}

bool is_collective(Kind k) {
  switch (k) {
    case Kind::kAllReduce:
    case Kind::kReduceScatter:
    case Kind::kAllGather:
    case Kind::kBroadcast:
    case Kind::kAllToAll:
    case Kind::kBarrier:
      return true;
    default:
      return false;
  }
}

Track default_track(Kind k) {
  return is_compute(k) ? Track::kCompute : Track::kComm;
}

Recorder::Recorder(int device, size_t capacity) : device_(device), capacity_(capacity), buffer_(capacity) {
  PX_USER_CHECK(capacity > 0, "trace buffer capacity must be positive, got {}", capacity);
  step_marks_.reserve(64);
}

void Recorder::record(Kind kind, int stage, int microbatch, int64_t t_begin_ns, int64_t t_end_ns) {
  Event e;
  e.kind       = kind;
  e.track      = default_track(kind);
  e.stage      = static_cast<int16_t>(stage);
  e.microbatch = microbatch;
  e.t_begin_ns = t_begin_ns;
  e.t_end_ns   = t_end_ns;
  record(e);
}

std::string DeviceInfo::label() const {
  return fmt::format("device {} (dp{} tp{} pp{})", device, dp, tp, pp);
}

std::pair<int64_t, int64_t> TraceSet::span() const {
  int64_t lo = std::numeric_limits<int64_t>::max(), hi = std::numeric_limits<int64_t>::min();
  for (const auto& dev : events)
    for (const Event& e : dev) {
      lo = std::min(lo, e.t_begin_ns);
      hi = std::max(hi, e.t_end_ns);
    }
  if (lo > hi) return {0, 0};
  return {lo, hi};
}

TraceSet collect(std::span<Recorder* const> recorders, std::span<const DeviceInfo> coords,
                 std::string layout) {
  PX_CHECK(coords.empty() || coords.size() == recorders.size(),
           "collect: {} grid coordinates for {} recorders; give one per recorder or none", coords.size(),
           recorders.size());
  TraceSet set;
  set.layout = std::move(layout);
  for (size_t i = 0; i < recorders.size(); ++i) {
    const Recorder& rec = *recorders[i];
    DeviceInfo info;
    if (coords.empty())
      info.device = rec.device();
    else
      info = coords[i];
    set.devices.push_back(info);
    set.events.emplace_back(rec.events().begin(), rec.events().end());
    set.dropped_events += static_cast<int64_t>(rec.dropped());
    if (set.steps.empty())
      for (auto [b, e] : rec.steps())
        if (e >= b) set.steps.push_back({b, e});
  }
  return set;
}

}  // namespace paraxis::trace
