// Merging per-process traces (trace/merge.h): the flat float encoding round trip, the clock-offset estimate
// on synthetic timestamps, the merge's shift, and the whole gather over the threads backend with skewed
// clocks. The same gather under mpirun is tests/trace/tests.cmake's mpi_train_trace_np2.
#include "paraxis/trace/merge.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <limits>
#include <mutex>

#include "paraxis/comm/launch.h"
#include "paraxis/core/error.h"
#include "paraxis/trace/analysis.h"
#include "paraxis/trace/chrome_trace.h"
#include "test_support/trace_events.h"

using namespace paraxis;
using namespace paraxis::trace;

namespace {

using paraxis::testing::ev;

void expect_same(const Event& a, const Event& b) {
  EXPECT_EQ(a.t_begin_ns, b.t_begin_ns);
  EXPECT_EQ(a.t_end_ns, b.t_end_ns);
  EXPECT_EQ(a.bytes, b.bytes);
  EXPECT_EQ(a.flow_id, b.flow_id);
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.microbatch, b.microbatch);
  EXPECT_EQ(a.stage, b.stage);
  EXPECT_EQ(a.peer, b.peer);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.track, b.track);
}

RankTrace sample_rank() {
  RankTrace t;
  t.info    = {3, 1, 0, 2};
  t.dropped = 17;
  t.steps   = {{1'700'000'000'123'456'789, 1'700'000'000'223'456'789}, {-5, 7}};
  for (int k = 0; k < kNumKinds; ++k) {
    Event e      = ev(static_cast<Kind>(k), 1'700'000'000'123'456'789 + k, 1'700'000'000'123'999'999 + k);
    e.bytes      = (int64_t{1} << 40) + k;
    e.flow_id    = k % 2 ? -1 : (int64_t{1} << 50) + k;
    e.seq        = k % 3 ? -1 : std::numeric_limits<int32_t>::max() - k;
    e.microbatch = k % 2 ? -1 : std::numeric_limits<int32_t>::min() + k;
    e.stage      = static_cast<int16_t>(k % 4 ? k : -1);
    e.peer       = static_cast<int16_t>(k % 5 ? std::numeric_limits<int16_t>::min() : 32767);
    e.track      = static_cast<Track>(k % 2);  // not always the default track
    t.events.push_back(e);
  }
  t.events.push_back(
      ev(Kind::kOther, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()));
  return t;
}

TEST(TraceMerge, PackRoundTripKeepsEveryField) {
  const RankTrace t            = sample_rank();
  const std::vector<float> buf = pack_rank_trace(t);
  for (float f : buf) ASSERT_TRUE(f >= 0 && f <= 65535 && f == static_cast<float>(static_cast<int>(f)));
  const RankTrace back = unpack_rank_trace(buf);
  EXPECT_EQ(back.info.device, 3);
  EXPECT_EQ(back.info.dp, 1);
  EXPECT_EQ(back.info.tp, 0);
  EXPECT_EQ(back.info.pp, 2);
  EXPECT_EQ(back.dropped, 17);
  ASSERT_EQ(back.steps.size(), t.steps.size());
  for (size_t i = 0; i < t.steps.size(); ++i) {
    EXPECT_EQ(back.steps[i].t_begin_ns, t.steps[i].t_begin_ns);
    EXPECT_EQ(back.steps[i].t_end_ns, t.steps[i].t_end_ns);
  }
  ASSERT_EQ(back.events.size(), t.events.size());
  for (size_t i = 0; i < t.events.size(); ++i) expect_same(back.events[i], t.events[i]);
}

TEST(TraceMerge, PackOfAnEmptyTraceRoundTrips) {
  RankTrace t;
  const RankTrace back = unpack_rank_trace(pack_rank_trace(t));
  EXPECT_TRUE(back.events.empty());
  EXPECT_TRUE(back.steps.empty());
}

