// Tensor descriptors as the kernels see them: a resolved host pointer, dtype, shape and element
// strides (outermost first, last dim usually dense, stride 0 broadcasts), plus the small helpers
// every kernel file shares (errors, row iteration, context).
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "dtype.h"

namespace dsa {

// The facts of each DType, indexed by its value (dtype.h). In the header so that dtype_bytes, and with it
// Tensor::at, inline: kernels that resolve a weight's row pointers call it once per row (32000 for an lm_head).
struct DTypeInfo {
  const char* name;
  int bytes;
  bool is_float;
};
inline constexpr DTypeInfo kDTypes[] = {
    {"f64", 8, true}, {"f32", 4, true}, {"f16", 2, true}, {"bf16", 2, true}, {"f8_e4m3", 1, true}, {"i64", 8, false},
    {"i32", 4, false}, {"i16", 2, false}, {"i8", 1, false}, {"u8", 1, false}, {"bool", 1, false},
};
static_assert(sizeof(kDTypes) / sizeof(kDTypes[0]) == static_cast<size_t>(DType::boolean) + 1, "one row per DType");

// The row of `dtype`, or null for a value outside the enum.
inline const DTypeInfo* dtype_info(DType dtype) {
  const auto i = static_cast<uint32_t>(dtype);
  return i < sizeof(kDTypes) / sizeof(kDTypes[0]) ? &kDTypes[i] : nullptr;
}
inline int dtype_bytes(DType dtype) {
  const DTypeInfo* info = dtype_info(dtype);
  return info != nullptr ? info->bytes : 1;
}
inline const char* dtype_name(DType dtype) {
  const DTypeInfo* info = dtype_info(dtype);
  return info != nullptr ? info->name : "?";
}
inline bool is_float(DType dtype) {
  const DTypeInfo* info = dtype_info(dtype);
  return info != nullptr && info->is_float;
}

constexpr int kMaxRank = 8;

// A kernel argument that is wrong (shape, dtype, index out of range). Thrown before any parallel
// work starts: from the call itself when decoding fails or in synchronous mode (the binding layer
// turns it into a JS error), else on the queue's executor, which reports it at the next wait.
struct KernelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& message);

struct Tensor {
  uint8_t* data = nullptr;  // address of element [0, 0, ...]
  DType dtype = DType::f32;
  int rank = 0;
  int64_t shape[kMaxRank] = {};
  int64_t strides[kMaxRank] = {};  // in elements

  bool valid() const { return data != nullptr || numel() == 0; }
  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= shape[i];
    return n;
  }
  int64_t dim(int d) const { return shape[d < 0 ? rank + d : d]; }
  int64_t stride(int d) const { return strides[d < 0 ? rank + d : d]; }
  int bytes() const { return dtype_bytes(dtype); }
  uint8_t* at(int64_t element_offset) const { return data + element_offset * bytes(); }
  template <class T>
  T* ptr() const {
    return reinterpret_cast<T*>(data);
  }
  // Rows of the last dimension: numel / last dim (1 for rank 0).
  int64_t rows() const {
    int64_t n = 1;
    for (int i = 0; i + 1 < rank; i++) n *= shape[i];
    return n;
  }
  int64_t cols() const { return rank == 0 ? 1 : shape[rank - 1]; }
  int64_t col_stride() const { return rank == 0 ? 1 : strides[rank - 1]; }
  bool same_shape(const Tensor& other) const {
    if (rank != other.rank) return false;
    for (int i = 0; i < rank; i++)
      if (shape[i] != other.shape[i]) return false;
    return true;
  }
  // Element offset of row `r` (row-major over every dim but the last).
  int64_t row_offset(int64_t r) const {
    int64_t offset = 0;
    for (int d = rank - 2; d >= 0; d--) {
      int64_t i = r % shape[d];
      r /= shape[d];
      offset += i * strides[d];
    }
    return offset;
  }
  std::string describe() const;
};

// Execution settings passed with every call: worker threads to use and ISA level.
struct Context {
  int threads = 1;
  int isa = kPortable;
};

// Throws unless `t` has rank `rank`.
void expect_rank(const char* name, const Tensor& t, int rank);
// Throws unless `t` has `dtype`.
void expect_dtype(const char* name, const Tensor& t, DType dtype);
// Whether `t` has exactly `shape` (-1 matches anything).
bool has_shape(const Tensor& t, std::initializer_list<int64_t> shape);
// Throws unless has_shape(t, shape). The message is built only for a mismatch: kernels check their arguments on
// every call, replayed decode steps included (see tensor.cc).
void expect_shape(const char* name, const Tensor& t, std::initializer_list<int64_t> shape);
// Throws unless the last dimension is dense (stride 1) or has size <= 1.
void expect_dense_rows(const char* name, const Tensor& t);

}  // namespace dsa
