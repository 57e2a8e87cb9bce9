// What the bf16 tests share: uniform random operands and their bf16-rounded values in float64 (the oracle's
// inputs: products of bf16 values are exact, so a bf16 kernel differs from float64 only by its fp32 sums).
//
//   std::vector<float> a = uniform_floats(n, gen);           // in [-1, 1)
//   std::vector<double> ar = bf16_rounded(a);                 // what a bf16 kernel multiplies
//   MatmulPrecisionScope bf16(Precision::kBf16);              // (precision.h) bf16 for the test's scope
#pragma once

#include <random>
#include <vector>

#include "paraxis/kernels/precision.h"

namespace paraxis::testing {

inline std::vector<float> uniform_floats(size_t n, std::mt19937& gen) {
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> v(n);
  for (auto& x : v) x = d(gen);
  return v;
}

inline std::vector<double> bf16_rounded(const std::vector<float>& v) {
  std::vector<uint16_t> bits(v.size());
  to_bf16(bits.data(), v.data(), static_cast<int64_t>(v.size()));
  std::vector<double> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = from_bf16(bits[i]);
  return out;
}

}  // namespace paraxis::testing
