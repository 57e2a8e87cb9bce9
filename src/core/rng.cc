#include "paraxis/core/rng.h"

#include <cmath>

#include "paraxis/core/error.h"

namespace paraxis {

namespace {
constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;

inline void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  uint64_t p = static_cast<uint64_t>(a) * b;
  hi         = static_cast<uint32_t>(p >> 32);
  lo         = static_cast<uint32_t>(p);
}

// Maps the flat index of an element of a shard to its flat index in the full tensor.
template <class F>
void for_each_global_index(const Tensor& t, const Shape& full, int dim, int64_t begin, F&& f) {
  PX_CHECK(static_cast<int>(full.size()) == t.ndim(), "shard {} of full shape {}", shape_str(t.shape()),
           shape_str(full));
  PX_CHECK(dim >= 0 && dim < t.ndim() && begin + t.dim(dim) <= full[dim], "shard {} at {} of dim {} of {}",
           shape_str(t.shape()), begin, dim, shape_str(full));
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < dim; ++i) outer *= full[i];
  for (int i = dim + 1; i < t.ndim(); ++i) inner *= full[i];
  int64_t local_d = t.dim(dim), full_d = full[dim];
  int64_t j = 0;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t d = 0; d < local_d; ++d)
      for (int64_t i = 0; i < inner; ++i) f(j++, (o * full_d + begin + d) * inner + i);
}
}  // namespace

void Philox::block(uint64_t c, uint32_t out[4]) const {
  uint32_t x0 = static_cast<uint32_t>(c), x1 = static_cast<uint32_t>(c >> 32);
  uint32_t x2 = static_cast<uint32_t>(stream_), x3 = static_cast<uint32_t>(stream_ >> 32);
  uint32_t k0 = static_cast<uint32_t>(seed_), k1 = static_cast<uint32_t>(seed_ >> 32);
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(kM0, x0, hi0, lo0);
    mulhilo(kM1, x2, hi1, lo1);
    uint32_t n0 = hi1 ^ x1 ^ k0, n1 = lo1, n2 = hi0 ^ x3 ^ k1, n3 = lo0;
    x0 = n0, x1 = n1, x2 = n2, x3 = n3;
    k0 += kW0, k1 += kW1;
  }
  out[0] = x0, out[1] = x1, out[2] = x2, out[3] = x3;
}

uint32_t Philox::u32(uint64_t i) const {
  uint32_t w[4];
  block(i >> 2, w);
  return w[i & 3];
}

float Philox::uniform(uint64_t i) const {
  return static_cast<float>(u32(i) >> 8) * (1.0f / 16777216.0f);
}

float Philox::normal(uint64_t i) const {
  // Draw i uses words 0,1 of block (2^62 + i): independent of the uniform draws of the same stream.
  uint32_t w[4];
  block((uint64_t{1} << 62) + i, w);
  double u1 = (static_cast<double>(w[0]) + 1.0) / 4294967297.0;  // (0, 1]
  double u2 = static_cast<double>(w[1]) / 4294967296.0;
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}

uint64_t stream_id(std::string_view name) {
  uint64_t h = 1469598103934665603ull;
  for (char c : name) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

void rng_fill_uniform(Tensor& t, float lo, float hi, const Philox& rng) {
  float* p = t.data();
  for (int64_t j = 0; j < t.numel(); ++j) p[j] = lo + (hi - lo) * rng.uniform(j);
}
void rng_fill_uniform(Tensor& t, float lo, float hi, const Philox& rng, const Shape& full, int dim,
                      int64_t begin) {
  float* p = t.data();
  for_each_global_index(t, full, dim, begin,
                        [&](int64_t j, int64_t g) { p[j] = lo + (hi - lo) * rng.uniform(g); });
}
void rng_fill_normal(Tensor& t, float mean, float stddev, const Philox& rng) {
  float* p = t.data();
  for (int64_t j = 0; j < t.numel(); ++j) p[j] = mean + stddev * rng.normal(j);
}
void rng_fill_normal(Tensor& t, float mean, float stddev, const Philox& rng, const Shape& full, int dim,
                     int64_t begin) {
  float* p = t.data();
  for_each_global_index(t, full, dim, begin,
                        [&](int64_t j, int64_t g) { p[j] = mean + stddev * rng.normal(g); });
}

}  // namespace paraxis
