#include <cmath>

#include "paraxis/kernels/cross_entropy.h"

namespace paraxis::ref {

template <class T>
double cross_entropy_forward_backward(T* dlogits, const T* logits, const int32_t* labels, int64_t n,
                                      int64_t k, T grad_scale) {
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    const T* row = logits + i * k;
    double mx    = row[0];
    for (int64_t j = 1; j < k; ++j) mx = row[j] > mx ? row[j] : mx;
    double sum = 0;
    for (int64_t j = 0; j < k; ++j) sum += std::exp(row[j] - mx);
    total += std::log(sum) + mx - row[labels[i]];
    for (int64_t j = 0; j < k; ++j) {
      double p           = std::exp(row[j] - mx) / sum;
      dlogits[i * k + j] = static_cast<T>((p - (j == labels[i] ? 1.0 : 0.0)) * grad_scale / n);
    }
  }
  return n > 0 ? total / n : 0.0;
}

template double cross_entropy_forward_backward<float>(float*, const float*, const int32_t*, int64_t, int64_t,
                                                      float);
template double cross_entropy_forward_backward<double>(double*, const double*, const int32_t*, int64_t,
                                                       int64_t, double);

}  // namespace paraxis::ref
