#include "paraxis/trace/chrome_trace.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include "paraxis/core/error.h"
#include "paraxis/trace/analysis.h"
#include "paraxis/trace/synthetic.h"
#include "test_support/paths.h"
#include "test_support/trace_events.h"
#include "test_support/user_error.h"

using namespace paraxis;
using namespace paraxis::trace;
using nlohmann::json;

namespace {

TraceSet one_f_one_b() {
  PipelineShape s;
  s.stages       = 3;
  s.microbatches = 4;
  s.comm_ns      = 1.5e5;
  s.opt_ns       = 2e5;
  return synthetic_pipeline(s);
}

using paraxis::testing::ev;

// Checks the properties Perfetto relies on; returns the number of flows.
int check_schema(const json& doc) {
  EXPECT_TRUE(doc.contains("traceEvents"));
  std::map<std::pair<int, int>, std::vector<std::pair<double, double>>> slices;  // (pid, tid) -> [ts, end]
  std::map<int, std::string> process_names;
  std::map<std::pair<int, int>, std::string> thread_names;
  std::map<int64_t, json> starts, finishes;
  for (const json& e : doc["traceEvents"]) {
    const std::string ph = e.at("ph");
    if (ph == "M" && e["name"] == "process_name") process_names[e["pid"]] = e["args"]["name"];
    if (ph == "M" && e["name"] == "thread_name") thread_names[{e["pid"], e["tid"]}] = e["args"]["name"];
    if (ph == "X") {
      EXPECT_GE(e.at("dur").get<double>(), 0);
      slices[{e.at("pid"), e.at("tid")}].push_back(
          {e.at("ts"), e.at("ts").get<double>() + e.at("dur").get<double>()});
    }
    if (ph == "s") EXPECT_TRUE(starts.emplace(e.at("id"), e).second) << "duplicate flow start " << e["id"];
    if (ph == "f") {
      EXPECT_EQ(e.at("bp"), "e");
      EXPECT_TRUE(finishes.emplace(e.at("id"), e).second) << "duplicate flow end " << e["id"];
    }
  }
  // Slices on one thread nest: sorted by begin (enclosing first), each one ends within the open slice.
  for (auto& [thread, list] : slices) {
    EXPECT_TRUE(thread_names.count(thread)) << "thread without a name: pid " << thread.first;
    std::stable_sort(list.begin(), list.end(), [](auto& a, auto& b) {
      return a.first != b.first ? a.first < b.first : a.second > b.second;
    });
    std::vector<double> open;
    for (auto [b, e] : list) {
      while (!open.empty() && open.back() <= b) open.pop_back();
      EXPECT_TRUE(open.empty() || e <= open.back() + 1e-9)
          << "slice [" << b << ", " << e << "] overlaps its parent on pid " << thread.first << " tid "
          << thread.second;
      open.push_back(e);
    }
  }
  const std::regex label(R"(device \d+ \(dp\d+ tp\d+ pp\d+\))");
  for (auto& [pid, name] : process_names) EXPECT_TRUE(std::regex_match(name, label)) << name;
  // Every flow has both ends, and each end lies inside a slice of its thread.
  EXPECT_EQ(starts.size(), finishes.size());
  for (auto& [id, s] : starts) {
    EXPECT_TRUE(finishes.count(id)) << "flow " << id << " has no end";
    for (const json* end : {&s, finishes.count(id) ? &finishes[id] : &s}) {
      const auto& list = slices[{(*end)["pid"], (*end)["tid"]}];
      const double ts  = (*end)["ts"];
      bool inside =
          std::any_of(list.begin(), list.end(), [&](auto& iv) { return iv.first <= ts && ts <= iv.second; });
      EXPECT_TRUE(inside) << "flow " << id << " end at " << ts << " is outside every slice";
    }
  }
  return static_cast<int>(starts.size());
}

}  // namespace

