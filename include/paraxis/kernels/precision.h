// paraxis/kernels/precision.h — the precision of matrix products: fp32, or bf16 inputs with fp32
// accumulation and output (the weights, gradients, optimizer state and every other kernel stay fp32).
//
//   set_matmul_precision(parse_precision("bf16"));   // `paraxis train --precision bf16`, before devices start
//   matmul(c, a, b, m, n, k);                        // a and b rounded to bf16, c accumulated in fp32
//   describe_bf16_support();                         // "native (AVX512_BF16)" or "emulated by oneDNN ..."
//
// bf16 keeps fp32's 8-bit exponent and 7 of its 23 mantissa bits: each input is rounded to nearest-even with
// a relative error ≤ 2^-9, and a product of K terms stays within about K · 2^-8 · Σ|a||b| of the fp32 one.
// The setting is process-wide (every device thread of a run uses the same precision); the reference kernels
// (PARAXIS_KERNELS=ref) always compute in fp32, as the oracle.
#pragma once

#include <cstdint>
#include <string>

namespace paraxis {

enum class Precision { kFp32, kBf16 };

void set_matmul_precision(Precision p);
Precision matmul_precision();

// The precision for a scope (a run), the previous one restored after it.
class MatmulPrecisionScope {
 public:
  explicit MatmulPrecisionScope(Precision p) : previous_(matmul_precision()) { set_matmul_precision(p); }
  ~MatmulPrecisionScope() { set_matmul_precision(previous_); }
  MatmulPrecisionScope(const MatmulPrecisionScope&)            = delete;
  MatmulPrecisionScope& operator=(const MatmulPrecisionScope&) = delete;

 private:
  Precision previous_;
};

// "fp32" or "bf16"; anything else is a user error (exit 2) naming the value and both choices.
Precision parse_precision(const std::string& name);
const char* precision_name(Precision p);

// Whether this CPU computes bf16 products natively (oneDNN's avx512_core_bf16 ISA or above).
bool bf16_native();
// One line for the run's header: how bf16 products run here.
std::string describe_bf16_support();

// Round n floats to bf16 (nearest even; NaN stays NaN), as uint16 bit patterns.
void to_bf16(uint16_t* dst, const float* src, int64_t n);
float from_bf16(uint16_t bits);

}  // namespace paraxis
