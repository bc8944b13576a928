// Element conversions (see convert.h) and fdlibm's log/exp.
#include "convert.h"

#include <cmath>
#include <cstring>
#include <type_traits>

namespace dsa {

namespace {

double round_half_even(double x) {
  double f = std::floor(x);
  double d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return std::fmod(f, 2.0) == 0 ? f : f + 1;
}

constexpr float pow2(int e) {
  float v = 1.0f;
  for (; e > 0; e--) v *= 2.0f;
  for (; e < 0; e++) v *= 0.5f;
  return v;
}

constexpr float fp8_decode(int bits) {
  float sign = (bits & 0x80) ? -1.0f : 1.0f;
  int exponent = (bits >> 3) & 0xf;
  int mantissa = bits & 0x7;
  if (exponent == 0xf && mantissa == 0x7) return __builtin_nanf("");
  if (exponent == 0) return sign * (static_cast<float>(mantissa) / 8.0f) * pow2(-6);
  return sign * (1.0f + static_cast<float>(mantissa) / 8.0f) * pow2(exponent - 7);
}

struct Fp8Table {
  float values[256];
  constexpr Fp8Table() : values() {
    for (int i = 0; i < 256; i++) values[i] = fp8_decode(i);
  }
};
constexpr Fp8Table kTable;

inline uint32_t hi_word(double x) {
  uint64_t bits;
  std::memcpy(&bits, &x, 8);
  return static_cast<uint32_t>(bits >> 32);
}
inline uint32_t lo_word(double x) {
  uint64_t bits;
  std::memcpy(&bits, &x, 8);
  return static_cast<uint32_t>(bits);
}
inline double with_hi_word(double x, uint32_t hi) {
  uint64_t bits;
  std::memcpy(&bits, &x, 8);
  bits = (static_cast<uint64_t>(hi) << 32) | (bits & 0xffffffffull);
  std::memcpy(&x, &bits, 8);
  return x;
}
inline double from_words(uint32_t hi, uint32_t lo) {
  uint64_t bits = (static_cast<uint64_t>(hi) << 32) | lo;
  double x;
  std::memcpy(&x, &bits, 8);
  return x;
}

}  // namespace

const float kFp8E4m3Table[256] = {
#define DSA_E(i) kTable.values[i]
#define DSA_R(b)                                                                                      \
  DSA_E(b + 0), DSA_E(b + 1), DSA_E(b + 2), DSA_E(b + 3), DSA_E(b + 4), DSA_E(b + 5), DSA_E(b + 6),  \
      DSA_E(b + 7), DSA_E(b + 8), DSA_E(b + 9), DSA_E(b + 10), DSA_E(b + 11), DSA_E(b + 12),         \
      DSA_E(b + 13), DSA_E(b + 14), DSA_E(b + 15)
    DSA_R(0),   DSA_R(16),  DSA_R(32),  DSA_R(48),  DSA_R(64),  DSA_R(80),  DSA_R(96),  DSA_R(112),
    DSA_R(128), DSA_R(144), DSA_R(160), DSA_R(176), DSA_R(192), DSA_R(208), DSA_R(224), DSA_R(240),
#undef DSA_R
#undef DSA_E
};

uint16_t f64_to_f16(double value) {
  if (std::isnan(value)) return 0x7e00;
  uint16_t sign = std::signbit(value) ? 0x8000 : 0;
  double a = std::fabs(value);
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2.98023223876953125e-08) return sign;  // 2^-25
  int e;
  std::frexp(a, &e);
  int exponent = e - 1;  // a in [2^exponent, 2^(exponent+1))
  if (exponent < -14) {
    double m = round_half_even(a / 5.9604644775390625e-08);  // a / 2^-24
    return sign | static_cast<uint16_t>(m);
  }
  double m = round_half_even((std::ldexp(a, -exponent) - 1) * 1024);
  if (m == 1024) {
    m = 0;
    exponent += 1;
  }
  return sign | static_cast<uint16_t>((exponent + 15) << 10) | static_cast<uint16_t>(m);
}

