#include <vector>

#include "paraxis/kernels/matmul.h"

namespace paraxis::ref {

void matmul(float* c, const float* a, const float* b, int64_t m, int64_t n, int64_t k, bool trans_a,
            bool trans_b, float beta, int64_t batch) {
  for (int64_t bi = 0; bi < batch; ++bi) {
    const float* A = a + bi * m * k;
    const float* B = b + bi * k * n;
    float* C       = c + bi * m * n;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0.0;
        for (int64_t p = 0; p < k; ++p) {
          float av = trans_a ? A[p * m + i] : A[i * k + p];
          float bv = trans_b ? B[j * k + p] : B[p * n + j];
          acc += static_cast<double>(av) * bv;
        }
        C[i * n + j] =
            static_cast<float>(acc + (beta != 0.0f ? static_cast<double>(beta) * C[i * n + j] : 0.0));
      }
  }
}

}  // namespace paraxis::ref
