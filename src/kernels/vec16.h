// One AVX-512 vector of 16 floats as a GCC vector type (two AVX2 registers where that is the widest), for the
// kernels whose loops `#pragma omp simd` vectorises badly: rows cut by a mask (GCC split such loops at the
// mask and ran the masked part one float at a time) and horizontal sums (reduced one lane after another).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace paraxis::vec16 {

using v16 = float __attribute__((vector_size(64)));
using i16 = int32_t __attribute__((vector_size(64)));

inline v16 load(const float* p) {
  v16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, v16 v) {
  std::memcpy(p, &v, sizeof v);
}
inline v16 splat(float x) {
  return v16{} + x;
}
// Lane l holds j0 + l: compared with a count it masks the lanes at or past it.
inline v16 lanes_from(float j0) {
  return v16{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15} + j0;
}

// vec::exp (kernels/vec_math.h) on 16 lanes: the same clamp, reduction and polynomial, so the two agree
// to the last bit.
inline v16 exp(v16 x) {
  x                      = x < -87.0f ? splat(-87.0f) : x;
  x                      = x > 88.0f ? splat(88.0f) : x;
  constexpr float kMagic = 12582912.0f;
  v16 n                  = (x * 1.44269504088896341f + kMagic) - kMagic;
  v16 r                  = x - n * 0.693359375f;
  r                      = r - n * -2.12194440e-4f;
  v16 p                  = splat(1.9875691500e-4f);
  p                      = p * r + 1.3981999507e-3f;
  p                      = p * r + 8.3334519073e-3f;
  p                      = p * r + 4.1665795894e-2f;
  p                      = p * r + 1.6666665459e-1f;
  p                      = p * r + 5.0000001201e-1f;
  p                      = p * r * r + r + 1.0f;
  i16 bits               = (__builtin_convertvector(n, i16) + 127) << 23;
  return p * std::bit_cast<v16>(bits);
}

// Horizontal max and sum by halving (four shuffles), not lane by lane.
inline float hmax(v16 v) {
  using v8 = float __attribute__((vector_size(32)));
  using v4 = float __attribute__((vector_size(16)));
  v8 a     = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7);
  v8 b     = __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  a        = a > b ? a : b;
  v4 c = __builtin_shufflevector(a, a, 0, 1, 2, 3), d = __builtin_shufflevector(a, a, 4, 5, 6, 7);
  c       = c > d ? c : d;
  float m = c[0];
  for (int l = 1; l < 4; ++l) m = c[l] > m ? c[l] : m;
  return m;
}
inline float hsum(v16 v) {
  using v8 = float __attribute__((vector_size(32)));
  using v4 = float __attribute__((vector_size(16)));
  v8 a     = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
         __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  v4 c = __builtin_shufflevector(a, a, 0, 1, 2, 3) + __builtin_shufflevector(a, a, 4, 5, 6, 7);
  return (c[0] + c[2]) + (c[1] + c[3]);
}

}  // namespace paraxis::vec16
