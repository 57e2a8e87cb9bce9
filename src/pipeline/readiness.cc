#include "paraxis/pipeline/readiness.h"

#include <algorithm>

namespace paraxis::pipeline {

Readiness::Readiness(const Schedule& s)
    : stages_(s.num_stages),
      m_(std::max(1, s.num_microbatches)),
      lowered_(s.is_lowered()),
      stage_device_(s.stage_device) {
  const size_t cells = static_cast<size_t>(stages_) * m_;
  for (auto* v : {&fwd_, &grad_, &weight_, &send_f_, &send_b_, &recv_f_, &recv_b_}) v->assign(cells, kNotYet);
}

double Readiness::backward_input(const Action& a) const {
  const int st = a.stage, k = a.microbatch;
  const double own = fwd_[key(st, k)];
  if (own == kNotYet || st == stages_ - 1) return own;
  const double g = remote(st, st + 1) ? recv_b_[key(st, k)] : grad_[key(st + 1, k)];
  return g == kNotYet ? kNotYet : std::max(own, g);
}

double Readiness::flush_input(int stage) const {
  double t = 0;
  for (int k = 0; k < m_; ++k) {
    if (weight_[key(stage, k)] == kNotYet) return kNotYet;
    t = std::max(t, weight_[key(stage, k)]);
  }
  return t;
}

double Readiness::input_time(const Action& a) const {
  const int st = a.stage, k = a.microbatch;
  switch (a.kind) {
    case ActionKind::kForward:
      if (st == 0) return 0;
      return remote(st - 1, st) ? recv_f_[key(st, k)] : fwd_[key(st - 1, k)];
    case ActionKind::kBackwardInput:
    case ActionKind::kFullBackward:
      return backward_input(a);
    case ActionKind::kBackwardWeight:
      return grad_[key(st, k)];
    case ActionKind::kRecompute:
    case ActionKind::kSendForward:
      return fwd_[key(st, k)];
    case ActionKind::kSendBackward:
      return grad_[key(st, k)];
    case ActionKind::kRecvForward:
      return send_f_[key(st - 1, k)];
    case ActionKind::kRecvBackward:
      return send_b_[key(st + 1, k)];
    case ActionKind::kFlushWeight:
      return flush_input(st);
    default:
      return 0;  // the tail: list order
  }
}

void Readiness::complete(const Action& a, double end, double arrival) {
  if (is_tail(a.kind) || a.kind == ActionKind::kRecompute) return;
  const size_t c = key(a.stage, a.microbatch);
  switch (a.kind) {
    case ActionKind::kForward:
      fwd_[c] = end;
      break;
    case ActionKind::kBackwardInput:
      grad_[c] = end;
      break;
    case ActionKind::kBackwardWeight:
      weight_[c] = end;
      break;
    case ActionKind::kFullBackward:
      grad_[c] = weight_[c] = end;
      break;
    case ActionKind::kSendForward:
      send_f_[c] = arrival == kNotYet ? end : arrival;
      break;
    case ActionKind::kSendBackward:
      send_b_[c] = arrival == kNotYet ? end : arrival;
      break;
    case ActionKind::kRecvForward:
      recv_f_[c] = end;
      break;
    case ActionKind::kRecvBackward:
      recv_b_[c] = end;
      break;
    default:
      break;
  }
}

}  // namespace paraxis::pipeline