uint8_t f64_to_fp8(double value) {
  if (std::isnan(value)) return 0x7f;
  uint8_t sign = std::signbit(value) ? 0x80 : 0;
  double a = std::fabs(value);
  if (a >= 448) return sign | 0x7e;
  if (a < 0.015625) {  // below 2^-6 the spacing is 2^-9
    double m = round_half_even(a * 512);
    return sign | static_cast<uint8_t>(m);  // m may reach 8: exactly the encoding of 2^-6
  }
  int e;
  std::frexp(a, &e);
  int exponent = e - 1;
  double m = round_half_even((std::ldexp(a, -exponent) - 1) * 8);
  if (m == 8) {
    m = 0;
    exponent += 1;
  }
  int biased = exponent + 7;
  if (biased > 15 || (biased == 15 && m == 7)) return sign | 0x7e;
  return sign | static_cast<uint8_t>(biased << 3) | static_cast<uint8_t>(m);
}

uint32_t js_to_uint32(double value) {
  if (!std::isfinite(value)) return 0;
  double t = std::trunc(value);
  double m = std::fmod(t, 4294967296.0);
  if (m < 0) m += 4294967296.0;
  return static_cast<uint32_t>(static_cast<uint64_t>(m));
}

void store_f64(uint8_t* p, DType dtype, double value) {
  switch (dtype) {
    case DType::f32: {
      float v = static_cast<float>(value);
      std::memcpy(p, &v, 4);
      return;
    }
    case DType::f64:
      std::memcpy(p, &value, 8);
      return;
    case DType::bf16: {
      uint16_t v = f32_to_bf16(static_cast<float>(value));
      std::memcpy(p, &v, 2);
      return;
    }
    case DType::f16: {
      uint16_t v = f64_to_f16(value);
      std::memcpy(p, &v, 2);
      return;
    }
    case DType::f8_e4m3:
      *p = f64_to_fp8(value);
      return;
    case DType::i32: {
      int32_t v = js_to_int32(value);
      std::memcpy(p, &v, 4);
      return;
    }
    case DType::i64: {
      int64_t v = std::isfinite(value) ? static_cast<int64_t>(std::trunc(value)) : 0;
      std::memcpy(p, &v, 8);
      return;
    }
    case DType::i16: {
      uint16_t v = static_cast<uint16_t>(js_to_uint32(value));
      std::memcpy(p, &v, 2);
      return;
    }
    case DType::i8:
    case DType::u8:
    case DType::boolean:
      *p = static_cast<uint8_t>(js_to_uint32(value));
      return;
  }
}

namespace {
// load_row_f32 / load_row_f64: every value converts exactly to T (a float or a double).
template <class T>
void load_row(T* dst, const uint8_t* src, DType dtype, int64_t n, int64_t stride) {
  switch (dtype) {
    case DType::f32: {
      const float* s = reinterpret_cast<const float*>(src);
      if (std::is_same<T, float>::value && stride == 1) {
        std::memcpy(dst, s, n * 4);
      } else {
        for (int64_t i = 0; i < n; i++) dst[i] = s[i * stride];
      }
      return;
    }
    case DType::bf16: {
      const uint16_t* s = reinterpret_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; i++) dst[i] = bf16_to_f32(s[i * stride]);
      return;
    }
    case DType::f16: {
      const uint16_t* s = reinterpret_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; i++) dst[i] = f16_to_f32(s[i * stride]);
      return;
    }
    case DType::f8_e4m3:
      for (int64_t i = 0; i < n; i++) dst[i] = kFp8E4m3Table[src[i * stride]];
      return;
    default: {
      int size = dtype_bytes(dtype);
      for (int64_t i = 0; i < n; i++) dst[i] = static_cast<T>(load_f64(src + i * stride * size, dtype));
    }
  }
}
}  // namespace

void load_row_f32(float* dst, const uint8_t* src, DType dtype, int64_t n, int64_t stride) {
  load_row(dst, src, dtype, n, stride);
}

