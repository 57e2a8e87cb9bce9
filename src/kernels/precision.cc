// The matmul precision setting and the fp32 → bf16 rounding (precision.h).
#include "paraxis/kernels/precision.h"

#include <atomic>
#include <cstring>

#include "kernels/dnnl_util.h"
#include "paraxis/core/error.h"

namespace paraxis {
namespace {
std::atomic<Precision> g_precision{Precision::kFp32};
}  // namespace

void set_matmul_precision(Precision p) {
  g_precision.store(p, std::memory_order_relaxed);
}
Precision matmul_precision() {
  return g_precision.load(std::memory_order_relaxed);
}

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::kFp32;
  if (name == "bf16") return Precision::kBf16;
  throw Error(ErrorKind::kUser, "--precision '" + name +
                                    "' is not a precision: use fp32 (default) or bf16 (bf16 matmul inputs, "
                                    "fp32 accumulation, weights and optimizer state)");
}

const char* precision_name(Precision p) {
  return p == Precision::kBf16 ? "bf16" : "fp32";
}

bool bf16_native() {
  const auto isa  = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto bf16 = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_bf16);
  return (isa & bf16) == bf16;
}

std::string describe_bf16_support() {
  return bf16_native() ? "bf16 products native (AVX512_BF16)"
                       : "bf16 products emulated by oneDNN (this CPU has no AVX512_BF16): expect them slower "
                         "than fp32";
}

void to_bf16(uint16_t* dst, const float* src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &src[i], 4);
    const bool nan         = (bits & 0x7fffffffu) > 0x7f800000u;
    const uint32_t rounded = bits + 0x7fffu + ((bits >> 16) & 1u);  // nearest, ties to even
    dst[i] = nan ? static_cast<uint16_t>((bits >> 16) | 0x40u) : static_cast<uint16_t>(rounded >> 16);
  }
}

float from_bf16(uint16_t bits) {
  const uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &wide, 4);
  return f;
}

}  // namespace paraxis