TEST(ChromeTrace, SchemaPerfettoNeeds) {
  TraceSet set = one_f_one_b();
  json doc     = to_chrome_json(set);
  // 3 stages, 4 micro-batches: 2 boundaries × 4 forward + 4 backward transfers.
  EXPECT_EQ(check_schema(doc), 2 * 4 * 2);
  std::map<std::pair<int, int>, std::string> names;
  for (const json& e : doc["traceEvents"])
    if (e["ph"] == "M" && e["name"] == "thread_name") names[{e["pid"], e["tid"]}] = e["args"]["name"];
  EXPECT_EQ(names[std::make_pair(1, 0)], "compute");
  EXPECT_EQ(names[std::make_pair(1, 1)], "comm");
}

TEST(ChromeTrace, OverlappingTransfersGoToExtraThreads) {
  TraceSet set;
  set.devices = {{0, 0, 0, 0}, {1, 0, 0, 1}};
  set.events  = {
       {ev(Kind::kSend, 0, 10'000, 1), ev(Kind::kSend, 5'000, 15'000, 1), ev(Kind::kForward, 0, 4'000)},
       {ev(Kind::kRecv, 0, 10'000, 0), ev(Kind::kRecv, 5'000, 15'000, 0)}};
  json doc = to_chrome_json(set);
  EXPECT_EQ(check_schema(doc), 2);
  std::set<int> send_tids;
  for (const json& e : doc["traceEvents"])
    if (e["ph"] == "X" && e["cat"] == "SEND") send_tids.insert(e["tid"].get<int>());
  EXPECT_EQ(send_tids, (std::set<int>{1, 2}));
}

TEST(ChromeTrace, RoundTripKeepsEverything) {
  TraceSet set               = one_f_one_b();
  std::filesystem::path path = std::filesystem::temp_directory_path() / "paraxis_roundtrip_trace.json";
  write_chrome_trace(set, path.string());
  TraceSet back = read_chrome_trace(path.string());
  std::filesystem::remove(path);
  ASSERT_EQ(back.num_devices(), set.num_devices());
  EXPECT_EQ(back.layout, set.layout);
  EXPECT_EQ(back.source, "simulated");
  ASSERT_TRUE(back.one_device_step_ns.has_value());
  EXPECT_DOUBLE_EQ(*back.one_device_step_ns, *set.one_device_step_ns);
  auto origin = set.span().first;
  ASSERT_EQ(back.steps.size(), 1u);
  EXPECT_EQ(back.steps[0].t_end_ns - back.steps[0].t_begin_ns,
            set.steps[0].t_end_ns - set.steps[0].t_begin_ns);
  for (int d = 0; d < set.num_devices(); ++d) {
    EXPECT_EQ(back.devices[d].pp, set.devices[d].pp);
    ASSERT_EQ(back.events[d].size(), set.events[d].size());
    // The file lists slices in begin order; compare as multisets of (kind, begin, end, mb).
    auto key = [](const Event& e, int64_t o) {
      return std::make_tuple(static_cast<int>(e.kind), e.t_begin_ns - o, e.t_end_ns - o, e.microbatch,
                             e.stage, e.peer);
    };
    std::vector<decltype(key(Event{}, 0))> a, b;
    for (const Event& e : set.events[d]) a.push_back(key(e, origin));
    for (const Event& e : back.events[d]) b.push_back(key(e, 0));
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    EXPECT_EQ(a, b) << "device " << d;
  }
  EXPECT_EQ(match_flows(back).flows.size(), match_flows(set).flows.size());
  Analysis x = analyze(set), y = analyze(back);
  EXPECT_EQ(x.verdict, y.verdict);
  EXPECT_DOUBLE_EQ(x.bubble, y.bubble);
  EXPECT_EQ(x.critical_path.length_ns, y.critical_path.length_ns);
}

TEST(ChromeTrace, FlowsMatchBySeqThenOrder) {
  TraceSet set;
  set.devices = {{0, 0, 0, 0}, {1, 0, 0, 1}};
  Event s0 = ev(Kind::kSend, 0, 10, 1), s1 = ev(Kind::kSend, 20, 30, 1);
  Event r0 = ev(Kind::kRecv, 0, 12, 0), r1 = ev(Kind::kRecv, 5, 35, 0);
  s0.seq = 7, s1.seq = 8, r0.seq = 8, r1.seq = 7;  // sequence numbers win over time order
  set.events  = {{s0, s1}, {r0, r1}};
  FlowMatch m = match_flows(set);
  ASSERT_EQ(m.flows.size(), 2u);
  for (const Flow& f : m.flows) EXPECT_EQ(set.events[0][f.src_index].seq, set.events[1][f.dst_index].seq);
  set.events[1].pop_back();
  m = match_flows(set);
  EXPECT_EQ(m.flows.size(), 1u);
  EXPECT_EQ(m.unmatched_sends, 1);
}

TEST(ChromeTrace, BadInputIsAUserError) {
  namespace fs       = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "paraxis_bad_traces";
  fs::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {(dir / "missing.json").string(), "no such file"},
      {write("invalid.json", "{\"traceEvents\": [ {"), "is not valid JSON"},
      {write("object.json", "{\"hello\": 1}"), "is not a Chrome trace"},
      {write("empty.json", "{\"traceEvents\": []}"), "has no complete events"},
      {write("nodur.json", "[{\"ph\": \"X\", \"pid\": 0, \"ts\": 1}]"), "without numeric pid, ts and dur"},
  };
  for (auto& [path, message] : cases) {
    try {
      read_chrome_trace(path);
      ADD_FAILURE() << path << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), 2) << path;
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
  fs::remove_all(dir);
}

// Checked in from the fuzz harness (tests/fuzz/regressions/trace): numbers out of range were converted with
// undefined results (UBSan: 1e300 into an int, begin + duration past int64 nanoseconds).
TEST(ChromeTrace, OutOfRangeNumbersAreUserErrors) {
  const std::string dir = paraxis::testing::source_dir() + "/tests/fuzz/regressions/trace/";
  for (const char* name : {"begin-plus-duration-overflows.json", "ts-1e300.json"})
    EXPECT_USER_ERROR(read_chrome_trace(dir + name), name, "µs is out of range");
  EXPECT_USER_ERROR(read_chrome_trace(dir + "stage-1e300.json"), "stage = 1e+300 is out of range", "32767");
  EXPECT_USER_ERROR(read_chrome_trace(dir + "layout-dp-1e300.json"), "dp = 1e+300 is out of range");
}

TEST(Recorder, PreallocatedBufferCountsOverflow) {
  Recorder rec(3, 4);
  EXPECT_EQ(rec.capacity(), 4u);
  const Event* storage = rec.events().data();
  for (int i = 0; i < 6; ++i) {
    auto s = rec.scope(Kind::kForward, 1, i);
  }
  {
    auto s         = rec.scope(Kind::kSend, 1, 0);
    s.event().peer = 2;
  }
  EXPECT_EQ(rec.size(), 4u);
  EXPECT_EQ(rec.dropped(), 3u);
  EXPECT_EQ(rec.events().data(), storage) << "the buffer never moves";
  for (const Event& e : rec.events()) {
    EXPECT_LE(e.t_begin_ns, e.t_end_ns);
    EXPECT_EQ(e.kind, Kind::kForward);
    EXPECT_EQ(e.track, Track::kCompute);
  }
  EXPECT_EQ(rec.events()[2].microbatch, 2);
  rec.clear();
  rec.step_begin();
  {
    auto s          = rec.scope(Kind::kAllReduce);
    s.event().bytes = 64;
  }
  rec.step_end();
  ASSERT_EQ(rec.size(), 1u);
  EXPECT_EQ(rec.events()[0].track, Track::kComm);
  Recorder* recs[]    = {&rec};
  DeviceInfo coords[] = {{3, 1, 0, 1}};
  TraceSet set        = collect(recs, coords, "dp=2");
  EXPECT_EQ(set.devices[0].label(), "device 3 (dp1 tp0 pp1)");
  ASSERT_EQ(set.steps.size(), 1u);
  EXPECT_LE(set.steps[0].t_begin_ns, set.events[0][0].t_begin_ns);
  EXPECT_EQ(kind_from_name("REDUCE_SCATTER"), Kind::kReduceScatter);
  EXPECT_FALSE(kind_from_name("NOPE").has_value());
}
