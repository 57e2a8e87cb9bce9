// Internal to the PyTorch trace reader (include/paraxis/trace/torch_trace.h): one rank's profile as read from
// its file, before the ranks are aligned and assembled into a TraceSet.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "paraxis/trace/recorder.h"

namespace paraxis::trace::torch {

// One communication call: the c10d:: operator united with its backend's work (gloo:, nccl:, ...). step: the
// ProfilerStep#N whose window holds the call's begin on this rank (-1: none).
struct Call {
  Kind kind        = Kind::kOther;
  int64_t begin_ns = 0, end_ns = 0;
  int step = -1;
};

// One rank's profile on its own clock.
struct RankProfile {
  std::string what;                // how messages name the file: "trace file 'r0.json'"
  int rank = -1, world_size = -1;  // from the file's distributedInfo; -1: not said
  std::string backend;             // "gloo", "nccl", ... ("" when not said)
  std::vector<Event> compute;      // outermost operators, the communication inside them cut out
  std::vector<Call> calls;         // sorted by begin
  std::map<int, Step> steps;       // ProfilerStep#N → its window
};

// torch_read.cc: the profiles in one file: one, or one per process of a merged file (rank = order of first
// appearance). Throws a user error for malformed events and GPU kernel events.
std::vector<RankProfile> read_profiles(const nlohmann::json& doc, const std::string& what);

// The ProfilerStep#N whose window holds t (-1: none).
int step_at(const std::map<int, Step>& steps, int64_t t);

// torch_align.cc: how each rank's clock relates to rank 0's (ranks[i] has rank i): ClockSync per rank, its
// times to be shifted by −offset_ns. Throws a user error when the ranks cannot be aligned.
std::vector<ClockSync> align_clocks(const std::vector<RankProfile>& ranks);

// The calls of a rank keyed by (step, kind, index among the calls of that step and kind): the k-th all-reduce
// of ProfilerStep#5 on one rank is the k-th on every rank, the k-th send of a step the k-th receive.
struct CallKey {
  int step = -1;
  Kind kind;
  int index                              = 0;
  auto operator<=>(const CallKey&) const = default;
};
std::map<CallKey, const Call*> keyed_calls(const RankProfile& p);

// torch_layout.cc: the layout the calls show, each rank's grid coordinates, and the label naming the
// framework ("pytorch (gloo, 2 ranks): gpipe pp2 m4").
struct TorchLayout {
  LayoutInfo info;
  std::vector<DeviceInfo> devices;  // devices[i] describes rank i
  std::string label;
};
TorchLayout infer_layout(const std::vector<RankProfile>& ranks);

}  // namespace paraxis::trace::torch
