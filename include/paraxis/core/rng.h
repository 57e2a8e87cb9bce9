// paraxis/core/rng.h — counter-based random numbers (Philox4x32-10, Salmon et al. 2011).
//
//   Philox rng(seed, stream);                 // stream separates uses: one per parameter, dropout call, ...
//   float u = rng.uniform(i);                 // the i-th number of the stream, in [0, 1); no state
//   rng_fill_uniform(w, -b, b, rng);          // element j gets uniform(j)
//   rng_fill_uniform(shard, -b, b, rng, full_shape, /*dim=*/0, /*begin=*/512);
//                                             // the shard equals rows 512.. of the full initialisation
//
// Because number i depends only on (seed, stream, i), a tensor-parallel shard initialises itself as exactly
// the slice of the full tensor without materialising it, and a data position can be resumed without
// replaying.
#pragma once

#include <cstdint>
#include <string_view>

#include "paraxis/core/tensor.h"

namespace paraxis {

class Philox {
 public:
  Philox(uint64_t seed, uint64_t stream) : seed_(seed), stream_(stream) {}
  // Four 32-bit words for counter block c.
  void block(uint64_t c, uint32_t out[4]) const;
  uint32_t u32(uint64_t i) const;
  float uniform(uint64_t i) const;  // [0, 1), 24 random bits
  float normal(uint64_t i) const;   // standard normal (Box-Muller over words 2i, 2i+1's block)
  uint64_t seed() const { return seed_; }
  uint64_t stream() const { return stream_; }

 private:
  uint64_t seed_, stream_;
};

// A stable 64-bit stream id from a name ("blocks.0.attn.qkv.weight"), so initialisation does not depend on
// the order in which layers are built. FNV-1a.
uint64_t stream_id(std::string_view name);

// Fill t (or, with full_shape/dim/begin, the slice [begin, begin + t.dim(dim)) along dim of a tensor of
// full_shape) so that element at full-tensor flat index j gets draw j.
void rng_fill_uniform(Tensor& t, float lo, float hi, const Philox& rng);
void rng_fill_uniform(Tensor& t, float lo, float hi, const Philox& rng, const Shape& full_shape, int dim,
                      int64_t begin);
void rng_fill_normal(Tensor& t, float mean, float stddev, const Philox& rng);
void rng_fill_normal(Tensor& t, float mean, float stddev, const Philox& rng, const Shape& full_shape, int dim,
                     int64_t begin);

}  // namespace paraxis
