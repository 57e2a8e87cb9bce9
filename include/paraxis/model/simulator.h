// paraxis/model/simulator.h — discrete-event simulation of one training step over the schedule's actions.
//
//   Schedule s = lower_send_recv(generate_schedule({ScheduleKind::k1F1B, 4, 8}));
//   SimInput in = SimInput::unit(s);               // F 1, B 2, I 1, W 1, free communication
//   SimResult r = simulate(s, in);
//   r.step_time;       // (m + p − 1)(F + B) = 33 for 1F1B p 4, m 8
//   r.bubble;          // (p − 1)/(m + p − 1)
//   trace::write_chrome_trace(r.trace, "predicted.json");   // same format as a measured trace
//
// Model: each device has a compute stream and a communication stream. The compute stream runs the device's
// action list in order; an F (I, B) starts when the stream is free and its input activation (gradient) is on
// the device — produced locally by the neighbouring stage, or delivered by a RECV. A SEND costs the compute
// stream nothing (async): the transfer occupies the sender's communication stream for α + S/β, starting when
// both the data exists and the stream is free (with a rendezvous link, also when the receiver has posted its
// RECV). A RECV blocks the compute stream until its transfer has arrived. Data-parallel gradient all-reduces
// are buckets on the communication stream: a stage's buckets become ready one by one while its last backward
// (B or W) runs (the last layers' gradients first) and run in order, overlapping the remaining backward; the
// optimizer step starts when compute is done and every bucket has been reduced. Tensor-parallel collectives
// are blocking and folded into the compute durations by the caller. With deferred weight gradients a stage's
// flush (one W per stage, micro-batch −1 in the trace) runs once all of the device's actions are done and
// launches the buckets of its blocks.
// Only one pipeline group is simulated: data- and tensor-parallel replicas run the same actions at the same
// times, so the group's timeline is every replica's.
#pragma once

#include <string>
#include <vector>

#include "paraxis/pipeline/action.h"
#include "paraxis/trace/recorder.h"

namespace paraxis::model {

struct StageDurations {
  double forward = 1, backward = 2, backward_input = 1, backward_weight = 1;  // per micro-batch, seconds
};

struct SimInput {
  std::vector<StageDurations> stages;  // one per schedule stage
  std::vector<double> send_forward;    // per stage s: transfer time of s's output to stage s+1
  std::vector<double> send_backward;   // per stage s: transfer time of the gradient of s's input to s−1
  std::vector<int64_t> forward_bytes, backward_bytes;  // per stage, for the trace (optional)
  bool rendezvous = false;                             // a transfer waits for the receiver to post its RECV
  // Per stage: data-parallel all-reduce time of each gradient bucket, in the order they become ready, and
  // the fraction of the last backward after which each is ready (ascending, in (0, 1]).
  std::vector<std::vector<double>> grad_bucket_time, grad_bucket_ready;
  // The same fractions when the stage's last backward is a weight pass W (split backward schedules); empty:
  // grad_bucket_ready.
  std::vector<std::vector<double>> grad_bucket_ready_w;
  // Deferred weight gradients (Layout::defer_wgrad): per stage, the time of its flush (0: none), run on the
  // device at its REDUCE_GRAD action, or after its last action when the list has none, stages last first.
  // Per stage and bucket: the fraction of that flush after which the bucket is ready (buckets holding a
  // deferred block), or −1: ready during the last backward as above. Empty: no deferral.
  std::vector<double> flush;
  std::vector<std::vector<double>> grad_bucket_ready_flush;
  // The buckets' collectives run on a helper thread sharing the device's core: while one overlaps the
  // device's compute, both progress at half speed (the work of each is kept; the compute ends later by the
  // overlap).
  bool buckets_share_core = false;
  bool measure_overlap    = false;                      // fill SimResult::overlap
  std::vector<std::vector<int64_t>> grad_bucket_bytes;  // for the trace (optional)
  std::vector<double> opt_step;                         // per device; 0: none
  double time_unit_ns = 1e9;               // trace timestamps: seconds → ns (1 for unit-time mode)
  std::string layout  = "simulated";       // the trace's layout label
  std::vector<trace::DeviceInfo> devices;  // grid coordinates for the trace (default: pp = device index)

  // Unit-time mode: every stage F 1, B 2, I 1, W 1, free transfers, no data parallelism.
  static SimInput unit(const pipeline::Schedule& s, StageDurations d = {});
};

struct SimResult {
  double step_time = 0;             // seconds (or units)
  std::vector<double> busy;         // per device: compute-stream time (F, B, I, W, optimizer)
  std::vector<double> comm;         // per device: communication-stream time
  std::vector<double> utilization;  // busy / step_time
  double bubble      = 0;           // 1 − mean utilization
  double compute_end = 0;           // when the last compute action finished (before the optimizer step)
  // Per device (with SimInput::measure_overlap): the fraction of its compute time (passes and optimizer
  // step) during which at least one other device of the group computes too.
  std::vector<double> overlap;
  trace::TraceSet trace;  // source "simulated"
};

// Needs a lowered schedule (pipeline::lower_send_recv) when it has more than one device. Throws a runtime
// error naming the stuck actions if the schedule cannot complete.
SimResult simulate(const pipeline::Schedule& schedule, const SimInput& input, bool record_trace = true);

}  // namespace paraxis::model
