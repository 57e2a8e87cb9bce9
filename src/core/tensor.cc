#include "paraxis/core/tensor.h"

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include <malloc.h>

#include "core/big_blocks.h"
#include "paraxis/core/error.h"

namespace paraxis {

size_t dtype_size(DType d) {
  return d == DType::kF32 ? 4 : 4;
}
const char* dtype_name(DType d) {
  return d == DType::kF32 ? "F32" : "I32";
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_str(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + ")";
}

namespace {
constexpr int kMaxTrackedDevices = 1024;
struct Counter {
  std::atomic<int64_t> current{0};
  std::atomic<int64_t> peak{0};
};
std::array<Counter, kMaxTrackedDevices + 1> g_memory;  // slot 0 is "no device"
Counter& counter_for(int device) {
  int slot = (device < 0 || device >= kMaxTrackedDevices) ? 0 : device + 1;
  return g_memory[slot];
}
}  // namespace

// Every step allocates and frees the same activation buffers (MBs each). By default glibc serves those with
// fresh mmaps or trims the freed heap, so each step page-faults its buffers in again (about 10% of a GPT step
// here, in the kernel). Keep freed memory in the allocator instead: serve buffers up to glibc's maximum mmap
// threshold (32 MiB) from the heap and never trim it; larger ones are kept by core/big_blocks.h.
static void keep_freed_memory() {
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    // One arena for every thread: a device thread's own arena is a chain of 64 MiB heaps, and glibc unmaps
    // a heap whose blocks are all free whatever the trim threshold, so a 16–32 MiB activation freed each
    // step was mapped and faulted in again (a 3x512x512 CNN at batch 2: 12% of its run in the fault path).
    mallopt(M_ARENA_MAX, 1);
  });
}
// Before any thread allocates (an arena is chosen at a thread's first allocation).
[[maybe_unused]] static const bool g_freed_memory_kept = (keep_freed_memory(), true);

struct Storage {
  void* ptr    = nullptr;
  size_t bytes = 0;
  int device   = -1;
  Storage(size_t n, int dev) : bytes(n), device(dev) {
    keep_freed_memory();
    if (big())
      ptr = core_detail::take_big_block(rounded());
    else
      ptr = rounded() ? std::aligned_alloc(64, rounded()) : nullptr;
    PX_CHECK(rounded() == 0 || ptr != nullptr, "out of memory allocating {} bytes", n);
    Counter& c   = counter_for(device);
    int64_t now  = c.current.fetch_add(static_cast<int64_t>(n)) + static_cast<int64_t>(n);
    int64_t peak = c.peak.load();
    while (now > peak && !c.peak.compare_exchange_weak(peak, now)) {
    }
  }
  // Whole 64-byte lines; blocks of 32 MiB and more come from (and go back to) core/big_blocks.h.
  size_t rounded() const { return (bytes + 63) / 64 * 64; }
  bool big() const { return rounded() >= core_detail::kBigBlockBytes; }
  ~Storage() {
    if (big())
      core_detail::give_big_block(ptr, rounded());
    else
      std::free(ptr);
    counter_for(device).current.fetch_sub(static_cast<int64_t>(bytes));
  }
};

MemoryStats memory_stats(int device) {
  Counter& c = counter_for(device);
  return {c.current.load(), c.peak.load()};
}
void reset_peak_memory(int device) {
  Counter& c = counter_for(device);
  c.peak.store(c.current.load());
}

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  for (int64_t d : shape) PX_CHECK(d >= 0, "negative dimension in shape {}", shape_str(shape));
  Tensor t;
  t.shape_   = shape;
  t.numel_   = shape_numel(shape);
  t.dtype_   = dtype;
  t.storage_ = std::make_shared<Storage>(t.nbytes(), current_device());
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  t.zero_();
  return t;
}

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape);
  t.fill_(value);
  return t;
}

Tensor Tensor::from_vector(const Shape& shape, const std::vector<float>& values) {
  PX_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "from_vector: {} values for shape {}",
           values.size(), shape_str(shape));
  Tensor t = empty(shape);
  if (!values.empty()) std::memcpy(t.data(), values.data(), values.size() * sizeof(float));
  return t;
}

