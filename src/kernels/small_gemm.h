// Small in-cache matrix products for the fused kernels (attention's blocks): C (m×n) += A (m×k) · B (k×n),
// A read through strides (a_rs, a_cs) so that Aᵀ needs no copy, B and C row-major with leading dimensions.
// A register tile of 4 rows × 64 columns (16 vector accumulators) reuses each loaded B vector four times and
// keeps C in registers over the whole k loop; column tails run 16 wide, then scalar.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/vec16.h"

namespace paraxis::small_gemm {

using vec16::load;  // 16 floats: one AVX-512 register (two AVX2 registers where that is the widest)
using vec16::store;
using vec16::v16;

// An empty asm that claims to change v in a vector register: the loaded B vector then stays in a register for
// all R rows. Without it GCC folds the load into each of the R FMAs, and the R·NV + R loads per k step (20
// for 4 × 4) outran the load ports: attention's blocks ran at 40–60 GFLOP/s one-thread, 75–85 with it.
inline void keep_in_register(v16& v) {
#if defined(__x86_64__) && defined(__AVX512F__)
  asm("" : "+v"(v));
#else
  (void)v;
#endif
}

// R rows × NV·16 columns of C, accumulated over k in registers; Set: C = A·B (C not read, so the caller
// need not clear it) instead of C += A·B.
template <int R, int NV, bool Set>
inline void tile(float* c, int64_t ldc, const float* a, int64_t a_rs, int64_t a_cs, const float* b,
                 int64_t ldb, int64_t k) {
  v16 acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = Set ? v16{} : load(c + r * ldc + 16 * v);
  for (int64_t p = 0; p < k; ++p) {
    v16 bv[NV];
    for (int v = 0; v < NV; ++v) {
      bv[v] = load(b + p * ldb + 16 * v);
      keep_in_register(bv[v]);
    }
    for (int r = 0; r < R; ++r) {
      float ar = a[r * a_rs + p * a_cs];
      for (int v = 0; v < NV; ++v) acc[r][v] += ar * bv[v];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) store(c + r * ldc + 16 * v, acc[r][v]);
}

// R rows of C, all n columns.
template <int R, bool Set>
inline void rows(float* c, int64_t ldc, const float* a, int64_t a_rs, int64_t a_cs, const float* b,
                 int64_t ldb, int64_t n, int64_t k) {
  int64_t j = 0;
  for (; j + 64 <= n; j += 64) tile<R, 4, Set>(c + j, ldc, a, a_rs, a_cs, b + j, ldb, k);
  for (; j + 16 <= n; j += 16) tile<R, 1, Set>(c + j, ldc, a, a_rs, a_cs, b + j, ldb, k);
  if (Set && j < n)
    for (int r = 0; r < R; ++r) std::memset(c + r * ldc + j, 0, sizeof(float) * (n - j));
  for (int r = 0; r < R; ++r)
    for (int64_t p = 0; p < k; ++p) {
      float ar = a[r * a_rs + p * a_cs];
      for (int64_t jj = j; jj < n; ++jj) c[r * ldc + jj] += ar * b[p * ldb + jj];
    }
}

template <bool Set>
inline void gemm(float* c, int64_t ldc, const float* a, int64_t a_rs, int64_t a_cs, const float* b,
                 int64_t ldb, int64_t m, int64_t n, int64_t k) {
  int64_t i = 0;
  for (; i + 4 <= m; i += 4) rows<4, Set>(c + i * ldc, ldc, a + i * a_rs, a_rs, a_cs, b, ldb, n, k);
  for (; i < m; ++i) rows<1, Set>(c + i * ldc, ldc, a + i * a_rs, a_rs, a_cs, b, ldb, n, k);
}

// C (m×n, ldc) += A (m×k; A(i, p) = a[i*a_rs + p*a_cs]) · B (k×n, ldb). B and C may be strided views (a
// head's columns inside a wider row): only their leading dimensions are read.
inline void gemm_acc(float* c, int64_t ldc, const float* a, int64_t a_rs, int64_t a_cs, const float* b,
                     int64_t ldb, int64_t m, int64_t n, int64_t k) {
  gemm<false>(c, ldc, a, a_rs, a_cs, b, ldb, m, n, k);
}
// C (m×n, ldc) = A · B: C's previous contents are neither read nor need clearing.
inline void gemm_set(float* c, int64_t ldc, const float* a, int64_t a_rs, int64_t a_cs, const float* b,
                     int64_t ldb, int64_t m, int64_t n, int64_t k) {
  gemm<true>(c, ldc, a, a_rs, a_cs, b, ldb, m, n, k);
}

}  // namespace paraxis::small_gemm
