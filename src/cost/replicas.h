// The predicted trace of every device. The cost model simulates one pipeline group (pp devices: its list
// and its transfers); the layout's dp·tp replicas of that group run the same timeline, so their events are
// copies placed on the grid (tp fastest, then pp, then dp, as parallel/grid.h numbers devices).
#pragma once

#include "paraxis/trace/recorder.h"

namespace paraxis::cost {

// Above this many devices the trace keeps the simulated group only (its label says so): a 1,024-device
// layout's copies would hold millions of identical events.
inline constexpr int kMaxTracedDevices = 64;

// `group`: the simulated group's trace, device i = pipeline rank i. Returns one device per grid rank: each
// copy's SEND/RECV name their peer in the same replica with a flow id of their own, and the collectives
// of a data-parallel group (the same pipeline rank and tp rank in every dp replica) share a flow id per
// call, so the analysis sees them as one call. Tensor-parallel members compute the same passes at once;
// their in-pass collectives are priced inside the passes, not drawn.
// With sp > 1 (domain parallelism) every member of a spatial group is a replica too; its HALO events share a
// flow id per call with the other members of its group.
trace::TraceSet expand_replicas(trace::TraceSet group, int dp, int tp, int sp = 1);

}  // namespace paraxis::cost
