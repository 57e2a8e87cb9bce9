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

// One stage of the 16 × 16 transpose: rows i and i + K (i & K == 0) swap their off-diagonal K-wide blocks —
// lane l of row i with (l & K) takes lane l - K of row i + K, which takes lane l + K of row i in return.
// The stages K = 8, 4, 2, 1 together transpose the 16 rows (block-recursive transposition).
template <int K>
inline void transpose_stage(v16* r) {
#define PX_LO(l) (((l)&K) ? 16 + (l)-K : (l))
#define PX_HI(l) (((l)&K) ? 16 + (l) : (l) + K)
  for (int i = 0; i < 16; ++i) {
    if (i & K) continue;
    const v16 a = r[i], b = r[i + K];
    r[i] = __builtin_shufflevector(a, b, PX_LO(0), PX_LO(1), PX_LO(2), PX_LO(3), PX_LO(4), PX_LO(5), PX_LO(6),
                                   PX_LO(7), PX_LO(8), PX_LO(9), PX_LO(10), PX_LO(11), PX_LO(12), PX_LO(13),
                                   PX_LO(14), PX_LO(15));
    r[i + K] = __builtin_shufflevector(a, b, PX_HI(0), PX_HI(1), PX_HI(2), PX_HI(3), PX_HI(4), PX_HI(5),
                                       PX_HI(6), PX_HI(7), PX_HI(8), PX_HI(9), PX_HI(10), PX_HI(11),
                                       PX_HI(12), PX_HI(13), PX_HI(14), PX_HI(15));
  }
#undef PX_LO
#undef PX_HI
}
// r[k] (16 rows of 16) becomes column k: r[k][l] = old r[l][k].
inline void transpose(v16* r) {
  transpose_stage<8>(r);
  transpose_stage<4>(r);
  transpose_stage<2>(r);
  transpose_stage<1>(r);
}

}  // namespace paraxis::vec16
