#include "paraxis/kernels/cross_entropy.h"

#include <cmath>

#include "kernels/vec_math.h"
#include "paraxis/kernels/matmul.h"

namespace paraxis {

double cross_entropy_forward_backward(float* dlogits, const float* logits, const int32_t* labels, int64_t n,
                                      int64_t k, float grad_scale) {
  if (kernel_path() == KernelPath::kRef)
    return ref::cross_entropy_forward_backward(dlogits, logits, labels, n, k, grad_scale);
  double total = 0;
  float g      = n > 0 ? grad_scale / static_cast<float>(n) : 0.0f;
#pragma omp parallel for reduction(+ : total) if (n * k > (1 << 16)) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float* row = logits + i * k;
    float* drow      = dlogits + i * k;
    float mx         = row[0];
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < k; ++j) mx = row[j] > mx ? row[j] : mx;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < k; ++j) {
      float e = vec::exp(row[j] - mx);  // the gradient buffer holds exp until the sum is known
      drow[j] = e;
      sum += e;
    }
    float scale = g / sum;
#pragma omp simd
    for (int64_t j = 0; j < k; ++j) drow[j] *= scale;
    drow[labels[i]] -= g;
    total += std::log(static_cast<double>(sum)) + mx - row[labels[i]];
  }
  return n > 0 ? total / n : 0.0;
}

}  // namespace paraxis
