// paraxis/pipeline/trace_kind.h — the trace event kind of a schedule action, shared by the runtime (measured
// traces) and the simulator (predicted traces) so both timelines use the same colours and names.
#pragma once

#include "paraxis/pipeline/action.h"
#include "paraxis/trace/recorder.h"

namespace paraxis::pipeline {

inline trace::Kind trace_kind(ActionKind k) {
  switch (k) {
    case ActionKind::kForward:
      return trace::Kind::kForward;
    case ActionKind::kBackwardInput:
      return trace::Kind::kBackwardInput;
    case ActionKind::kBackwardWeight:
      return trace::Kind::kBackwardWeight;
    case ActionKind::kFullBackward:
      return trace::Kind::kBackward;
    case ActionKind::kSendForward:
    case ActionKind::kSendBackward:
      return trace::Kind::kSend;
    case ActionKind::kRecvForward:
    case ActionKind::kRecvBackward:
      return trace::Kind::kRecv;
    case ActionKind::kReduceGrad:
      return trace::Kind::kAllReduce;
    case ActionKind::kOptStep:
    case ActionKind::kGradNorm:
      return trace::Kind::kOptStep;
    case ActionKind::kFlushWeight:
      return trace::Kind::kBackwardWeight;
    case ActionKind::kReduceScatter:
      return trace::Kind::kReduceScatter;
    case ActionKind::kAllGather:
      return trace::Kind::kAllGather;
    case ActionKind::kRecompute:
      return trace::Kind::kForward;
  }
  return trace::Kind::kOther;
}

}  // namespace paraxis::pipeline
