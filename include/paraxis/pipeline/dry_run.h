// paraxis/pipeline/dry_run.h — execute a schedule in simulated time: deadlocks, bubbles, stashed activations.
//
//   DryRunResult r = dry_run(schedule, {.forward = 1, .backward = 2});   // unit time, B = 2F
//   r.makespan; r.busy[d]; r.idle[d]; r.idle_fraction(); r.peak_stash[stage];
//   fmt::print("{}", format_timeline(schedule, r));                       // time x device picture
//
// Each device runs its list in order; an action starts when the device is free and its inputs exist, by the
// rules of pipeline::Readiness (readiness.h): F of stage s waits for F of s-1 (same micro-batch); I/B of s
// for F of s and the I/B of s+1; W for I; in a lowered schedule an input from another device is available
// only once this device's RECV of it has run, and a RECV waits for its SEND (async sends: a SEND never
// waits). Transfers cost `send`/`recv` time
//   (0 by default: the ideal model of the closed forms). If no device can start its next action, the schedule
//   deadlocks: a user error with the grid and every stuck cell marked.
// Stash = micro-batches whose activations a stage holds: +1 at F, -1 when the backward needs them no more
// (after B, or after W in a split backward: W still reads the stage's input).
#pragma once

#include <string>
#include <vector>

#include "paraxis/pipeline/action.h"

namespace paraxis::pipeline {

struct Durations {
  double forward         = 1;  // F
  double backward        = 2;  // B (full)
  double backward_input  = 1;  // I
  double backward_weight = 1;  // W
  double send            = 0;
  double recv            = 0;
  double reduce_grad     = 0;
  double opt_step        = 0;
  double of(ActionKind kind) const;
};

// Parses "F=1,B=2,I=1,W=1" (any subset; keys F B I W SEND RECV REDUCE_GRAD OPT_STEP); user error otherwise.
Durations parse_durations(const std::string& text);

struct DryRunResult {
  double makespan = 0;
  std::vector<double> busy;                 // per device: time spent in actions
  std::vector<double> idle;                 // per device: makespan - busy (the bubbles)
  std::vector<int> peak_stash;              // per stage: most micro-batches stashed at once
  std::vector<std::vector<double>> start;   // per device, per action
  std::vector<std::vector<double>> finish;  // per device, per action
  // Total idle time over total device time, in [0, 1).
  double idle_fraction() const;
};

DryRunResult dry_run(const Schedule& s, const Durations& durations = {});
// The same with each action's own time: action_durations[d][i] for device d's action i (e.g. measured).
DryRunResult dry_run(const Schedule& s, const std::vector<std::vector<double>>& action_durations);

// One row per time unit (durations rounded to whole units; at most max_rows rows), one column per device; an
// action shows in every row it covers, "." marks idle time.
std::string format_timeline(const Schedule& s, const DryRunResult& r, int max_rows = 400);

// Per device: the most stash bytes it holds at once, when every micro-batch of stage s holds stage_bytes[s]
// from its F until its B (or W). The stages of one device (interleaving) peak at different moments of its
// list, so this is at most Σ_s peak_stash[s] · stage_bytes[s], and below it under interleaving: Megatron-LM's
// interleaved 1F1B holds 2(p−1) + (v−1)p + 1 chunks on device 0, not v times its busiest chunk's peak.
std::vector<double> peak_stash_bytes(const Schedule& s, const std::vector<double>& stage_bytes);

}  // namespace paraxis::pipeline
