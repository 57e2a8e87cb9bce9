#include "core/big_blocks.h"

#include <cstdlib>
#include <map>
#include <mutex>

namespace paraxis::core_detail {

namespace {

struct Cache {
  std::mutex mu;
  std::multimap<size_t, void*> free_blocks;  // by size
  size_t bytes = 0;
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: tensors may be freed during static destruction
  return *c;
}

}  // namespace

size_t big_block_size(size_t bytes) {
  return (bytes + kBigBlockGranule - 1) / kBigBlockGranule * kBigBlockGranule;
}

void* take_big_block(size_t bytes) {
  const size_t size = big_block_size(bytes);
  Cache& c          = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free_blocks.find(size);
    if (it != c.free_blocks.end()) {
      void* p = it->second;
      c.free_blocks.erase(it);
      c.bytes -= size;
      return p;
    }
  }
  return std::aligned_alloc(64, size);
}

void give_big_block(void* p, size_t bytes) {
  const size_t size = big_block_size(bytes);
  Cache& c          = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  // Full: free the largest kept blocks first (they are the least likely to be asked for again) until this one
  // fits; a block larger than the whole cache is freed.
  while (c.bytes + size > kBigBlockCacheBytes && !c.free_blocks.empty()) {
    auto last = std::prev(c.free_blocks.end());
    std::free(last->second);
    c.bytes -= last->first;
    c.free_blocks.erase(last);
  }
  if (c.bytes + size > kBigBlockCacheBytes) {
    std::free(p);
    return;
  }
  c.free_blocks.emplace(size, p);
  c.bytes += size;
}

size_t cached_big_block_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.bytes;
}

}  // namespace paraxis::core_detail
