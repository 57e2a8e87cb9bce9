// One trace event for a test, on its kind's default track.
//
//   Event e = ev(Kind::kSend, /*begin=*/0, /*end=*/10, /*peer=*/1, /*seq=*/0);
#pragma once

#include <cstdint>

#include "paraxis/trace/recorder.h"

namespace paraxis::testing {

inline trace::Event ev(trace::Kind kind, int64_t begin, int64_t end, int peer = -1, int seq = -1) {
  trace::Event e;
  e.kind       = kind;
  e.track      = trace::default_track(kind);
  e.t_begin_ns = begin;
  e.t_end_ns   = end;
  e.peer       = static_cast<int16_t>(peer);
  e.seq        = seq;
  return e;
}

}  // namespace paraxis::testing
