// paraxis/kernels/cross_entropy.h — fused, numerically stable softmax + cross-entropy, loss and gradient in
// one pass over the logits.
//
//   double loss = cross_entropy_forward_backward(dlogits, logits, labels, N, K, 1.0f);
//   // loss = mean_n (logsumexp(logits[n]) - logits[n, labels[n]]);
//   // dlogits (N, K) = grad_scale / N * (softmax(logits[n]) - onehot(labels[n]))
//
// Labels must lie in [0, K); softmax_cross_entropy (paraxis/nn/model.h) validates them.
#pragma once

#include <cstdint>

namespace paraxis {

double cross_entropy_forward_backward(float* dlogits, const float* logits, const int32_t* labels, int64_t n,
                                      int64_t k, float grad_scale);

namespace ref {
template <class T>
double cross_entropy_forward_backward(T* dlogits, const T* logits, const int32_t* labels, int64_t n,
                                      int64_t k, T grad_scale);
}  // namespace ref

}  // namespace paraxis
