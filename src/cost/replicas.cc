// Copies of the simulated pipeline group for every dp and tp replica (replicas.h).
#include "cost/replicas.h"

#include <fmt/format.h>

#include <utility>

#include "paraxis/parallel/grid.h"

namespace paraxis::cost {
namespace {

// Collectives' flow ids live above every transfer's (the simulator numbers those from 0).
constexpr int64_t kCollectiveFlowBase = int64_t{1} << 48;
constexpr int64_t kHaloFlowBase       = int64_t{2} << 48;

// Device r's events as the copy on rank (d, t, r): peers in the same replica, transfers' flow ids made
// unique per replica, collectives numbered per call within the dp group of (t, r).
std::vector<trace::Event> copy_of(const std::vector<trace::Event>& events, const Grid& g, Coord at,
                                  int64_t replica) {
  std::vector<trace::Event> out = events;
  const int64_t replicas        = int64_t{g.dp} * g.tp * g.sp;
  const int64_t group           = int64_t{at.tp} * g.pp + at.pp;
  const int64_t spatial_group   = (int64_t{at.dp} * g.tp + at.tp) * g.pp + at.pp;  // same dp, tp and pp
  int64_t call = 0, halo = 0;
  for (trace::Event& e : out) {
    if (e.kind == trace::Kind::kSend || e.kind == trace::Kind::kRecv) {
      if (e.peer >= 0) e.peer = static_cast<int16_t>(g.rank({at.dp, at.tp, e.peer, at.sp}));
      if (e.flow_id >= 0) e.flow_id = e.flow_id * replicas + replica;
    } else if (trace::is_collective(e.kind) && e.track == trace::Track::kComm) {
      e.flow_id = kCollectiveFlowBase + (group << 24) + call++;
    } else if (e.track == trace::Track::kCompute && !trace::is_compute(e.kind)) {
      // In-pass exchanges (domain parallelism's halos, layout changes, FC shards' all-reduces): calls of the
      // spatial group, numbered alike on its members.
      e.seq     = static_cast<int32_t>(halo);
      e.flow_id = kHaloFlowBase + (spatial_group << 24) + halo++;
    }
  }
  return out;
}

}  // namespace

trace::TraceSet expand_replicas(trace::TraceSet group, int dp, int tp, int sp) {
  const int pp = group.num_devices(), replicas = dp * tp * sp;
  if (replicas == 1 || replicas * pp > kMaxTracedDevices) {
    if (replicas > 1)
      group.layout += fmt::format(" (one pipeline group of {} drawn; its {} replicas run the same timeline)",
                                  pp, replicas);
    return group;
  }
  const Grid g{dp, tp, pp, sp};
  trace::TraceSet out                        = std::move(group);
  std::vector<std::vector<trace::Event>> one = std::move(out.events);
  out.events.assign(g.size(), {});
  out.devices.assign(g.size(), {});
  for (int rank = 0; rank < g.size(); ++rank) {
    const Coord c     = g.coord(rank);
    out.events[rank]  = copy_of(one[c.pp], g, c, (int64_t{c.dp} * sp + c.sp) * tp + c.tp);
    out.devices[rank] = {rank, c.dp, c.tp, c.pp, sp > 1 ? c.sp : -1};
  }
  return out;
}

}  // namespace paraxis::cost
