// paraxis/pipeline/readiness.h — the one answer to "may this action start now, given what has arrived, and
// from when?", shared by lowering (lower.h), the dry-run (dry_run.h), the simulator (cost/simulator.h) and
// the benchmarks' replay of measured passes.
//
//   Readiness ready(schedule);
//   double t = ready.input_time(action);     // kNotYet, or when the data it needs is on its device
//   ready.complete(action, end);             // it finished at `end` (a SEND: its data arrives at `end` too,
//   ready.complete(send, end, arrival);      //  or at `arrival` when the caller models the transfer)
//
// The rules (a stage's neighbours are s−1 and s+1; "local" = on the same device):
//   F of s        s = 0: the batch, at 0; previous stage local, or the list not lowered: F of s−1's end;
//                 else the end of this device's RECV_F of s
//   I, B of s     the later of F of s and: s last: nothing more (the loss); next stage local, or not lowered:
//                 the I/B of s+1; else the end of this device's RECV_B of s
//   W of s        the I of s;  R of s (recompute): the F of s
//   SEND_F of s   the F of s;  SEND_B of s: the I/B of s
//   RECV_F of s   the arrival of SEND_F of s−1;  RECV_B of s: the arrival of SEND_B of s+1
//   FLUSH_W of s  every W/B of s;  the other tail actions: list order only (at once)
// A RECV's own end is when the data is on the device; asynchronous sends never wait for their receiver.
#pragma once

#include <vector>

#include "paraxis/pipeline/action.h"

namespace paraxis::pipeline {

class Readiness {
 public:
  static constexpr double kNotYet = -1;

  explicit Readiness(const Schedule& s);
  double input_time(const Action& a) const;
  void complete(const Action& a, double end, double arrival = kNotYet);

  // The end of the F (and of the I/B) of (stage, micro-batch), kNotYet before.
  double forward_end(int stage, int mb) const { return fwd_[key(stage, mb)]; }
  double grad_end(int stage, int mb) const { return grad_[key(stage, mb)]; }

 private:
  size_t key(int stage, int mb) const { return static_cast<size_t>(stage) * m_ + mb; }
  bool remote(int a, int b) const { return lowered_ && stage_device_[a] != stage_device_[b]; }
  double backward_input(const Action& a) const;
  double flush_input(int stage) const;

  int stages_, m_;
  bool lowered_;
  std::vector<int> stage_device_;
  // Per (stage, mb): end of F, of I/B (input gradient), of W/B (weight gradient), arrival of the SEND_F /
  // SEND_B of that stage, end of the RECV_F / RECV_B of that stage.
  std::vector<double> fwd_, grad_, weight_, send_f_, send_b_, recv_f_, recv_b_;
};

}  // namespace paraxis::pipeline