void load_row_f64(double* dst, const uint8_t* src, DType dtype, int64_t n, int64_t stride) {
  load_row(dst, src, dtype, n, stride);
}

void store_row_f32(uint8_t* dst, DType dtype, int64_t stride, const float* src, int64_t n) {
  switch (dtype) {
    case DType::f32: {
      float* d = reinterpret_cast<float*>(dst);
      if (stride == 1) {
        std::memcpy(d, src, n * 4);
      } else {
        for (int64_t i = 0; i < n; i++) d[i * stride] = src[i];
      }
      return;
    }
    case DType::bf16: {
      uint16_t* d = reinterpret_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; i++) d[i * stride] = f32_to_bf16(src[i]);
      return;
    }
    default: {
      int size = dtype_bytes(dtype);
      for (int64_t i = 0; i < n; i++) store_f64(dst + i * stride * size, dtype, src[i]);
    }
  }
}

void store_row_f64(uint8_t* dst, DType dtype, int64_t stride, const double* src, int64_t n) {
  switch (dtype) {
    case DType::f32: {
      float* d = reinterpret_cast<float*>(dst);
      for (int64_t i = 0; i < n; i++) d[i * stride] = static_cast<float>(src[i]);
      return;
    }
    default: {
      int size = dtype_bytes(dtype);
      for (int64_t i = 0; i < n; i++) store_f64(dst + i * stride * size, dtype, src[i]);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// fdlibm 5.3 e_log.c and e_exp.c (Sun Microsystems, freely distributable), the code V8 runs for
// Math.log and Math.exp (src/base/ieee754.cc). Compiled without FMA contraction (binding.gyp).

double fdlibm_log(double x) {
  static const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10,
                      two54 = 1.80143985094819840000e+16, Lg1 = 6.666666666666735130e-01,
                      Lg2 = 3.999999999940941908e-01, Lg3 = 2.857142874366239149e-01,
                      Lg4 = 2.222219843214978396e-01, Lg5 = 1.818357216161805012e-01,
                      Lg6 = 1.531383769920937332e-01, Lg7 = 1.479819860511658591e-01;
  static const double zero = 0.0;
  volatile double vzero = 0.0;
  double hfsq, f, s, z, R, w, t1, t2, dk;
  int32_t k, hx, i, j;
  uint32_t lx;

  hx = static_cast<int32_t>(hi_word(x));
  lx = lo_word(x);
  k = 0;
  if (hx < 0x00100000) {                          // x < 2**-1022
    if (((hx & 0x7fffffff) | lx) == 0) return -two54 / vzero;  // log(+-0) = -inf
    if (hx < 0) return (x - x) / vzero;            // log(-#) = NaN
    k -= 54;
    x *= two54;  // subnormal number, scale up x
    hx = static_cast<int32_t>(hi_word(x));
  }
  if (hx >= 0x7ff00000) return x + x;
  k += (hx >> 20) - 1023;
  hx &= 0x000fffff;
  i = (hx + 0x95f64) & 0x100000;
  x = with_hi_word(x, static_cast<uint32_t>(hx | (i ^ 0x3ff00000)));  // normalize x or x/2
  k += (i >> 20);
  f = x - 1.0;
  if ((0x000fffff & (2 + hx)) < 3) {  // -2**-20 <= f < 2**-20
    if (f == zero) {
      if (k == 0) return zero;
      dk = static_cast<double>(k);
      return dk * ln2_hi + dk * ln2_lo;
    }
    R = f * f * (0.5 - 0.33333333333333333 * f);
    if (k == 0) return f - R;
    dk = static_cast<double>(k);
    return dk * ln2_hi - ((R - dk * ln2_lo) - f);
  }
  s = f / (2.0 + f);
  dk = static_cast<double>(k);
  z = s * s;
  i = hx - 0x6147a;
  w = z * z;
  j = 0x6b851 - hx;
  t1 = w * (Lg2 + w * (Lg4 + w * Lg6));
  t2 = z * (Lg1 + w * (Lg3 + w * (Lg5 + w * Lg7)));
  i |= j;
  R = t2 + t1;
  if (i > 0) {
    hfsq = 0.5 * f * f;
    if (k == 0) return f - (hfsq - s * (hfsq + R));
    return dk * ln2_hi - ((hfsq - (s * (hfsq + R) + dk * ln2_lo)) - f);
  }
  if (k == 0) return f - s * (f - R);
  return dk * ln2_hi - ((s * (f - R) - dk * ln2_lo) - f);
}

double fdlibm_exp(double x) {
  static const double one = 1.0, halF[2] = {0.5, -0.5}, huge = 1.0e+300,
                      o_threshold = 7.09782712893383973096e+02, u_threshold = -7.45133219101941108420e+02,
                      ln2HI[2] = {6.93147180369123816490e-01, -6.93147180369123816490e-01},
                      ln2LO[2] = {1.90821492927058770002e-10, -1.90821492927058770002e-10},
                      invln2 = 1.44269504088896338700e+00, P1 = 1.66666666666666019037e-01,
                      P2 = -2.77777777770155933842e-03, P3 = 6.61375632143793436117e-05,
                      P4 = -1.65339022054652515390e-06, P5 = 4.13813679705723846039e-08,
                      E = 2.718281828459045;
  static const double two1023 = 8.988465674311579539e307;   // 0x1p1023
  static const double twom1000 = 9.33263618503218878990e-302;  // 2**-1000
  volatile double vhuge = huge, vtwom1000 = twom1000;
  double y, hi = 0.0, lo = 0.0, c, t, twopk;
  int32_t k = 0, xsb;
  uint32_t hx;

  hx = hi_word(x);
  xsb = (hx >> 31) & 1;
  hx &= 0x7fffffff;

  // filter out non-finite argument
  if (hx >= 0x40862E42) {  // if |x| >= 709.78...
    if (hx >= 0x7ff00000) {
      if (((hx & 0xfffff) | lo_word(x)) != 0) return x + x;  // NaN
      return (xsb == 0) ? x : 0.0;                           // exp(+-inf) = {inf, 0}
    }
    if (x > o_threshold) return vhuge * vhuge;          // overflow
    if (x < u_threshold) return vtwom1000 * vtwom1000;  // underflow
  }

  // argument reduction
  if (hx > 0x3fd62e42) {    // if |x| > 0.5 ln2
    if (hx < 0x3FF0A2B2) {  // and |x| < 1.5 ln2
      // V8: exp(1) is exactly Math.E
      if (x == 1.0) return E;
      hi = x - ln2HI[xsb];
      lo = ln2LO[xsb];
      k = 1 - xsb - xsb;
    } else {
      k = static_cast<int32_t>(invln2 * x + halF[xsb]);
      t = k;
      hi = x - t * ln2HI[0];  // t * ln2HI is exact here
      lo = t * ln2LO[0];
    }
    x = hi - lo;
  } else if (hx < 0x3e300000) {  // when |x| < 2**-28
    if (vhuge + x > one) return one + x;  // trigger inexact
  } else {
    k = 0;
  }

  // x is now in primary range
  t = x * x;
  // The exponent is added as unsigned: shifting a negative k left is undefined in C++17 (UBSan reports it).
  if (k >= -1021) {
    twopk = from_words(0x3ff00000u + (static_cast<uint32_t>(k) << 20), 0);
  } else {
    twopk = from_words(0x3ff00000u + (static_cast<uint32_t>(k + 1000) << 20), 0);
  }
  c = x - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
  if (k == 0) return one - ((x * c) / (c - 2.0) - x);
  y = one - ((lo - (x * c) / (2.0 - c)) - hi);
  if (k >= -1021) {
    if (k == 1024) return y * 2.0 * two1023;
    return y * twopk;
  }
  return y * twopk * twom1000;
}

}  // namespace dsa