Tensor Tensor::from_ints(const Shape& shape, const std::vector<int32_t>& values) {
  PX_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "from_ints: {} values for shape {}",
           values.size(), shape_str(shape));
  Tensor t = empty(shape, DType::kI32);
  if (!values.empty()) std::memcpy(t.data_i32(), values.data(), values.size() * sizeof(int32_t));
  return t;
}

int64_t Tensor::dim(int i) const {
  int n = ndim();
  int j = i < 0 ? i + n : i;
  PX_CHECK(j >= 0 && j < n, "dim({}) of a tensor with shape {}", i, shape_str(shape_));
  return shape_[j];
}

float* Tensor::data() {
  PX_CHECK(dtype_ == DType::kF32, "tensor {} is {}, expected F32", shape_str(shape_), dtype_name(dtype_));
  return storage_ ? static_cast<float*>(storage_->ptr) + offset_ : nullptr;
}
const float* Tensor::data() const {
  return const_cast<Tensor*>(this)->data();
}
int32_t* Tensor::data_i32() {
  PX_CHECK(dtype_ == DType::kI32, "tensor {} is {}, expected I32", shape_str(shape_), dtype_name(dtype_));
  return storage_ ? static_cast<int32_t*>(storage_->ptr) + offset_ : nullptr;
}
const int32_t* Tensor::data_i32() const {
  return const_cast<Tensor*>(this)->data_i32();
}
void* Tensor::raw() {
  return storage_ ? static_cast<char*>(storage_->ptr) + offset_ * dtype_size(dtype_) : nullptr;
}
const void* Tensor::raw() const {
  return const_cast<Tensor*>(this)->raw();
}

Tensor Tensor::view(const Shape& shape) const {
  Shape s       = shape;
  int infer     = -1;
  int64_t known = 1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      PX_CHECK(infer < 0, "view {}: more than one -1", shape_str(shape));
      infer = static_cast<int>(i);
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0) {
    PX_CHECK(known > 0 && numel_ % known == 0, "cannot view {} as {}", shape_str(shape_), shape_str(shape));
    s[infer] = numel_ / known;
  }
  PX_CHECK(shape_numel(s) == numel_, "cannot view {} ({} elements) as {}", shape_str(shape_), numel_,
           shape_str(shape));
  Tensor t = *this;
  t.shape_ = s;
  return t;
}

Tensor Tensor::slice(int64_t begin, int64_t end) const {
  PX_CHECK(ndim() >= 1, "slice of a scalar");
  PX_CHECK(0 <= begin && begin <= end && end <= shape_[0], "slice [{}, {}) of first dimension {} (shape {})",
           begin, end, shape_[0], shape_str(shape_));
  int64_t row = shape_[0] ? numel_ / shape_[0] : 0;
  Tensor t    = *this;
  t.shape_[0] = end - begin;
  t.offset_   = offset_ + begin * row;
  t.numel_    = (end - begin) * row;
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_, dtype_);
  if (numel_) std::memcpy(t.raw(), raw(), nbytes());
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  PX_CHECK(src.shape_ == shape_ && src.dtype_ == dtype_, "copy_from: {} {} into {} {}", shape_str(src.shape_),
           dtype_name(src.dtype_), shape_str(shape_), dtype_name(dtype_));
  if (numel_ && raw() != src.raw()) std::memmove(raw(), src.raw(), nbytes());
}

void Tensor::zero_() {
  if (numel_) std::memset(raw(), 0, nbytes());
}

void Tensor::fill_(float v) {
  float* p = data();
  for (int64_t i = 0; i < numel_; ++i) p[i] = v;
}

std::vector<float> Tensor::to_vector() const {
  const float* p = data();
  return std::vector<float>(p, p + numel_);
}

void check_shape(const Tensor& t, const Shape& expected, const char* what) {
  bool ok = t.ndim() == static_cast<int>(expected.size());
  for (size_t i = 0; ok && i < expected.size(); ++i) ok = expected[i] < 0 || expected[i] == t.shape()[i];
  if (!ok) {
    std::string e = "(";
    for (size_t i = 0; i < expected.size(); ++i)
      e += (i ? ", " : "") + (expected[i] < 0 ? std::string("*") : std::to_string(expected[i]));
    PX_USER_FAIL("{}: got shape {}, expected {}", what, shape_str(t.shape()), e + ")");
  }
}

}  // namespace paraxis
