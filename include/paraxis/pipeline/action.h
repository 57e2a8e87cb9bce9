// paraxis/pipeline/action.h — the schedule as data: one action list per device, with a text form that
// round-trips (the PyTorch pipelining convention).
//
//   Action a = parse_action("1F0");           // forward of stage 1, micro-batch 0
//   to_string({2, ActionKind::kBackwardInput, 3});   // "2I3"
//   Schedule s = parse_schedule_csv("0F0,0B0\n1F0,1B0\n");   // one row per device
//   std::string csv = format_schedule_csv(s);              // parse_schedule_csv(csv) == s
//
// Text form of one action: `{stage}{KIND}{microbatch}`.
//   F  forward              I  backward-input (dL/dx)    W  backward-weight (dL/dW)    B  full backward (= I
//   + W) SEND_F / RECV_F / SEND_B / RECV_B   point-to-point transfers (inserted by lower_send_recv)
//   The step's tail (docs/architecture.md, "the whole step is a schedule"):
//   REDUCE_GRAD{b}   start the data-parallel all-reduce of gradient bucket b of this device ("REDUCE_GRAD3");
//                    placed right after the backward action during which the bucket's last gradient is
//                    written (the runtime starts it at that moment, so it overlaps the rest of that action);
//                    without a number: every bucket of the device (or, with a stage prefix, of that stage)
//   {s}FLUSH_W       stage s's deferred weight gradients: one GEMM per Linear over all the step's
//   micro-batches REDUCE_SCATTER   ZeRO-1: the gradient reduce-scattered over dp (each device keeps its
//   shard) GRAD_NORM        the global gradient norm (local sum of squares, all-reduced over tp, pp and
//   ZeRO's dp);
//                    before OPT_STEP when it clips, after it otherwise (the fused update computes the
//                    squares)
//   OPT_STEP         the optimizer update (and zeroing); it and GRAD_NORM wait for every REDUCE_GRAD of the
//                    device
//   ALL_GATHER       ZeRO-1: the updated parameter shards all-gathered over dp
//   {s}R{k}          recompute: stage s re-runs its forward of micro-batch k (activations dropped after F)
//
// NOTE [send/recv stage]: the stage number of a transfer is always the LOCAL stage, the one owned by the
// device that executes the action; the peer is implied:
//   sSEND_Fk  the device of stage s sends stage s's output activation of micro-batch k to the device of s+1;
//   sRECV_Fk  the device of stage s receives stage s's input activation of micro-batch k from the device of
//   s-1; sSEND_Bk  the device of stage s sends the gradient w.r.t. stage s's input (made by sIk or sBk) to
//   s-1; sRECV_Bk  the device of stage s receives the gradient w.r.t. stage s's output from the device of
//   s+1.
// So `0SEND_F1` is matched by `1RECV_F1`, and `2SEND_B3` by `1RECV_B3`. The peer device is
// Schedule::stage_device[s +- 1]; transfers between stages on the same device are never emitted (a local
// hand-off). Sends are asynchronous (they never wait for the matching receive), receives block: see
// docs/schedules.md and lower.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace paraxis::pipeline {

enum class ActionKind : uint8_t {
  kForward,         // F
  kBackwardInput,   // I
  kBackwardWeight,  // W
  kFullBackward,    // B
  kSendForward,     // SEND_F
  kRecvForward,     // RECV_F
  kSendBackward,    // SEND_B
  kRecvBackward,    // RECV_B
  kReduceGrad,      // REDUCE_GRAD{bucket}
  kOptStep,         // OPT_STEP
  kFlushWeight,     // {stage}FLUSH_W
  kGradNorm,        // GRAD_NORM
  kReduceScatter,   // REDUCE_SCATTER
  kAllGather,       // ALL_GATHER
  kRecompute,       // {stage}R{microbatch}
};
inline constexpr int kNumActionKinds = 15;

struct Action {
  int stage       = -1;  // -1 for the device-level tail actions (REDUCE_GRAD, GRAD_NORM, OPT_STEP, ...)
  ActionKind kind = ActionKind::kForward;
  int microbatch  = -1;  // -1 for tail actions; REDUCE_GRAD keeps its bucket number here (-1: all)
  bool operator==(const Action&) const = default;
  int bucket() const { return microbatch; }  // REDUCE_GRAD only
};

// F, I, W, B (and R, a forward run again).
bool is_compute(ActionKind kind);
// The step's tail: REDUCE_GRAD, FLUSH_W, REDUCE_SCATTER, GRAD_NORM, OPT_STEP, ALL_GATHER (no micro-batch).
bool is_tail(ActionKind kind);
// SEND_F, RECV_F, SEND_B, RECV_B.
bool is_transfer(ActionKind kind);
// "F", "SEND_B", "REDUCE_GRAD", ...
const char* kind_code(ActionKind kind);

std::string to_string(const Action& action);
// Throws a user error (exit 2) naming the text and the accepted forms.
Action parse_action(std::string_view text);

// Work for one training step: actions[d] runs on device d, in order.
struct Schedule {
  int num_devices      = 0;
  int num_stages       = 0;                  // pp * v
  int num_microbatches = 0;                  // m
  std::vector<int> stage_device;             // stage -> owning device
  std::vector<std::vector<Action>> actions;  // per device
  bool operator==(const Schedule&) const = default;

  // Devices hold p stages, or p*v for interleaved schedules (stage s on device s % p).
  static Schedule empty(int num_devices, int num_stages, int num_microbatches);
  // True when the lists contain SEND/RECV actions (the output of lower_send_recv).
  bool is_lowered() const;
};

// Text form: one line per device, "d: a a a", e.g. "0: 0F0 0F1 0B0 0B1". Lines starting with '#' are
// comments.
std::string format_schedule_text(const Schedule& s);
// CSV form (as torch.distributed.pipelining writes it): one row per device, one action per cell.
std::string format_schedule_csv(const Schedule& s);
// Both parsers infer num_stages and num_microbatches (max index + 1) and stage_device (the device whose list
// first mentions the stage); the validator then checks that nothing contradicts the inference.
Schedule parse_schedule_text(std::string_view text);
Schedule parse_schedule_csv(std::string_view text);

}  // namespace paraxis::pipeline
