// Chrome trace export. NOTE [trace lanes]: Perfetto requires the slices of one thread to nest; communication
// that overlaps without nesting (async sends, bucketed all-reduces in flight together) is spread over extra
// threads of the same device, assigned greedily in begin order.
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <numeric>

#include "paraxis/core/error.h"
#include "paraxis/core/safe_write.h"
#include "paraxis/trace/chrome_trace.h"

namespace paraxis::trace {
namespace {

using nlohmann::json;

constexpr int kComputeExtraTid = 100;  // compute lane k > 0 is tid 100 + k; comm lane k is tid 1 + k

int lane_tid(Track track, int lane) {
  if (track == Track::kCompute) return lane == 0 ? 0 : kComputeExtraTid + lane;
  return 1 + lane;
}

std::string lane_name(Track track, int lane) {
  std::string base = track == Track::kCompute ? "compute" : "comm";
  return lane == 0 ? base : fmt::format("{} {}", base, lane + 1);
}

// Assigns each event of one device a lane on its track so that events within a lane nest (NOTE [trace
// lanes]). Returns tid per event and the number of lanes per track.
std::vector<int> assign_lanes(const std::vector<Event>& events, int lanes_used[2]) {
  std::vector<size_t> order(events.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (events[a].t_begin_ns != events[b].t_begin_ns) return events[a].t_begin_ns < events[b].t_begin_ns;
    return events[a].t_end_ns > events[b].t_end_ns;  // the enclosing slice first
  });
  std::vector<std::vector<int64_t>> open[2];  // per track, per lane: stack of end times
  std::vector<int> tid(events.size());
  for (size_t i : order) {
    const Event& e = events[i];
    auto& lanes    = open[static_cast<int>(e.track)];
    size_t lane    = 0;
    for (;; ++lane) {
      if (lane == lanes.size()) lanes.emplace_back();
      auto& stack = lanes[lane];
      while (!stack.empty() && stack.back() <= e.t_begin_ns) stack.pop_back();
      if (stack.empty() || stack.back() >= e.t_end_ns) {
        stack.push_back(e.t_end_ns);
        break;
      }
    }
    tid[i] = lane_tid(e.track, static_cast<int>(lane));
  }
  lanes_used[0] = static_cast<int>(open[0].size());
  lanes_used[1] = static_cast<int>(open[1].size());
  return tid;
}

std::string event_name(const Event& e) {
  switch (e.kind) {
    case Kind::kForward:
    case Kind::kBackward:
    case Kind::kBackwardInput:
    case Kind::kBackwardWeight:
      // The action's text form: 1F0 = forward of stage 1, micro-batch 0.
      if (e.stage >= 0 && e.microbatch >= 0)
        return fmt::format("{}{}{}", e.stage, kind_name(e.kind), e.microbatch);
      return std::string(kind_name(e.kind));
    case Kind::kSend:
      return fmt::format("SEND → {}{}", e.peer, e.microbatch >= 0 ? fmt::format(" mb{}", e.microbatch) : "");
    case Kind::kRecv:
      return fmt::format("RECV ← {}{}", e.peer, e.microbatch >= 0 ? fmt::format(" mb{}", e.microbatch) : "");
    default:
      if (e.bytes > 0) return fmt::format("{} {:.3g} MB", kind_name(e.kind), e.bytes / 1e6);
      return std::string(kind_name(e.kind));
  }
}

double to_us(int64_t ns, int64_t origin) {
  return static_cast<double>(ns - origin) / 1000.0;
}

// Clock alignment of a trace merged from processes (merge.h): offsets and uncertainty per device, in µs.
json clock_sync_json(const std::vector<ClockSync>& clocks) {
  json offsets  = json::array();
  int64_t worst = 0;
  for (const ClockSync& c : clocks) {
    offsets.push_back({{"device", c.device},
                       {"offset_us", static_cast<double>(c.offset_ns) / 1000.0},
                       {"uncertainty_us", static_cast<double>(c.uncertainty_ns) / 1000.0}});
    worst = std::max(worst, c.uncertainty_ns);
  }
  return {{"method", "ping-pong with device 0; offset at the smallest round trip, uncertainty half of it"},
          {"reference_device", clocks.front().device},
          {"ranks", clocks.size()},
          {"max_uncertainty_us", static_cast<double>(worst) / 1000.0},
          {"offsets", offsets}};
}

// Flow ids: the events' own when set, else the match's index (offset past every explicit id).
struct FlowIds {
  std::vector<std::vector<int64_t>> of_event;  // per device, per event: its flow's id, or -1
  std::vector<int64_t> of_flow;                // per matched flow
};

FlowIds flow_ids(const TraceSet& set, const FlowMatch& match) {
  int64_t next_id = 1;
  for (const auto& dev : set.events)
    for (const Event& e : dev) next_id = std::max(next_id, e.flow_id + 1);
  FlowIds ids;
  ids.of_event.resize(set.events.size());
  for (size_t d = 0; d < set.events.size(); ++d) ids.of_event[d].assign(set.events[d].size(), -1);
  for (const Flow& f : match.flows) {
    int64_t id = set.events[f.src_device][f.src_index].flow_id;
    if (id < 0) id = next_id++;
    ids.of_event[f.src_device][f.src_index] = id;
    ids.of_event[f.dst_device][f.dst_index] = id;
    ids.of_flow.push_back(id);
  }
  return ids;
}

// A device's process name and order, and a named thread per lane of each track (at least one per track).
void add_device_metadata(json& out, int pid, const DeviceInfo& info, const int lanes[2]) {
  out.push_back({{"ph", "M"}, {"name", "process_name"}, {"pid", pid}, {"args", {{"name", info.label()}}}});
  out.push_back({{"ph", "M"}, {"name", "process_sort_index"}, {"pid", pid}, {"args", {{"sort_index", pid}}}});
  for (int track = 0; track < 2; ++track)
    for (int lane = 0; lane < std::max(lanes[track], 1); ++lane) {
      Track t = static_cast<Track>(track);
      int tid = lane_tid(t, lane);
      out.push_back({{"ph", "M"},
                     {"name", "thread_name"},
                     {"pid", pid},
                     {"tid", tid},
                     {"args", {{"name", lane_name(t, lane)}}}});
      out.push_back({{"ph", "M"},
                     {"name", "thread_sort_index"},
                     {"pid", pid},
                     {"tid", tid},
                     {"args", {{"sort_index", tid}}}});
    }
}

// One event as a complete slice ("ph": "X"); its fields that are set go to args.
json slice_json(const Event& e, int pid, int tid, int64_t flow, int64_t origin) {
  json args = json::object();
  if (e.stage >= 0) args["stage"] = e.stage;
  if (e.microbatch >= 0) args["mb"] = e.microbatch;
  if (e.bytes > 0) args["bytes"] = e.bytes;
  if (e.peer >= 0) args["peer"] = e.peer;
  if (e.seq >= 0) args["seq"] = e.seq;
  if (e.action >= 0) args["action"] = e.action;
  if (flow >= 0) args["flow"] = flow;
  args["track"] = e.track == Track::kCompute ? "compute" : "comm";
  return {{"ph", "X"},
          {"name", event_name(e)},
          {"cat", kind_name(e.kind)},
          {"pid", pid},
          {"tid", tid},
          {"ts", to_us(e.t_begin_ns, origin)},
          {"dur", static_cast<double>(e.duration_ns()) / 1000.0},
          {"args", std::move(args)}};
}

// A device's slices in begin order, enclosing first, so that viewers that do not sort still see them nest.
void add_device_slices(json& out, const std::vector<Event>& ev, int pid, const std::vector<int>& tids,
                       const std::vector<int64_t>& flow_of, int64_t origin) {
  std::vector<size_t> order(ev.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (ev[a].t_begin_ns != ev[b].t_begin_ns) return ev[a].t_begin_ns < ev[b].t_begin_ns;
    return ev[a].t_end_ns > ev[b].t_end_ns;
  });
  for (size_t i : order)
    out.push_back(slice_json(ev[i], pid, tids[i], flow_of[i] >= 0 ? flow_of[i] : ev[i].flow_id, origin));
}

