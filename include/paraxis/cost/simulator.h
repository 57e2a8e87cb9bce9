// paraxis/cost/simulator.h — discrete-event simulation of one training step over the schedule's actions.
//
//   Schedule s = lower_send_recv(generate_schedule({ScheduleKind::k1F1B, 4, 8}));
//   SimInput in = SimInput::unit(s);               // F 1, B 2, I 1, W 1, free communication
//   SimResult r = simulate(s, in);
//   r.step_time;       // (m + p − 1)(F + B) = 33 for 1F1B p 4, m 8
//   r.bubble;          // (p − 1)/(m + p − 1)
//   trace::write_chrome_trace(r.trace, "predicted.json");   // same format as a measured trace
//
// It prices the step's own action list (pipeline::generate_step): the list the runtime executes, tail
// included. Model: each device has a compute stream and a communication stream. The compute stream runs the
// device's action list in order; an action starts when the stream is free and its inputs are on the device,
// by the rules of pipeline::Readiness (the ones lowering and the dry-run use). A SEND costs the compute
// stream nothing (async): the transfer occupies the sender's communication stream for α + S/β, starting when
// both the data exists and the stream is free (with a rendezvous link, also when the receiver has posted its
// RECV). A RECV blocks the compute stream until its transfer has arrived. REDUCE_GRADb, right after the
// action during which its bucket's last gradient is written, starts at that fraction of the action (as the
// runtime does) and runs on the communication stream, buckets in order, overlapping what follows; GRAD_NORM
// and OPT_STEP wait for every bucket of the device. FLUSH_W (deferred weight gradients) is compute;
// REDUCE_SCATTER and ALL_GATHER (ZeRO-1) block the compute stream. Tensor-parallel collectives are blocking
// and folded into the compute durations by the caller.
// Only one pipeline group is simulated: data- and tensor-parallel replicas run the same actions at the same
// times, so the group's timeline is every replica's.
#pragma once

#include <string>
#include <vector>

#include "paraxis/pipeline/action.h"
#include "paraxis/trace/recorder.h"

namespace paraxis::cost {

struct StageDurations {
  double forward = 1, backward = 2, backward_input = 1, backward_weight = 1;  // per micro-batch, seconds
};

// A communication inside a pass that blocks it (domain parallelism's halo exchanges and layout changes,
// traced as HALO on the compute track, as the runtime traces them): it starts once `after` of the pass's
// compute (a fraction) has run, lasts `time` and moves `bytes`; the pass waits for its last time - hidden.
struct InPassComm {
  double after = 0, time = 0;
  double hidden = 0;  // of time, what runs beside the pass's compute (a conv's halo beside its interior rows)
  int64_t bytes = 0;
  trace::Kind kind = trace::Kind::kHalo;  // HALO, LAYOUT (a layout change) or ALLREDUCE (--sp-fc model's FC)
};

struct SimInput {
  std::vector<StageDurations> stages;  // one per schedule stage (a recompute R costs the stage's forward)
  std::vector<double> send_forward;    // per stage s: transfer time of s's output to stage s+1
  std::vector<double> send_backward;   // per stage s: transfer time of the gradient of s's input to s−1
  std::vector<int64_t> forward_bytes, backward_bytes;  // per stage, for the trace (optional)
  bool rendezvous = false;                             // a transfer waits for the receiver to post its RECV
  // The sender waits for its transfer to end before its next action (Megatron-LM's p2p_communication: the
  // requests waited on, then a device synchronize), instead of the transfer overlapping its compute.
  bool blocking_sends = false;
  // Per stage s (empty: none): what the receiver of s's output (forward) or input gradient (backward) spends
  // re-assembling it after the transfer (Megatron-LM's scatter-gather: each tp rank sends 1/tp, the receiver
  // all-gathers over its node).
  std::vector<double> gather_forward, gather_backward;
  // Per device d and bucket b (the list's REDUCE_GRADb): the all-reduce time, the fraction of the action
  // before it (during which the bucket's last gradient is written) after which it starts, bytes (trace).
  std::vector<std::vector<double>> bucket_time, bucket_ready;
  std::vector<std::vector<int64_t>> bucket_bytes;
  // The buckets' collectives run on a helper thread sharing the device's core: while one overlaps the
  // device's compute, both progress at half speed (the work of each is kept; the compute ends later by the
  // overlap).
  bool buckets_share_core = false;
  std::vector<double> flush;  // per stage: its FLUSH_W (deferred weight gradients); empty: none
  // Per stage (empty: none): the exchanges inside its forward (and recompute) and inside its backward (B or
  // I); their times are part of the stage's durations above.
  std::vector<std::vector<InPassComm>> forward_comm, backward_comm;
  // Per stage (empty: none): collectives that run once per step, inside the stage's last B or W of the step
  // on its device, where its gradients become final (--sp-fc model: each conv block's gradients summed over
  // sp), blocking it. Not in the durations above: they lengthen that one action. `after` is the fraction of
  // the action's weight passes before each (the input passes of a B come first).
  std::vector<std::vector<InPassComm>> final_comm;
  // Per device (empty: free): GRAD_NORM (the clipping pass over the gradients and the norm's all-reduces),
  // OPT_STEP (the update), REDUCE_SCATTER and ALL_GATHER (ZeRO-1).
  std::vector<double> grad_norm, opt_step, reduce_scatter, all_gather;
  std::vector<int64_t> zero_bytes;         // per device: the gradient ZeRO-1 reduce-scatters (trace)
  bool measure_overlap = false;            // fill SimResult::overlap
  double time_unit_ns  = 1e9;              // trace timestamps: seconds → ns (1 for unit-time mode)
  std::string layout   = "simulated";      // the trace's layout label
  trace::LayoutInfo layout_info;           // the same, structured (known = false: the label is parsed)
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
  double compute_end = 0;           // when the last compute action (F, B, I, W, R, FLUSH_W) finished
  // Per device (with SimInput::measure_overlap): the fraction of its compute time (passes and optimizer
  // step) during which at least one other device of the group computes too.
  std::vector<double> overlap;
  trace::TraceSet trace;  // source "simulated"
};

// Needs a lowered schedule (pipeline::lower_send_recv, or generate_step) when it has more than one device.
// Throws a runtime error naming the stuck actions if the schedule cannot complete.
SimResult simulate(const pipeline::Schedule& schedule, const SimInput& input, bool record_trace = true);

}  // namespace paraxis::cost
