// paraxis/trace/merge.h — one trace from many processes (the mpi backend): gather, align clocks, merge.
//
//   trace::Recorder rec(world.rank());   ... train, recording as on the threads backend ...
//   std::optional<trace::TraceSet> set = trace::gather_trace(world, trace::local_trace(rec, coords), layout);
//   if (set) trace::write_chrome_trace(*set, path);                // rank 0 only; see chrome_trace.h
//
// gather_trace is collective over `world` (every rank calls it once, after its last traced step). Rank 0, for
// each rank r in turn: a few ping-pong rounds measure r's clock against its own (NOTE [clock offset]), then r
// sends its events serialised into a flat float buffer (pack_rank_trace). Rank 0 shifts every rank's times
// onto its own clock and returns the merged TraceSet, with the offsets and their uncertainty in
// TraceSet::clocks (written to the file's metadata). The other ranks return nullopt. The transfers are plain
// send/recv on the world communicator, so a rank that fails or never arrives is handled as in training: its
// error aborts the MPI job, and a rank left waiting is named by the comm watchdog (--comm-timeout).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "paraxis/trace/recorder.h"

namespace paraxis {
class Communicator;
}

namespace paraxis::trace {

// What one process recorded: its device's events and step windows on its own clock.
struct RankTrace {
  DeviceInfo info;
  std::vector<Event> events;
  std::vector<Step> steps;
  int64_t dropped = 0;
};
RankTrace local_trace(const Recorder& rec, const DeviceInfo& info);

// Flat float buffer of a RankTrace: every field an exact integer, 16 bits per float (no float bit pattern
// relied on, so any transport that moves floats moves it intact). unpack_rank_trace checks the header and the
// length and throws on a buffer that is not one.
std::vector<float> pack_rank_trace(const RankTrace& t);
RankTrace unpack_rank_trace(std::span<const float> buf);

// One ping-pong round, times in ns: the local clock when the ping left and when the pong came back, and the
// remote clock read in between.
struct ClockSample {
  int64_t t_send_ns   = 0;
  int64_t t_remote_ns = 0;
  int64_t t_recv_ns   = 0;
};
// NOTE [clock offset] (Cristian / NTP): at the round with the smallest round trip, offset = remote −
// (send + recv)/2 and the error is at most half that round trip (the remote read happened somewhere inside
// it). Returns device 0's ClockSync fields: offset (remote minus local) and uncertainty; needs ≥ 1 sample.
ClockSync estimate_offset(std::span<const ClockSample> samples);

// Rank r's events on rank 0's clock: ranks[i] shifted by −clocks[i].offset_ns (clocks[i] describes
// ranks[i]); steps from the first rank that has any; dropped events summed.
TraceSet merge_rank_traces(std::vector<RankTrace> ranks, std::span<const ClockSync> clocks,
                           std::string layout);

struct GatherOptions {
  int rounds         = 8;        // ping-pong rounds per rank (the first also warms the path up)
  int64_t (*clock)() = &now_ns;  // this rank's clock; tests pass a skewed one
  int tag            = 0x7ace;   // message tag of the gather's send/recv
};
std::optional<TraceSet> gather_trace(Communicator& world, const RankTrace& mine, std::string layout,
                                     const GatherOptions& opt = {});

// Largest uncertainty over the clocks (0 when there are none).
int64_t max_clock_uncertainty_ns(const TraceSet& set);

}  // namespace paraxis::trace
