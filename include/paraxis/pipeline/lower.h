// paraxis/pipeline/lower.h — insert the SEND/RECV actions a compute-only schedule implies.
//
//   Schedule lowered = lower_send_recv(generate_schedule({ScheduleKind::k1F1B, 2, 4}));
//   // 0: 0F0 0SEND_F0 0F1 0SEND_F1 0RECV_B0 0B0 ...
//   // 1: 1RECV_F0 1F0 1B0 1SEND_B0 1RECV_F1 ...
//
// Execution model the runtime implements (NOTE [async send]): a SEND never waits for its receive (it copies
// into a buffer or posts an isend completed later); a RECV blocks until the matching data has arrived.
// Between two devices, the transfers from one to the other are received in the order they were sent (FIFO per
// ordered device pair; the validator checks it), so a runtime may match them by order or by tag (direction,
// stage, micro-batch).
//
// How it cannot deadlock: lowering replays the compute lists round by round. In each round every device runs
// its next compute action if its inputs have been sent. The pass that produces data for another device is
// followed by its SEND, which creates the matching RECV and queues it on the (sender, receiver) channel; the
// receiver places it (after any earlier RECVs of that channel) just before the pass that consumes the data.
// So in the global order of appends every RECV comes after its SEND, and every SEND after everything earlier
// on its device; by induction over that order every action can complete, given async sends. If no device can
// make progress, the compute order itself is circular and lowering fails with the grid of the stuck cells.
// Why late placement: putting the RECV on the receiver's list at the moment of the send (torch's
// _add_send_recv) makes receivers block on data they do not need yet: 1F1B p 4, m 8 (F 1, B 2) took 45 time
// units instead of 33. Placed late, the lowered dry-run has exactly the compute-only makespan (tested).
// Stages on the same device hand off locally: no transfer. REDUCE_GRAD / OPT_STEP pass through in place.
#pragma once

#include "paraxis/pipeline/action.h"

namespace paraxis::pipeline {

Schedule lower_send_recv(const Schedule& compute_only);

}  // namespace paraxis::pipeline
