// bf16 matrix products (precision.h): the fp32 operands rounded to bf16 into per-thread buffers, one oneDNN
// matmul with bf16 inputs and an fp32 output (fp32 accumulation), primitives cached per thread and shape.
#pragma once

#include <cstdint>

namespace paraxis::bf16 {

// As paraxis::matmul (matmul.h), with a and b rounded to bf16. a16 / b16, when given, are a / b already
// rounded (to_bf16), read instead of rounding a / b again.
void matmul(float* c, const float* a, const float* b, int64_t m, int64_t n, int64_t k, bool trans_a,
            bool trans_b, float beta, int64_t batch, const uint16_t* a16 = nullptr,
            const uint16_t* b16 = nullptr);
// y (N, out) = x (N, in) · w (out, in)^T + bias, the bias (fp32) fused; w16: w already rounded, or null.
void matmul_bias(float* y, const float* x, const float* w, const float* bias, int64_t n, int64_t in,
                 int64_t out, const uint16_t* w16 = nullptr);

}  // namespace paraxis::bf16