TEST(TraceMerge, UnpackRejectsWhatIsNotAPackedTrace) {
  const std::vector<float> good = pack_rank_trace(sample_rank());
  auto rejects                  = [](std::vector<float> buf) { EXPECT_THROW(unpack_rank_trace(buf), Error); };
  rejects({});
  rejects(std::vector<float>(good.begin(), good.end() - 4));  // one word short
  rejects(std::vector<float>(good.begin(), good.end() - 1));  // not whole words
  auto extra = good;
  extra.insert(extra.end(), 4, 0.0f);
  rejects(extra);
  auto magic = good;
  magic[0]   = 1;
  rejects(magic);
  auto fraction = good;
  fraction[50]  = 0.5f;
  rejects(fraction);
  auto big = good;
  big[51]  = 70000;
  rejects(big);
  auto kind = good;
  kind[72]  = 99 << 8;  // event 0's kind/track chunk (header 36 floats, steps 16, word 5 of the event)
  rejects(kind);
}

TEST(TraceMerge, OffsetComesFromTheSmallestRoundTrip) {
  const int64_t theta = 5'000'000'123;  // remote clock − local clock
  // (send, delay out, delay back): the remote reads its clock after `out` ns.
  struct Round {
    int64_t send, out, back;
  };
  const Round rounds[] = {{1000, 900, 50}, {5000, 20, 30}, {9000, 400, 400}, {20000, 7, 300}};
  std::vector<ClockSample> samples;
  for (const Round& r : rounds) samples.push_back({r.send, r.send + r.out + theta, r.send + r.out + r.back});
  const ClockSync c = estimate_offset(samples);
  // Best round: rtt 50, the remote read 20 ns after the send; midpoint at +25 → estimate θ − 5.
  EXPECT_EQ(c.uncertainty_ns, 25);
  EXPECT_EQ(c.offset_ns, theta - 5);
  EXPECT_LE(std::llabs(c.offset_ns - theta), c.uncertainty_ns);
}

TEST(TraceMerge, OffsetErrorIsWithinTheUncertainty) {
  // Negative offsets, odd round trips, asymmetric delays: the bound |estimate − θ| ≤ uncertainty always
  // holds.
  uint64_t state = 42;
  auto next      = [&](int64_t mod) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<int64_t>((state >> 33) % static_cast<uint64_t>(mod));
  };
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t theta = next(2'000'000'000) - 1'000'000'000;
    std::vector<ClockSample> samples;
    for (int k = 0; k < 1 + trial % 8; ++k) {
      const int64_t send = 1'000'000 * k + next(1000), out = next(10'001), back = next(10'001);
      samples.push_back({send, send + out + theta, send + out + back});
    }
    const ClockSync c = estimate_offset(samples);
    EXPECT_LE(std::llabs(c.offset_ns - theta), c.uncertainty_ns) << "trial " << trial;
  }
}

TEST(TraceMerge, OffsetNeedsValidSamples) {
  EXPECT_THROW(estimate_offset({}), Error);
  const ClockSample backwards[] = {{100, 50, 90}};
  EXPECT_THROW(estimate_offset(backwards), Error);
}

