// fdlibm's log and exp as V8 runs them for Math.log / Math.exp, in device code, so that the sample
// kernel computes the same doubles as the reference (TypeScript) and cpu backends. Every product and
// sum goes through __dmul_rn / __dadd_rn / __dsub_rn / __ddiv_rn: nvcc must not contract them to FMA.
#pragma once
#include <stdint.h>

namespace dsa {

#define DMUL __dmul_rn
#define DADD __dadd_rn
#define DSUB __dsub_rn
#define DDIV __ddiv_rn

__device__ __forceinline__ uint32_t hi_word(double x) {
  return static_cast<uint32_t>(static_cast<uint64_t>(__double_as_longlong(x)) >> 32);
}
__device__ __forceinline__ uint32_t lo_word(double x) {
  return static_cast<uint32_t>(static_cast<uint64_t>(__double_as_longlong(x)));
}
__device__ __forceinline__ double from_words(uint32_t hi, uint32_t lo) {
  return __longlong_as_double(static_cast<long long>((static_cast<uint64_t>(hi) << 32) | lo));
}

__device__ inline double js_log(double x) {
  const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10,
               two54 = 1.80143985094819840000e+16, Lg1 = 6.666666666666735130e-01,
               Lg2 = 3.999999999940941908e-01, Lg3 = 2.857142874366239149e-01,
               Lg4 = 2.222219843214978396e-01, Lg5 = 1.818357216161805012e-01,
               Lg6 = 1.531383769920937332e-01, Lg7 = 1.479819860511658591e-01;
  int32_t hx = static_cast<int32_t>(hi_word(x));
  const uint32_t lx = lo_word(x);
  int32_t k = 0;
  if (hx < 0x00100000) {
    if (((hx & 0x7fffffff) | lx) == 0) return -__longlong_as_double(0x7ff0000000000000LL);
    if (hx < 0) return __longlong_as_double(0x7ff8000000000000LL);
    k -= 54;
    x = DMUL(x, two54);
    hx = static_cast<int32_t>(hi_word(x));
  }
  if (hx >= 0x7ff00000) return DADD(x, x);
  k += (hx >> 20) - 1023;
  hx &= 0x000fffff;
  int32_t i = (hx + 0x95f64) & 0x100000;
  x = from_words(static_cast<uint32_t>(hx | (i ^ 0x3ff00000)), lo_word(x));
  k += (i >> 20);
  const double f = DSUB(x, 1.0);
  double dk;
  if ((0x000fffff & (2 + hx)) < 3) {
    if (f == 0.0) {
      if (k == 0) return 0.0;
      dk = static_cast<double>(k);
      return DADD(DMUL(dk, ln2_hi), DMUL(dk, ln2_lo));
    }
    const double R = DMUL(DMUL(f, f), DSUB(0.5, DMUL(0.33333333333333333, f)));
    if (k == 0) return DSUB(f, R);
    dk = static_cast<double>(k);
    return DSUB(DMUL(dk, ln2_hi), DSUB(DSUB(R, DMUL(dk, ln2_lo)), f));
  }
  const double s = DDIV(f, DADD(2.0, f));
  dk = static_cast<double>(k);
  const double z = DMUL(s, s);
  i = hx - 0x6147a;
  const double w = DMUL(z, z);
  const int32_t j = 0x6b851 - hx;
  const double t1 = DMUL(w, DADD(Lg2, DMUL(w, DADD(Lg4, DMUL(w, Lg6)))));
  const double t2 = DMUL(z, DADD(Lg1, DMUL(w, DADD(Lg3, DMUL(w, DADD(Lg5, DMUL(w, Lg7)))))));
  i |= j;
  const double R = DADD(t2, t1);
  if (i > 0) {
    const double hfsq = DMUL(DMUL(0.5, f), f);
    if (k == 0) return DSUB(f, DSUB(hfsq, DMUL(s, DADD(hfsq, R))));
    return DSUB(DMUL(dk, ln2_hi), DSUB(DSUB(hfsq, DADD(DMUL(s, DADD(hfsq, R)), DMUL(dk, ln2_lo))), f));
  }
  if (k == 0) return DSUB(f, DMUL(s, DSUB(f, R)));
  return DSUB(DMUL(dk, ln2_hi), DSUB(DSUB(DMUL(s, DSUB(f, R)), DMUL(dk, ln2_lo)), f));
}

__device__ inline double js_exp(double x) {
  const double o_threshold = 7.09782712893383973096e+02, u_threshold = -7.45133219101941108420e+02,
               ln2HI = 6.93147180369123816490e-01, ln2LO = 1.90821492927058770002e-10,
               invln2 = 1.44269504088896338700e+00, P1 = 1.66666666666666019037e-01,
               P2 = -2.77777777770155933842e-03, P3 = 6.61375632143793436117e-05,
               P4 = -1.65339022054652515390e-06, P5 = 4.13813679705723846039e-08,
               E = 2.718281828459045, two1023 = 8.988465674311579539e307, twom1000 = 9.33263618503218878990e-302;
  double hi = 0.0, lo = 0.0;
  int32_t k = 0;
  uint32_t hx = hi_word(x);
  const int32_t xsb = (hx >> 31) & 1;
  hx &= 0x7fffffff;
  if (hx >= 0x40862E42) {
    if (hx >= 0x7ff00000) {
      if (((hx & 0xfffff) | lo_word(x)) != 0) return DADD(x, x);
      return xsb == 0 ? x : 0.0;
    }
    if (x > o_threshold) return __longlong_as_double(0x7ff0000000000000LL);
    if (x < u_threshold) return 0.0;
  }
  if (hx > 0x3fd62e42) {
    if (hx < 0x3FF0A2B2) {
      if (x == 1.0) return E;
      hi = DSUB(x, xsb ? -ln2HI : ln2HI);
      lo = xsb ? -ln2LO : ln2LO;
      k = 1 - xsb - xsb;
    } else {
      k = static_cast<int32_t>(DADD(DMUL(invln2, x), xsb ? -0.5 : 0.5));
      const double t = k;
      hi = DSUB(x, DMUL(t, ln2HI));
      lo = DMUL(t, ln2LO);
    }
    x = DSUB(hi, lo);
  } else if (hx < 0x3e300000) {
    return DADD(1.0, x);
  } else {
    k = 0;
  }
  const double t = DMUL(x, x);
  const double twopk = k >= -1021 ? from_words(static_cast<uint32_t>(0x3ff00000 + (k << 20)), 0)
                                  : from_words(static_cast<uint32_t>(0x3ff00000 + ((k + 1000) << 20)), 0);
  const double c =
      DSUB(x, DMUL(t, DADD(P1, DMUL(t, DADD(P2, DMUL(t, DADD(P3, DMUL(t, DADD(P4, DMUL(t, P5))))))))));
  if (k == 0) return DSUB(1.0, DSUB(DDIV(DMUL(x, c), DSUB(c, 2.0)), x));
  const double y = DSUB(1.0, DSUB(DSUB(lo, DDIV(DMUL(x, c), DSUB(2.0, c))), hi));
  if (k >= -1021) {
    if (k == 1024) return DMUL(DMUL(y, 2.0), two1023);
    return DMUL(y, twopk);
  }
  return DMUL(DMUL(y, twopk), twom1000);
}

__device__ __forceinline__ uint32_t mix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

// rngUniform of @dsa/backend: a number in (0, 1) from (seed, step, index).
__device__ __forceinline__ double rng_uniform(uint32_t seed, uint32_t step, uint32_t index) {
  const uint32_t h = mix32(mix32(mix32(seed) ^ step) ^ (index * 0x9e3779b9u));
  return (static_cast<double>(h >> 8) + 0.5) / 16777216.0;
}

}  // namespace dsa
