// Element conversions with the reference backend's exact rounding (packages/tensor/src/{bf16,f16,fp8}.ts):
// bf16 and f16 round to nearest even, f8_e4m3 (OCP e4m3fn) rounds to nearest even and saturates at
// ±448, integer stores follow JavaScript's typed-array conversions (ToInt32 and friends).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "tensor.h"

namespace dsa {

inline float bits_to_f32(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
inline uint32_t f32_to_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return bits;
}

inline float bf16_to_f32(uint16_t bits) { return bits_to_f32(static_cast<uint32_t>(bits) << 16); }

// floatToBf16: NaN stays NaN (quiet bit set), otherwise round to nearest even.
inline uint16_t f32_to_bf16(float value) {
  uint32_t x = f32_to_bits(value);
  if ((x & 0x7f800000u) == 0x7f800000u && (x & 0x007fffffu) != 0) return ((x >> 16) | 0x40) & 0xffff;
  uint32_t rounding = 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>((x + rounding) >> 16);
}

inline float f16_to_f32(uint16_t bits) {
  uint32_t sign = static_cast<uint32_t>(bits & 0x8000) << 16;
  uint32_t exponent = (bits >> 10) & 0x1f;
  uint32_t mantissa = bits & 0x3ff;
  if (exponent == 0) {
    float v = static_cast<float>(mantissa) * 5.9604644775390625e-08f;  // 2^-24
    return sign ? -v : v;
  }
  if (exponent == 0x1f) return bits_to_f32(sign | 0x7f800000u | (mantissa << 13));
  return bits_to_f32(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

// floatToF16 applied to a double: round to nearest even, overflow (>= 65520) to infinity.
uint16_t f64_to_f16(double value);

extern const float kFp8E4m3Table[256];
inline float fp8_to_f32(uint8_t bits) { return kFp8E4m3Table[bits]; }
// floatToFp8E4m3 applied to a double.
uint8_t f64_to_fp8(double value);

// JavaScript ToInt32 / ToUint32 of a double (NaN and infinities give 0, wrap modulo 2^32).
uint32_t js_to_uint32(double value);
inline int32_t js_to_int32(double value) { return static_cast<int32_t>(js_to_uint32(value)); }

// A T stored at p (any alignment).
template <class T>
inline T load_unaligned(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// One element of any dtype, as the reference reads it (a double).
inline double load_f64(const uint8_t* p, DType dtype) {
  switch (dtype) {
    case DType::f32:
      return load_unaligned<float>(p);
    case DType::f64:
      return load_unaligned<double>(p);
    case DType::bf16:
      return bf16_to_f32(load_unaligned<uint16_t>(p));
    case DType::f16:
      return f16_to_f32(load_unaligned<uint16_t>(p));
    case DType::f8_e4m3:
      return fp8_to_f32(*p);
    case DType::i32:
      return load_unaligned<int32_t>(p);
    case DType::i64:
      return static_cast<double>(load_unaligned<int64_t>(p));
    case DType::i16:
      return load_unaligned<int16_t>(p);
    case DType::i8:
      return static_cast<int8_t>(*p);
    case DType::u8:
    case DType::boolean:
      return *p;
  }
  return 0;
}

// One element of any dtype, written as the reference writes it (converting from a double).
void store_f64(uint8_t* p, DType dtype, double value);

// Rows of `n` elements with element stride `stride` (in elements of `dtype`).
void load_row_f32(float* dst, const uint8_t* src, DType dtype, int64_t n, int64_t stride);
void load_row_f64(double* dst, const uint8_t* src, DType dtype, int64_t n, int64_t stride);
void store_row_f32(uint8_t* dst, DType dtype, int64_t stride, const float* src, int64_t n);
void store_row_f64(uint8_t* dst, DType dtype, int64_t stride, const double* src, int64_t n);

// fdlibm's log and exp, as V8 implements Math.log / Math.exp, so sampling draws agree bit for bit
// with the TypeScript reference.
double fdlibm_log(double x);
double fdlibm_exp(double x);

}  // namespace dsa
