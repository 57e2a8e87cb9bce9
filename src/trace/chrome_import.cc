// Chrome trace import: rebuilds a TraceSet from the JSON written by chrome_export.cc (or by the simulator in
// the same format). Every check is a user error: the file comes from the command line.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <regex>
#include <sstream>

#include "paraxis/core/error.h"
#include "paraxis/trace/chrome_trace.h"
#include "trace/trace_time.h"

namespace paraxis::trace {
namespace {

using nlohmann::json;

// A number where an integer of [lo, hi] belongs (fractions are cut, as before); one outside (a stage of 1e300,
// a pid of 2^64 - 1) is a user error, not a conversion with an undefined result.
int64_t to_int(const json& v, const char* field, const std::string& what, int64_t lo, int64_t hi) {
  bool ok   = false;
  int64_t n = 0;
  if (v.is_number_unsigned()) {
    ok = v.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX);
    n  = ok ? static_cast<int64_t>(v.get<uint64_t>()) : 0;
  } else if (v.is_number_integer()) {
    ok = true;
    n  = v.get<int64_t>();
  } else {
    const double d = v.get<double>();
    ok             = std::isfinite(d) && std::fabs(d) < 9e18;
    n              = ok ? static_cast<int64_t>(d) : 0;
  }
  PX_USER_CHECK(ok && n >= lo && n <= hi, "{}: {} = {} is out of range; it must be an integer in [{}, {}]",
                what, field, v.dump(), lo, hi);
  return n;
}

template <class T>
int64_t to_int(const json& v, const char* field, const std::string& what) {
  return to_int(v, field, what, std::numeric_limits<T>::min(), std::numeric_limits<T>::max());
}

// args[key] when it is a number (a range error as to_int's), else the fallback.
template <class T = int64_t>
int64_t get_int(const json& args, const char* key, int64_t fallback, const std::string& what) {
  auto it = args.find(key);
  return it != args.end() && it->is_number() ? to_int<T>(*it, key, what) : fallback;
}

// obj[key] as an int, the fallback when absent; a value that is not a number is a user error.
int int_value(const json& obj, const char* key, int fallback, const std::string& what) {
  if (!obj.contains(key)) return fallback;
  PX_USER_CHECK(obj[key].is_number(), "{}: {} is {}, not a number", what, key, obj[key].dump());
  return static_cast<int>(to_int<int>(obj[key], key, what));
}

// "device 1 (dp0 tp0 pp1)" -> coordinates; anything else keeps the defaults.
void parse_label(const std::string& label, DeviceInfo& info) {
  static const std::regex re(R"(device\s+(\d+)\s*\(dp(\d+)\s+tp(\d+)\s+pp(\d+)(?:\s+sp(\d+))?\))");
  std::smatch m;
  if (!std::regex_search(label, m, re)) return;
  info.device = std::stoi(m[1]);
  info.dp     = std::stoi(m[2]);
  info.tp     = std::stoi(m[3]);
  info.pp     = std::stoi(m[4]);
  if (m[5].matched) info.sp = std::stoi(m[5]);
}

// otherData.paraxis.clock_sync.offsets (a trace merged from MPI ranks), when present.
std::vector<ClockSync> read_clock_sync(const json& meta, const std::string& what) {
  std::vector<ClockSync> clocks;
  if (!meta.contains("clock_sync") || !meta["clock_sync"].is_object()) return clocks;
  const json& sync = meta["clock_sync"];
  if (!sync.contains("offsets") || !sync["offsets"].is_array()) return clocks;
  for (const json& o : sync["offsets"]) {
    if (!o.is_object()) continue;
    ClockSync c;
    c.device = static_cast<int>(get_int<int>(o, "device", static_cast<int64_t>(clocks.size()), what));
    if (o.contains("offset_us") && o["offset_us"].is_number())
      c.offset_ns = trace_ns(o["offset_us"].get<double>(), "clock_sync offset_us", what);
    if (o.contains("uncertainty_us") && o["uncertainty_us"].is_number())
      c.uncertainty_ns = trace_ns(o["uncertainty_us"].get<double>(), "clock_sync uncertainty_us", what);
    clocks.push_back(c);
  }
  return clocks;
}

// The event list: the document itself (Chrome's "JSON array format") or its "traceEvents".
const json& trace_events(const json& doc, const std::string& what) {
  const json* events = nullptr;
  if (doc.is_array())
    events = &doc;
  else if (doc.is_object() && doc.contains("traceEvents") && doc["traceEvents"].is_array())
    events = &doc["traceEvents"];
  PX_USER_CHECK(events != nullptr,
                "{} is not a Chrome trace: expected an object with a \"traceEvents\" array (or an array of "
                "events); give a file written by `paraxis train --trace FILE`",
                what);
  return *events;
}

// traceEvents[index], a complete event ("ph": "X"), as an Event; its fields beyond time and kind come from
// args, as chrome_export.cc writes them.
Event complete_event(const json& ev, size_t index, const std::string& what) {
  PX_USER_CHECK(ev.contains("pid") && ev["pid"].is_number_integer() && ev.contains("ts") &&
                    ev["ts"].is_number() && ev.contains("dur") && ev["dur"].is_number(),
                "{}: traceEvents[{}] is a complete event (\"ph\": \"X\") without numeric pid, ts and dur",
                what, index);
  double dur = ev["dur"].get<double>();
  PX_USER_CHECK(dur >= 0, "{}: traceEvents[{}] has a negative duration {}", what, index, dur);
  Event e;
  e.t_begin_ns             = trace_ns(ev["ts"].get<double>(), "ts", what);
  e.t_end_ns               = e.t_begin_ns + trace_ns(dur, "dur", what);
  std::optional<Kind> kind = kind_from_name(ev.value("cat", ""));
  e.kind                   = kind.value_or(Kind::kOther);
  const json args          = ev.contains("args") && ev["args"].is_object() ? ev["args"] : json::object();
  e.stage                  = static_cast<int16_t>(get_int<int16_t>(args, "stage", -1, what));
  e.microbatch             = static_cast<int32_t>(get_int<int32_t>(args, "mb", -1, what));
  e.bytes                  = get_int(args, "bytes", 0, what);
  e.peer                   = static_cast<int16_t>(get_int<int16_t>(args, "peer", -1, what));
  e.action                 = static_cast<int32_t>(get_int<int32_t>(args, "action", -1, what));
  e.seq                    = static_cast<int32_t>(get_int<int32_t>(args, "seq", -1, what));
  e.flow_id                = get_int(args, "flow", -1, what);
  std::string track        = args.value("track", "");
  if (track == "compute")
    e.track = Track::kCompute;
  else if (track == "comm")
    e.track = Track::kComm;
  else
    e.track = kind ? default_track(*kind) : Track::kCompute;
  return e;
}

// Pass 1 over the events: complete events per pid, and process names.
struct PidEvents {
  std::map<int64_t, std::vector<Event>> events;
  std::map<int64_t, std::string> names;
};

void read_event(const json& ev, size_t index, const std::string& what, PidEvents& out) {
  std::string ph = ev.value("ph", "");
  if (ph == "M" && ev.value("name", "") == "process_name" && ev.contains("pid") && ev["pid"].is_number()) {
    if (ev.contains("args") && ev["args"].is_object())
      out.names[to_int<int64_t>(ev["pid"], "pid", what)] = ev["args"].value("name", "");
    return;
  }
  if (ph != "X") return;
  Event e = complete_event(ev, index, what);
  out.events[to_int<int>(ev["pid"], "pid", what)].push_back(e);
}

PidEvents read_events(const json& events, const std::string& what) {
  PidEvents out;
  size_t index = 0;
  for (const json& ev : events) {
    ++index;
    PX_USER_CHECK(ev.is_object(), "{}: traceEvents[{}] is not an object", what, index - 1);
    try {
      read_event(ev, index - 1, what, out);
    } catch (const json::exception& e) {  // e.g. "cat": 3 where a string belongs
      PX_USER_FAIL(
          "{}: traceEvents[{}]: a field has the wrong type ({}); fields are as chrome_export writes "
          "them (ph, name, cat: strings; pid, ts, dur: numbers)",
          what, index - 1, e.what());
    }
  }
  PX_USER_CHECK(!out.events.empty(), "{} has no complete events (\"ph\": \"X\"); nothing to analyse", what);
  return out;
}

// otherData.paraxis, or an empty object for a trace from elsewhere.
json paraxis_meta(const json& doc) {
  return doc.is_object() && doc.contains("otherData") && doc["otherData"].is_object() &&
                 doc["otherData"].contains("paraxis") && doc["otherData"]["paraxis"].is_object()
             ? doc["otherData"]["paraxis"]
             : json::object();
}

// The devices, one per pid in increasing order: coordinates from otherData.paraxis.devices, else from the
// process name, else the pid alone.
void add_devices(const json& meta, PidEvents& pids, TraceSet& set, const std::string& what) {
  std::map<int64_t, DeviceInfo> coords;
  if (meta.contains("devices") && meta["devices"].is_array())
    for (size_t i = 0; i < meta["devices"].size(); ++i) {
      const json& d = meta["devices"][i];
      if (!d.is_object()) continue;
      DeviceInfo info{static_cast<int>(get_int<int>(d, "device", static_cast<int64_t>(i), what)),
                      static_cast<int>(get_int<int>(d, "dp", 0, what)),
                      static_cast<int>(get_int<int>(d, "tp", 0, what)),
                      static_cast<int>(get_int<int>(d, "pp", 0, what)),
                      static_cast<int>(get_int<int>(d, "sp", -1, what))};
      coords[static_cast<int64_t>(i)] = info;
    }
  // Devices are the pids in increasing order; peers in the events are device indices, so pids must be 0..n-1
  // for flows to match (the exporter writes them so). Foreign traces keep their events, without flows.
  for (auto& [pid, evs] : pids.events) {
    DeviceInfo info;
    info.device = static_cast<int>(pid);
    if (coords.count(pid))
      info = coords[pid];
    else if (pids.names.count(pid))
      parse_label(pids.names[pid], info);
    set.devices.push_back(info);
    set.events.push_back(std::move(evs));
  }
}

// otherData.paraxis.steps_us: [begin, end] pairs in µs.
std::vector<Step> read_steps(const json& meta, const std::string& what) {
  std::vector<Step> steps;
  if (meta.contains("steps_us") && meta["steps_us"].is_array())
    for (const json& s : meta["steps_us"]) {
      PX_USER_CHECK(s.is_array() && s.size() == 2 && s[0].is_number() && s[1].is_number() &&
                        s[1].get<double>() >= s[0].get<double>(),
                    "{}: otherData.paraxis.steps_us must hold [begin, end] pairs with end >= begin, got {}",
                    what, s.dump());
      steps.push_back(
          {trace_ns(s[0].get<double>(), "steps_us", what), trace_ns(s[1].get<double>(), "steps_us", what)});
    }
  return steps;
}

// otherData.paraxis.layers: the per-layer work for the work–depth view; malformed entries are skipped.
std::vector<LayerWork> read_layers(const json& meta) {
  std::vector<LayerWork> layers;
  if (meta.contains("layers") && meta["layers"].is_array())
    for (const json& l : meta["layers"])
      if (l.is_object() && l.contains("work") && l["work"].is_number())
        layers.push_back({l.value("name", ""), l["work"].get<double>()});
  return layers;
}

// The set from the events and paraxis's metadata (layout, steps, layers, clocks).
TraceSet with_meta(const json& doc, const std::string& what, PidEvents& pids) {
  TraceSet set;
  const json meta = paraxis_meta(doc);
  set.layout      = meta.value("layout", "");
  set.source      = meta.value("source", "measured");
  if (meta.contains("layout_info") && meta["layout_info"].is_object()) {
    const json& l   = meta["layout_info"];
    set.layout_info = {.dp        = int_value(l, "dp", 1, what),
                       .tp        = int_value(l, "tp", 1, what),
                       .pp        = int_value(l, "pp", 1, what),
                       .sp        = int_value(l, "sp", 1, what),
                       .m         = int_value(l, "m", 1, what),
                       .v         = int_value(l, "v", 1, what),
                       .schedule  = l.value("schedule", ""),
                       .placement = l.value("placement", false),
                       .known     = true};
  }
  if (meta.contains("run") && meta["run"].is_object() && meta["run"].contains("model")) {
    const json& r = meta["run"];
    set.run       = {r["model"].dump(), get_int(r, "batch", 0, what), r.value("optimizer", "")};
  }
  add_devices(meta, pids, set, what);
  set.steps = read_steps(meta, what);
  if (meta.contains("one_device_step_ms") && meta["one_device_step_ms"].is_number())
    set.one_device_step_ns = meta["one_device_step_ms"].get<double>() * 1e6;
  set.layers         = read_layers(meta);
  set.dropped_events = get_int(meta, "dropped_events", 0, what);
  set.clocks         = read_clock_sync(meta, what);
  return set;
}

}  // namespace

TraceSet from_chrome_json(const json& doc, const std::string& what) {
  PidEvents pids = read_events(trace_events(doc, what), what);
  try {
    return with_meta(doc, what, pids);
  } catch (const json::exception& e) {  // e.g. "layout_info": {"dp": "2"}
    PX_USER_FAIL("{}: a field of otherData.paraxis has the wrong type ({}); it is as chrome_export writes it",
                 what, e.what());
  }
}

TraceSet read_chrome_trace(const std::string& path) {
  return read_trace_run(std::span(&path, 1));
}

}  // namespace paraxis::trace
