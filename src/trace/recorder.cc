#include "paraxis/trace/recorder.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>

#include "paraxis/core/error.h"

namespace paraxis::trace {
namespace {
constexpr std::array<std::string_view, kNumKinds> kKindNames = {
    "F",         "B",         "I",        "W",       "OPT",  "SEND",  "RECV", "ALLREDUCE", "REDUCE_SCATTER",
    "ALLGATHER", "BROADCAST", "ALLTOALL", "BARRIER", "WAIT", "OTHER", "HALO", "LAYOUT"};
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
  if (sp >= 0) return fmt::format("device {} (dp{} tp{} pp{} sp{})", device, dp, tp, pp, sp);
  return fmt::format("device {} (dp{} tp{} pp{})", device, dp, tp, pp);
}

namespace {
// The number after `prefix` at the start of a word ("pp2", "pp=2"), or -1.
int number_after(std::string_view word, std::string_view prefix) {
  if (!word.starts_with(prefix)) return -1;
  word.remove_prefix(prefix.size());
  if (word.starts_with('=')) word.remove_prefix(1);
  if (word.empty() || word.size() > 6) return -1;
  int n = 0;
  for (char c : word) {
    if (c < '0' || c > '9') return -1;
    n = 10 * n + (c - '0');
  }
  return n;
}
bool is_schedule(std::string_view w) {
  return w == "1f1b" || w == "gpipe" || w == "interleaved-1f1b" || w == "zb-h1" || w == "zbh1";
}
}  // namespace

LayoutInfo parse_layout_label(std::string_view label) {
  LayoutInfo info;
  std::string lower(label);
  for (char& c : lower)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  size_t i = 0;
  while (i < lower.size()) {
    const size_t j = lower.find_first_of(" ,:()x", i);
    const std::string_view w =
        std::string_view(lower).substr(i, (j == std::string::npos ? lower.size() : j) - i);
    i = j == std::string::npos ? lower.size() : j + 1;
    if (w.empty()) continue;
    int* fields[]                    = {&info.dp, &info.tp, &info.pp, &info.sp, &info.m, &info.v};
    constexpr std::string_view pre[] = {"dp", "tp", "pp", "sp", "m", "v"};
    for (int k = 0; k < 6; ++k)
      if (const int n = number_after(w, pre[k]); n >= 1) *fields[k] = n, info.known = true;
    if (is_schedule(w)) info.schedule = std::string(w), info.known = true;
    if (w == "placement") info.placement = info.known = true;
  }
  if (info.placement) info.m = 1;
  return info;
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
