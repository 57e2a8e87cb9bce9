// Shared oneDNN plumbing: one CPU engine and stream per thread (a primitive runs on the thread that created
// it, which is what oneDNN's OpenMP runtime wants), and a per-thread primitive cache keyed by shapes.
#pragma once

#include <dnnl.hpp>
#include <string>
#include <unordered_map>

namespace paraxis::dnnl_util {

dnnl::engine& engine();
dnnl::stream& stream();

// Per-thread cache: key -> primitive. The key is built by the caller from every size that defines it.
template <class Prim>
std::unordered_map<std::string, Prim>& cache() {
  thread_local std::unordered_map<std::string, Prim> c;
  return c;
}

}  // namespace paraxis::dnnl_util
