#include "paraxis/kernels/embedding.h"

#include "paraxis/kernels/matmul.h"

namespace paraxis {

void embedding_forward(float* y, const int32_t* ids, const float* wte, const float* wpe, int64_t b, int64_t t,
                       int64_t c) {
  if (kernel_path() == KernelPath::kRef) return ref::embedding_forward(y, ids, wte, wpe, b, t, c);
#pragma omp parallel for collapse(2) if (b * t * c > (1 << 16)) schedule(static)
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t ti = 0; ti < t; ++ti) {
      const float* tok = wte + static_cast<int64_t>(ids[bi * t + ti]) * c;
      const float* pos = wpe + ti * c;
      float* out       = y + (bi * t + ti) * c;
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) out[j] = tok[j] + pos[j];
    }
}

void embedding_backward_weight(float* dwte, float* dwpe, const float* dy, const int32_t* ids, int64_t b,
                               int64_t t, int64_t c) {
  if (kernel_path() == KernelPath::kRef) return ref::embedding_backward_weight(dwte, dwpe, dy, ids, b, t, c);
  // Sequential on purpose: two positions may carry the same token, so rows of dwte would race.
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t ti = 0; ti < t; ++ti) {
      const float* g = dy + (bi * t + ti) * c;
      float* tok     = dwte + static_cast<int64_t>(ids[bi * t + ti]) * c;
      float* pos     = dwpe + ti * c;
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) {
        tok[j] += g[j];
        pos[j] += g[j];
      }
    }
}

}  // namespace paraxis
