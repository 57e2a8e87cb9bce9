// paraxis/pipeline/generators.h — compute-only action lists per device for the classic schedules.
//
//   ScheduleSpec spec{.kind = parse_schedule_kind("1f1b"), .pp = 4, .microbatches = 8};
//   check_schedule_spec(spec);              // user errors (exit 2) with a valid alternative
//   Schedule s = generate_schedule(spec);   // s.actions[d] = F/B (or F/I/W) actions of device d
//   Schedule placement = generate_schedule({ScheduleKind::kGPipe, 4, 1});   // workload partitioning: m = 1
//
// Letters: p = pp devices, m micro-batches, v model chunks per device (interleaved only). Stage s runs on
// device s % p, so with v chunks device d owns stages d, p + d, ..., (v-1)p + d (Megatron's interleaving).
// The lists hold no SEND/RECV: lower_send_recv (lower.h) inserts them.
#pragma once

#include <string>
#include <string_view>

#include "paraxis/pipeline/action.h"

namespace paraxis::pipeline {

enum class ScheduleKind { kGPipe, k1F1B, kInterleaved1F1B, kZBH1 };

struct ScheduleSpec {
  ScheduleKind kind  = ScheduleKind::k1F1B;
  int pp             = 1;  // p, pipeline devices
  int microbatches   = 1;  // m
  int virtual_stages = 1;  // v, model chunks per device (interleaved-1f1b only)
};

// "gpipe", "1f1b", "interleaved-1f1b", "zb-h1"; anything else is a user error listing these.
ScheduleKind parse_schedule_kind(std::string_view name);
const char* schedule_kind_name(ScheduleKind kind);

// The input rules (each a user error naming a valid value): p >= 1, m >= 1, v >= 1; v > 1 only for
// interleaved-1f1b and only with p >= 2; interleaved with v > 1 needs m a multiple of p.
void check_schedule_spec(const ScheduleSpec& spec);

// Checks the spec, then dispatches. interleaved-1f1b with v = 1 is plain 1F1B (as Megatron dispatches it).
Schedule generate_schedule(const ScheduleSpec& spec);

// All forwards, then all backwards (micro-batch order 0..m-1 both ways, as torch's ScheduleGPipe).
Schedule generate_gpipe(int pp, int microbatches);
// PipeDream-flush: stage r runs min(p-1-r, m) warm-up forwards, then alternates F and B, then drains.
Schedule generate_1f1b(int pp, int microbatches);
// Megatron-LM's interleaved 1F1B (Narayanan et al. 2021), v chunks per device, m a multiple of p.
Schedule generate_interleaved_1f1b(int pp, int microbatches, int virtual_stages);
// ZB-H1 (Qi et al. 2024, "Zero Bubble Pipeline Parallelism"): 1F1B with B split into I and W, where stage r
// defers its W passes by r micro-batches so they fill the drain bubble; same warm-up as 1F1B.
Schedule generate_zb_h1(int pp, int microbatches);

// The closed-form idle fraction of the step in the ideal model (equal stages, no communication cost):
// (p-1)/(m+p-1) for GPipe and 1F1B; interleaving divides the bubble TIME by v, which makes the idle fraction
// (p-1)/(v*m + p-1). ZB-H1 has no closed form here (it depends on the I/W split), returns -1.
double theoretical_idle_fraction(const ScheduleSpec& spec);

}  // namespace paraxis::pipeline
