// paraxis/core/tensor.h — a row-major, contiguous n-d array with shared storage.
//
//   Tensor x = Tensor::zeros({B, T, C});        // (B, T, C) float32
//   Tensor first = x.slice(0, 2);               // (2, T, C) view of rows 0..1, no copy
//   Tensor flat = x.view({B * T, C});           // same storage, new shape
//   float* p = x.data();                        // raw pointer for kernels
//
// Views never copy: a view shares its parent's storage and offset. Every tensor is contiguous, which is what
// every kernel here needs; a slice along the first dimension stays contiguous. Memory is charged to the
// device that allocated it (see memory_stats), so per-device peak bytes can be measured and compared with the
// cost model. dtype is float32 for values and int32 for token ids and labels; the enum leaves room for bf16.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace paraxis {

enum class DType : uint8_t { kF32, kI32 };
size_t dtype_size(DType d);
const char* dtype_name(DType d);

using Shape = std::vector<int64_t>;
int64_t shape_numel(const Shape& s);
std::string shape_str(const Shape& s);  // "(2, 3, 4)"

struct Storage;  // aligned bytes + the device that owns them

class Tensor {
 public:
  Tensor() = default;
  static Tensor empty(const Shape& shape, DType dtype = DType::kF32);
  static Tensor zeros(const Shape& shape, DType dtype = DType::kF32);
  static Tensor full(const Shape& shape, float value);
  static Tensor from_vector(const Shape& shape, const std::vector<float>& values);
  static Tensor from_ints(const Shape& shape, const std::vector<int32_t>& values);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const;  // negative i counts from the end
  int64_t numel() const { return numel_; }
  DType dtype() const { return dtype_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }

  float* data();  // checks dtype == F32
  const float* data() const;
  int32_t* data_i32();  // checks dtype == I32
  const int32_t* data_i32() const;
  void* raw();
  const void* raw() const;

  Tensor view(const Shape& shape) const;           // same numel; -1 infers one dimension
  Tensor slice(int64_t begin, int64_t end) const;  // rows [begin, end) of the first dimension, a view
  Tensor clone() const;                            // deep copy on the calling device
  void copy_from(const Tensor& src);               // same shape and dtype
  void zero_();
  void fill_(float v);
  bool same_storage(const Tensor& o) const { return storage_ == o.storage_; }

  std::vector<float> to_vector() const;

 private:
  std::shared_ptr<Storage> storage_;
  int64_t offset_ = 0;  // elements
  int64_t numel_  = 0;
  Shape shape_;
  DType dtype_ = DType::kF32;
};

// Bytes currently held and the high-water mark, per device (device -1 = outside any device).
struct MemoryStats {
  int64_t current_bytes = 0;
  int64_t peak_bytes    = 0;
};
MemoryStats memory_stats(int device);
void reset_peak_memory(int device);

// Throws a user-facing error naming both shapes when they differ: "linear fc1: x (4, 783) vs expected (*,
// 784)".
void check_shape(const Tensor& t, const Shape& expected, const char* what);

}  // namespace paraxis
