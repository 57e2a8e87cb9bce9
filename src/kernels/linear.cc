#include "paraxis/kernels/linear.h"

#include "paraxis/kernels/matmul.h"

namespace paraxis {

void linear_forward(float* y, const float* x, const float* w, const float* b, int64_t n, int64_t in,
                    int64_t out) {
  if (b) {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < out; ++j) y[i * out + j] = b[j];
  }
  matmul(y, x, w, n, out, in, false, true, b ? 1.0f : 0.0f);
}

void linear_backward_input(float* dx, const float* dy, const float* w, int64_t n, int64_t in, int64_t out) {
  matmul(dx, dy, w, n, in, out, false, false, 0.0f);
}

void linear_backward_weight(float* dw, float* db, const float* dy, const float* x, int64_t n, int64_t in,
                            int64_t out) {
  matmul(dw, dy, x, out, in, n, true, false, 1.0f);
  if (db) {
    for (int64_t i = 0; i < n; ++i) {
      const float* row = dy + i * out;
      for (int64_t j = 0; j < out; ++j) db[j] += row[j];
    }
  }
}

}  // namespace paraxis
