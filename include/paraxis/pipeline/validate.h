// paraxis/pipeline/validate.h — static checks of a schedule (compute-only or lowered).
//
//   validate_schedule(s);   // throws paraxis::Error (user kind, exit 2) with the rule, and the step x device
//                           // grid with the offending cell marked
//
// Rules:
//   - indices in range; every stage owned by exactly one device (s.stage_device), and only that device runs
//   it;
//   - every (stage, micro-batch) has exactly one F and a backward that is either one B or one I plus one W
//     (a full backward = I + W), never a mix;
//   - on the owning device: F before I/B, I before W;
//   - dependencies between stages on the SAME device: F of stage s after F of stage s-1 (same micro-batch),
//   and
//     the backward of stage s after the backward (I or B) of stage s+1. Across devices the order is a matter
//     of time, checked by dry_run (which reports a deadlock);
//   - lowered schedules: a transfer only between stages on different devices, each SEND_F/SEND_B exactly once
//     after the pass producing its data and each matching RECV exactly once on the peer before the pass
//     consuming it; none for stages that share a device; a transfer pair for every cross-device edge;
//   - REDUCE_GRAD (at most once per stage, on its device, after all its W/B), OPT_STEP (at most once, last).
#pragma once

#include "paraxis/pipeline/action.h"

namespace paraxis::pipeline {

void validate_schedule(const Schedule& s);

}  // namespace paraxis::pipeline
