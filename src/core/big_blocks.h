// Reuse of freed tensor blocks too large for glibc's heap (core/tensor.cc's allocator).
//
// glibc serves a block above its largest mmap threshold (32 MiB) with a fresh mmap and unmaps it on free, so
// every step page-faults such activations in again: a 3x512x512 CNN at batch 2 (a 33.5 MB conv output)
// spent ~18% of its step in the kernel's fault path and ran 4-6x slower than at batch 1. Freed blocks of
// at least kBigBlockBytes are kept here (up to kBigBlockCacheBytes in all) and handed to the next request
// of the same rounded size.
#pragma once

#include <cstddef>

namespace paraxis::core_detail {

inline constexpr size_t kBigBlockBytes      = size_t{32} << 20;  // glibc's largest mmap threshold
inline constexpr size_t kBigBlockGranule    = size_t{2} << 20;   // sizes are rounded up to this
inline constexpr size_t kBigBlockCacheBytes = size_t{4} << 30;   // freed blocks kept at most

// The size a big block is allocated and cached at (`bytes` rounded up to kBigBlockGranule).
size_t big_block_size(size_t bytes);

// A 64-byte aligned block of big_block_size(bytes): a cached one of that size, else a new one; nullptr when
// out of memory.
void* take_big_block(size_t bytes);

// Gives back a block from take_big_block: kept for reuse, or freed when the cache is full.
void give_big_block(void* p, size_t bytes);

// Bytes held by freed blocks now (for tests).
size_t cached_big_block_bytes();

}  // namespace paraxis::core_detail