// Flow arrows: start inside the SEND slice, end (bp "e": bound to the enclosing slice) inside the RECV
// slice, 1 ns before it ends — when the data has arrived.
void add_flow_arrows(json& out, const TraceSet& set, const FlowMatch& match, const std::vector<int64_t>& ids,
                     const std::vector<std::vector<int>>& tids, int64_t origin) {
  for (size_t k = 0; k < match.flows.size(); ++k) {
    const Flow& f     = match.flows[k];
    const Event& send = set.events[f.src_device][f.src_index];
    const Event& recv = set.events[f.dst_device][f.dst_index];
    int64_t arrive    = std::max(recv.t_begin_ns, recv.t_end_ns - 1);
    out.push_back({{"ph", "s"},
                   {"name", "send→recv"},
                   {"cat", "flow"},
                   {"id", ids[k]},
                   {"pid", f.src_device},
                   {"tid", tids[f.src_device][f.src_index]},
                   {"ts", to_us(send.t_begin_ns, origin)}});
    out.push_back({{"ph", "f"},
                   {"bp", "e"},
                   {"name", "send→recv"},
                   {"cat", "flow"},
                   {"id", ids[k]},
                   {"pid", f.dst_device},
                   {"tid", tids[f.dst_device][f.dst_index]},
                   {"ts", to_us(arrive, origin)}});
  }
}

