#include "paraxis/pipeline/generators.h"

#include <algorithm>

#include "paraxis/core/error.h"

namespace paraxis::pipeline {

namespace {

constexpr int64_t kMaxComputeActions = 4'000'000;  // keeps a mistyped --microbatches from eating the memory

Action fwd(int stage, int mb) {
  return {stage, ActionKind::kForward, mb};
}
Action bwd(int stage, int mb) {
  return {stage, ActionKind::kFullBackward, mb};
}
Action bwd_input(int stage, int mb) {
  return {stage, ActionKind::kBackwardInput, mb};
}
Action bwd_weight(int stage, int mb) {
  return {stage, ActionKind::kBackwardWeight, mb};
}

int round_up(int x, int multiple) {
  return (x + multiple - 1) / multiple * multiple;
}

}  // namespace

ScheduleKind parse_schedule_kind(std::string_view name) {
  for (ScheduleKind k :
       {ScheduleKind::kGPipe, ScheduleKind::k1F1B, ScheduleKind::kInterleaved1F1B, ScheduleKind::kZBH1})
    if (name == schedule_kind_name(k)) return k;
  PX_USER_FAIL("--schedule {} is not a known schedule; use gpipe, 1f1b, interleaved-1f1b or zb-h1", name);
}

const char* schedule_kind_name(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::kGPipe:
      return "gpipe";
    case ScheduleKind::k1F1B:
      return "1f1b";
    case ScheduleKind::kInterleaved1F1B:
      return "interleaved-1f1b";
    case ScheduleKind::kZBH1:
      return "zb-h1";
  }
  return "?";
}

void check_schedule_spec(const ScheduleSpec& spec) {
  const int p = spec.pp, m = spec.microbatches, v = spec.virtual_stages;
  PX_USER_CHECK(p >= 1, "--pp {}: a pipeline needs at least one device; use --pp 1 or more (e.g. --pp 2)", p);
  PX_USER_CHECK(m >= 1,
                "--microbatches {}: a step needs at least one micro-batch; use --microbatches {} or more", m,
                p);
  PX_USER_CHECK(v >= 1, "--virtual {}: each device holds at least one model chunk; use --virtual 1 or more",
                v);
  const bool interleaved = spec.kind == ScheduleKind::kInterleaved1F1B;
  PX_USER_CHECK(
      v == 1 || interleaved,
      "--virtual {} needs the interleaved schedule; use --schedule interleaved-1f1b, or --virtual 1 "
      "with --schedule {}",
      v, schedule_kind_name(spec.kind));
  PX_USER_CHECK(v == 1 || p >= 2,
                "--virtual {} with --pp 1: interleaving needs at least two devices; use --pp 2 or more, or "
                "--virtual 1",
                v);
  if (interleaved && v > 1)
    PX_USER_CHECK(
        m % p == 0,
        "--microbatches {} is not a multiple of --pp {} (interleaved 1F1B runs micro-batches in groups "
        "of p); use --microbatches {}",
        m, p, round_up(m, p));
  PX_USER_CHECK(int64_t{p} * v * m * 3 <= kMaxComputeActions,
                "--pp {} --virtual {} --microbatches {} makes more than {} actions; use fewer micro-batches",
                p, v, m, kMaxComputeActions);
}

Schedule generate_schedule(const ScheduleSpec& spec) {
  check_schedule_spec(spec);
  switch (spec.kind) {
    case ScheduleKind::kGPipe:
      return generate_gpipe(spec.pp, spec.microbatches);
    case ScheduleKind::k1F1B:
      return generate_1f1b(spec.pp, spec.microbatches);
    case ScheduleKind::kInterleaved1F1B:
      if (spec.virtual_stages == 1) return generate_1f1b(spec.pp, spec.microbatches);
      return generate_interleaved_1f1b(spec.pp, spec.microbatches, spec.virtual_stages);
    case ScheduleKind::kZBH1:
      return generate_zb_h1(spec.pp, spec.microbatches);
  }
  PX_FAIL("unknown schedule kind {}", static_cast<int>(spec.kind));
}