TEST(TraceMerge, MergeShiftsEachRankOntoRankZerosClock) {
  RankTrace r0, r1;
  r0.info  = {0, 0, 0, 0};
  r1.info  = {1, 0, 0, 1};
  r0.steps = {{100, 900}};
  r1.steps = {{5100, 5900}};  // ignored: steps come from rank 0
  r0.events.push_back(ev(Kind::kSend, 200, 300, 1, 0));
  r1.events.push_back(ev(Kind::kRecv, 5150, 5320, 0, 0));
  r1.dropped               = 2;
  const ClockSync clocks[] = {{0, 0, 0}, {1, 5000, 12}};
  const TraceSet set       = merge_rank_traces({r0, r1}, clocks, "pp=2");
  ASSERT_EQ(set.num_devices(), 2);
  EXPECT_EQ(set.layout, "pp=2");
  EXPECT_EQ(set.events[1][0].t_begin_ns, 150);
  EXPECT_EQ(set.events[1][0].t_end_ns, 320);
  EXPECT_EQ(set.events[0][0].t_begin_ns, 200);
  ASSERT_EQ(set.steps.size(), 1u);
  EXPECT_EQ(set.steps[0].t_begin_ns, 100);
  EXPECT_EQ(set.dropped_events, 2);
  EXPECT_EQ(set.devices[1].pp, 1);
  EXPECT_EQ(max_clock_uncertainty_ns(set), 12);
  EXPECT_EQ(match_flows(set).flows.size(), 1u);

  // The offsets travel in the file's metadata and come back.
  const nlohmann::json doc = to_chrome_json(set);
  const auto& sync         = doc["otherData"]["paraxis"]["clock_sync"];
  EXPECT_EQ(sync["ranks"], 2);
  EXPECT_DOUBLE_EQ(sync["max_uncertainty_us"].get<double>(), 0.012);
  EXPECT_DOUBLE_EQ(sync["offsets"][1]["offset_us"].get<double>(), 5.0);
  const TraceSet back = from_chrome_json(doc);
  ASSERT_EQ(back.clocks.size(), 2u);
  EXPECT_EQ(back.clocks[1].offset_ns, 5000);
  EXPECT_EQ(back.clocks[1].uncertainty_ns, 12);
}

// Each device thread runs on its own clock: the real one plus a skew of device × 3 s (device 0 is real).
thread_local int64_t t_skew = 0;
int64_t skewed_clock() {
  return now_ns() + t_skew;
}

TEST(TraceMerge, GatherOverThreadsUndoesClockSkew) {
  constexpr int kDevices = 3;
  std::optional<TraceSet> merged;
  int64_t real_begin[kDevices] = {};
  std::mutex mu;
  run_devices(kDevices, {}, [&](Communicator& world) {
    const int r = world.rank();
    t_skew      = r * 3'000'000'000;
    Recorder rec(r);  // no step marks: those read the real clock; the analysis takes the events' span
    const int64_t real = now_ns();
    {
      std::lock_guard<std::mutex> lock(mu);
      real_begin[r] = real;
    }
    rec.record(Kind::kForward, r, 0, real + t_skew, real + t_skew + 1000);
    Event e =
        ev(r == 0 ? Kind::kSend : Kind::kRecv, real + t_skew + 1000, real + t_skew + 2000, r == 0 ? 1 : 0, 0);
    if (r < 2) rec.record(e);
    auto set =
        gather_trace(world, local_trace(rec, {r, 0, 0, r}), "pp=3", {.rounds = 4, .clock = &skewed_clock});
    if (r != 0) EXPECT_FALSE(set.has_value());
    if (set) merged = std::move(set);
  });
  ASSERT_TRUE(merged.has_value());
  ASSERT_EQ(merged->num_devices(), kDevices);
  ASSERT_EQ(merged->clocks.size(), static_cast<size_t>(kDevices));
  for (int d = 1; d < kDevices; ++d) {
    const ClockSync& c = merged->clocks[d];
    EXPECT_EQ(c.device, d);
    EXPECT_LE(std::llabs(c.offset_ns - d * 3'000'000'000), c.uncertainty_ns) << "device " << d;
    // On rank 0's (real) clock, the device's forward begins at its real time, within the bound.
    EXPECT_LE(std::llabs(merged->events[d][0].t_begin_ns - real_begin[d]), c.uncertainty_ns)
        << "device " << d;
  }
  EXPECT_EQ(match_flows(*merged).flows.size(), 1u);
  const Analysis a = analyze(from_chrome_json(to_chrome_json(*merged)));
  EXPECT_EQ(a.num_devices, kDevices);
}

}  // namespace