// otherData.paraxis: what the trace events cannot hold (layout, device coordinates, steps, ...), read back
// by chrome_import.cc.
json paraxis_meta(const TraceSet& set, int64_t origin) {
  json meta = {
      {"format", 1}, {"layout", set.layout}, {"source", set.source}, {"dropped_events", set.dropped_events}};
  if (set.layout_info.known) {
    const LayoutInfo& l = set.layout_info;
    meta["layout_info"] = {{"dp", l.dp},
                           {"tp", l.tp},
                           {"pp", l.pp},
                           {"sp", l.sp},
                           {"m", l.m},
                           {"v", l.v},
                           {"schedule", l.schedule},
                           {"placement", l.placement}};
  }
  if (!set.run.model_json.empty())
    meta["run"] = {{"model", json::parse(set.run.model_json, nullptr, false)},
                   {"batch", set.run.batch},
                   {"optimizer", set.run.optimizer}};
  json devices = json::array();
  for (const DeviceInfo& info : set.devices) {
    json d = {{"device", info.device}, {"dp", info.dp}, {"tp", info.tp}, {"pp", info.pp}};
    if (info.sp >= 0) d["sp"] = info.sp;
    devices.push_back(d);
  }
  meta["devices"] = devices;
  json steps      = json::array();
  for (const Step& s : set.steps) steps.push_back({to_us(s.t_begin_ns, origin), to_us(s.t_end_ns, origin)});
  meta["steps_us"] = steps;
  if (set.one_device_step_ns) meta["one_device_step_ms"] = *set.one_device_step_ns / 1e6;
  if (!set.clocks.empty()) meta["clock_sync"] = clock_sync_json(set.clocks);
  if (!set.layers.empty()) {
    json layers = json::array();
    for (const LayerWork& l : set.layers) layers.push_back({{"name", l.name}, {"work", l.work}});
    meta["layers"] = layers;
  }
  return meta;
}

}  // namespace

json to_chrome_json(const TraceSet& set) {
  PX_CHECK(set.devices.size() == set.events.size(), "trace has {} device descriptions for {} event lists",
           set.devices.size(), set.events.size());
  auto [lo, hi]  = set.span();
  int64_t origin = lo;
  for (const Step& s : set.steps) origin = std::min(origin, s.t_begin_ns);

  const FlowMatch match = match_flows(set);
  const FlowIds flows   = flow_ids(set, match);
  json trace_events     = json::array();
  std::vector<std::vector<int>> tids(set.events.size());
  for (size_t d = 0; d < set.events.size(); ++d) {
    const int pid = static_cast<int>(d);
    int lanes[2]  = {0, 0};
    tids[d]       = assign_lanes(set.events[d], lanes);
    add_device_metadata(trace_events, pid, set.devices[d], lanes);
    add_device_slices(trace_events, set.events[d], pid, tids[d], flows.of_event[d], origin);
  }
  add_flow_arrows(trace_events, set, match, flows.of_flow, tids, origin);
  return {{"displayTimeUnit", "ms"},
          {"otherData", {{"paraxis", paraxis_meta(set, origin)}}},
          {"traceEvents", trace_events}};
}

void write_chrome_trace(const TraceSet& set, const std::string& path) {
  check_output_path("trace file", path, /*allow_stdout=*/true);
  write_output("trace file", path, to_chrome_json(set).dump() + "\n");
}

}  // namespace paraxis::trace