Schedule generate_gpipe(int p, int m) {
  Schedule s = Schedule::empty(p, p, m);
  for (int r = 0; r < p; ++r) {
    for (int k = 0; k < m; ++k) s.actions[r].push_back(fwd(r, k));
    for (int k = 0; k < m; ++k) s.actions[r].push_back(bwd(r, k));
  }
  return s;
}

Schedule generate_1f1b(int p, int m) {
  Schedule s = Schedule::empty(p, p, m);
  for (int r = 0; r < p; ++r) {
    auto& list       = s.actions[r];
    const int warmup = std::min(p - 1 - r, m);  // forwards in flight before the first backward arrives
    for (int k = 0; k < warmup; ++k) list.push_back(fwd(r, k));
    for (int k = 0; k < m - warmup; ++k) {
      list.push_back(fwd(r, warmup + k));
      list.push_back(bwd(r, k));
    }
    for (int k = m - warmup; k < m; ++k) list.push_back(bwd(r, k));
  }
  return s;
}

// Megatron-LM core, schedules.py (forward_backward_pipelining_with_interleaving): the i-th forward of a
// device runs chunk (i mod p*v) / p on micro-batch (i / (p*v)) * p + i mod p; backwards walk the chunks in
// reverse.
Schedule generate_interleaved_1f1b(int p, int m, int v) {
  Schedule s      = Schedule::empty(p, p * v, m);
  const int total = m * v;
  auto microbatch = [&](int i) { return (i / (p * v)) * p + i % p; };
  auto fwd_chunk  = [&](int i) { return (i % (p * v)) / p; };
  for (int d = 0; d < p; ++d) {
    auto& list = s.actions[d];
    // Megatron runs everything as warm-up when m == p; otherwise 2(p-d-1) + (v-1)p forwards.
    const int warmup = m == p ? total : std::min(2 * (p - d - 1) + (v - 1) * p, total);
    auto forward_i   = [&](int i) { return fwd(fwd_chunk(i) * p + d, microbatch(i)); };
    auto backward_i  = [&](int i) { return bwd((v - 1 - fwd_chunk(i)) * p + d, microbatch(i)); };
    for (int i = 0; i < warmup; ++i) list.push_back(forward_i(i));
    for (int i = 0; i < total - warmup; ++i) {
      list.push_back(forward_i(warmup + i));
      list.push_back(backward_i(i));
    }
    for (int i = total - warmup; i < total; ++i) list.push_back(backward_i(i));
  }
  return s;
}

Schedule generate_zb_h1(int p, int m) {
  Schedule s = Schedule::empty(p, p, m);
  for (int r = 0; r < p; ++r) {
    auto& list       = s.actions[r];
    const int warmup = std::min(p - 1 - r, m);
    int next_weight  = 0;
    for (int k = 0; k < warmup; ++k) list.push_back(fwd(r, k));
    for (int k = 0; k < m - warmup; ++k) {
      list.push_back(fwd(r, warmup + k));
      list.push_back(bwd_input(r, k));
      // Stage r holds back r weight passes: they run in the drain, where later stages would otherwise idle.
      if (k >= r) list.push_back(bwd_weight(r, next_weight++));
    }
    for (int k = m - warmup; k < m; ++k) {
      list.push_back(bwd_input(r, k));
      list.push_back(bwd_weight(r, next_weight++));
    }
    while (next_weight < m) list.push_back(bwd_weight(r, next_weight++));
  }
  return s;
}

double theoretical_idle_fraction(const ScheduleSpec& spec) {
  const double p = spec.pp, m = spec.microbatches;
  switch (spec.kind) {
    case ScheduleKind::kGPipe:
    case ScheduleKind::k1F1B:
      return (p - 1) / (m + p - 1);
    case ScheduleKind::kInterleaved1F1B:
      return (p - 1) / (spec.virtual_stages * m + p - 1);
    case ScheduleKind::kZBH1:
      return -1;
  }
  return -1;
}

}  // namespace paraxis::pipeline
