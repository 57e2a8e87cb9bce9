// Element-wise reductions over n buffers, shared by the backends so every backend reduces in the same order:
// out[i] = ((in0[i] ∘ in1[i]) ∘ in2[i]) ∘ … (then / n for the average). `out` may alias any input.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "paraxis/comm/communicator.h"

namespace paraxis::comm_detail {

inline void combine_into(float* __restrict acc, const float* __restrict x, int64_t n, ReduceOp op) {
  if (op == ReduceOp::kMax) {
    for (int64_t i = 0; i < n; ++i) acc[i] = std::max(acc[i], x[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) acc[i] += x[i];
  }
}

inline void finish_average(float* data, int64_t n, int members, ReduceOp op) {
  if (op != ReduceOp::kAverage) return;
  const float d = static_cast<float>(members);
  for (int64_t i = 0; i < n; ++i) data[i] /= d;
}

// acc[i] = acc[i] ∘ x[i], for two distinct buffers (so the loop vectorises without alias checks).
inline void combine2(float* __restrict acc, const float* __restrict x, int64_t n, ReduceOp op) {
  if (op == ReduceOp::kMax) {
    for (int64_t i = 0; i < n; ++i) acc[i] = std::max(acc[i], x[i]);
  } else if (op == ReduceOp::kAverage) {
    for (int64_t i = 0; i < n; ++i) acc[i] = (acc[i] + x[i]) / 2.0f;
  } else {
    for (int64_t i = 0; i < n; ++i) acc[i] += x[i];
  }
}

// out (count) ← reduction of ins[0..n) (count each), in rank order.
inline void reduce_buffers(float* out, const float* const* ins, int n, int64_t count, ReduceOp op) {
  if (count <= 0) return;
  if (n == 1) {
    if (out != ins[0]) std::memcpy(out, ins[0], count * sizeof(float));
    return;
  }
  if (n == 2) {
    // a ∘ b with ∘ commutative (also in floating point): accumulate into whichever input `out` is.
    const float* a = ins[0];
    const float* b = ins[1];
    if (out == b) std::swap(a, b);
    if (out != a) std::memcpy(out, a, count * sizeof(float));
    combine2(out, b, count, op);
    return;
  }
  // A cache-resident block accumulates first, so `out` may alias any input.
  constexpr int64_t kBlock = 2048;
  alignas(64) float acc[kBlock];
  for (int64_t b = 0; b < count; b += kBlock) {
    const int64_t m = std::min(kBlock, count - b);
    std::memcpy(acc, ins[0] + b, m * sizeof(float));
    for (int j = 1; j < n; ++j) combine_into(acc, ins[j] + b, m, op == ReduceOp::kMax ? op : ReduceOp::kSum);
    finish_average(acc, m, n, op);
    std::memcpy(out + b, acc, m * sizeof(float));
  }
}

}  // namespace paraxis::comm_detail
