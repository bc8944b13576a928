// Element-wise primitives over strided tensors: fill, cast, copy, unary, binary. One thread per
// element (grid-stride), arithmetic in double then rounded once to the output dtype, as the
// reference backend computes.
#include "../common/tensor.cuh"

using namespace dsa;

extern "C" __global__ void dsa_fill(Tensor out, double value) {
  const int64_t n = numel(out);
  DSA_FOR(i, n) store(out, offset_of(out, i), value);
}

// cast and copy: out = x converted to out's dtype (copy passes equal dtypes: a plain strided copy).
extern "C" __global__ void dsa_cast(Tensor out, Tensor x) {
  const int64_t n = numel(out);
  DSA_FOR(i, n) store(out, offset_of(out, i), load(x, offset_of(x, i)));
}

// Byte-exact strided copy of equal dtypes (1, 2, 4 or 8 bytes per element).
extern "C" __global__ void dsa_copy(Tensor out, Tensor x, int32_t elementBytes) {
  const int64_t n = numel(out);
  DSA_FOR(i, n) {
    const int64_t o = offset_of(out, i), s = offset_of(x, i);
    switch (elementBytes) {
      case 1: reinterpret_cast<uint8_t*>(out.ptr)[o] = reinterpret_cast<const uint8_t*>(x.ptr)[s]; break;
      case 2: reinterpret_cast<uint16_t*>(out.ptr)[o] = reinterpret_cast<const uint16_t*>(x.ptr)[s]; break;
      case 4: reinterpret_cast<uint32_t*>(out.ptr)[o] = reinterpret_cast<const uint32_t*>(x.ptr)[s]; break;
      default: reinterpret_cast<uint64_t*>(out.ptr)[o] = reinterpret_cast<const uint64_t*>(x.ptr)[s]; break;
    }
  }
}

namespace {

// op codes of src/kernels/elementwise.ts
__device__ __forceinline__ double unary_op(double x, int op) {
  switch (op) {
    case 0: return x / (1.0 + exp(-x));  // silu
    case 1: return x > 0 ? x : 0.0;      // relu
    case 2: return exp(x);
    case 3: return 1.0 / (1.0 + exp(-x));  // sigmoid
    case 4: return -x;
    case 5: return sqrt(x);
    default: return 1.0 / x;  // reciprocal
  }
}

}  // namespace

extern "C" __global__ void dsa_unary(Tensor out, Tensor x, int32_t op) {
  const int64_t n = numel(out);
  DSA_FOR(i, n) store(out, offset_of(out, i), unary_op(load(x, offset_of(x, i)), op));
}

namespace {

__device__ __forceinline__ double binary_op(double a, double b, int op) {
  switch (op) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return a / b;
    case 4: return (a != a || b != b) ? a + b : (a > b ? a : b);  // Math.max: NaN wins
    default: return (a != a || b != b) ? a + b : (a < b ? a : b);
  }
}

}  // namespace

extern "C" __global__ void dsa_binary(Tensor out, Tensor a, Tensor b, int32_t op) {
  const int64_t n = numel(out);
  DSA_FOR(i, n) {
    const double va = load(a, offset_of(a, i)), vb = load(b, offset_of(b, i));
    store(out, offset_of(out, i), binary_op(va, vb, op));
  }
}
