#include <cmath>
#include <vector>

#include "paraxis/kernels/attention.h"

namespace paraxis::ref {

template <class T>
void attention_forward(T* out, T* q, T* k, T* v, T* probs, const T* qkv, int64_t b, int64_t t, int64_t c,
                       int64_t nh, bool causal, T* lse) {
  int64_t hd   = c / nh;
  double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t h = 0; h < nh; ++h) {
      int64_t bh = bi * nh + h;
      for (int64_t ti = 0; ti < t; ++ti)
        for (int64_t d = 0; d < hd; ++d) {
          const T* row              = qkv + (bi * t + ti) * 3 * c + h * hd + d;
          q[(bh * t + ti) * hd + d] = row[0];
          k[(bh * t + ti) * hd + d] = row[c];
          v[(bh * t + ti) * hd + d] = row[2 * c];
        }
      const T* Q = q + bh * t * hd;
      const T* K = k + bh * t * hd;
      const T* V = v + bh * t * hd;
      T* P       = probs + bh * t * t;
      for (int64_t i = 0; i < t; ++i) {
        const int64_t last = causal ? i : t - 1;  // keys 0..last are visible to query i
        std::vector<double> s(last + 1);
        double mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j <= last; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < hd; ++d) dot += static_cast<double>(Q[i * hd + d]) * K[j * hd + d];
          s[j] = dot * scale;
          mx   = s[j] > mx ? s[j] : mx;
        }
        for (int64_t j = 0; j <= last; ++j) sum += std::exp(s[j] - mx);
        if (lse) lse[bh * t + i] = static_cast<T>(mx + std::log(sum));
        for (int64_t j = 0; j < t; ++j)
          P[i * t + j] = j <= last ? static_cast<T>(std::exp(s[j] - mx) / sum) : T(0);
        for (int64_t d = 0; d < hd; ++d) {
          double acc = 0;
          for (int64_t j = 0; j <= last; ++j) acc += static_cast<double>(P[i * t + j]) * V[j * hd + d];
          out[(bi * t + i) * c + h * hd + d] = static_cast<T>(acc);
        }
      }
    }
}

// With P the probabilities and dO the output gradient of one head:
//   dV = P^T dO,  dP = dO V^T,  dS = P * (dP - rowsum(P * dP)) / sqrt(hd),  dQ = dS K,  dK = dS^T Q.
template <class T>
void attention_backward(T* dqkv, const T* dout, const T* q, const T* k, const T* v, const T* probs, int64_t b,
                        int64_t t, int64_t c, int64_t nh, bool causal) {
  int64_t hd   = c / nh;
  double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  std::vector<double> ds(t * t);
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t h = 0; h < nh; ++h) {
      int64_t bh = bi * nh + h;
      const T* Q = q + bh * t * hd;
      const T* K = k + bh * t * hd;
      const T* V = v + bh * t * hd;
      const T* P = probs + bh * t * t;
      auto dO    = [&](int64_t i, int64_t d) {
        return static_cast<double>(dout[(bi * t + i) * c + h * hd + d]);
      };
      for (int64_t i = 0; i < t; ++i) {
        const int64_t last = causal ? i : t - 1;
        std::vector<double> dp(t, 0.0);
        double row = 0;
        for (int64_t j = 0; j <= last; ++j) {
          for (int64_t d = 0; d < hd; ++d) dp[j] += dO(i, d) * V[j * hd + d];
          row += P[i * t + j] * dp[j];
        }
        for (int64_t j = 0; j < t; ++j)
          ds[i * t + j] = j <= last ? P[i * t + j] * (dp[j] - row) * scale : 0.0;
      }
      for (int64_t i = 0; i < t; ++i)
        for (int64_t d = 0; d < hd; ++d) {
          double dq = 0, dk = 0, dv = 0;
          for (int64_t j = 0; j < t; ++j) {
            dq += ds[i * t + j] * K[j * hd + d];
            dk += ds[j * t + i] * Q[j * hd + d];
            dv += P[j * t + i] * dO(j, d);
          }
          T* row     = dqkv + (bi * t + i) * 3 * c + h * hd + d;
          row[0]     = static_cast<T>(dq);
          row[c]     = static_cast<T>(dk);
          row[2 * c] = static_cast<T>(dv);
        }
    }
}

#define PX_INSTANTIATE(T)                                                                                    \
  template void attention_forward<T>(T*, T*, T*, T*, T*, const T*, int64_t, int64_t, int64_t, int64_t, bool, \
                                     T*);                                                                    \
  template void attention_backward<T>(T*, const T*, const T*, const T*, const T*, const T*, int64_t,         \
                                      int64_t, int64_t, int64_t, bool);
PX_INSTANTIATE(float)
PX_INSTANTIATE(double)
#undef PX_INSTANTIATE

}  // namespace paraxis::ref
