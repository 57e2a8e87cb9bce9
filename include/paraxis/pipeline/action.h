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
//   REDUCE_GRAD / OPT_STEP              no micro-batch; an optional stage prefix ("1REDUCE_GRAD"); without it
//                                       the action applies to every stage the device owns.
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
  kReduceGrad,      // REDUCE_GRAD
  kOptStep,         // OPT_STEP
};

struct Action {
  int stage       = -1;  // -1 only for REDUCE_GRAD / OPT_STEP meaning "every stage of this device"
  ActionKind kind = ActionKind::kForward;
  int microbatch  = -1;  // -1 for REDUCE_GRAD / OPT_STEP
  bool operator==(const Action&) const = default;
};

// F, I, W, B.
bool is_compute(ActionKind kind);
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
