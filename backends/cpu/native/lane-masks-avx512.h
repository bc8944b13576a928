// The masks of the first n lanes of a vector of 8, 16 or 32 (n <= 0: none; n at or past the width: all), for
// the masked loads and stores that end the AVX-512 row loops. Include only from a file compiled for avx512f/bw
// (a `#pragma GCC target` region); internal to each includer, like the loops that use them.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace dsa {
namespace {

inline __mmask8 first8(int64_t n) {
  return n >= 8 ? __mmask8{0xff} : n <= 0 ? __mmask8{0} : static_cast<__mmask8>((1u << n) - 1u);
}
inline __mmask16 first16(int64_t n) {
  return n >= 16 ? __mmask16{0xffff} : n <= 0 ? __mmask16{0} : static_cast<__mmask16>((1u << n) - 1u);
}
inline __mmask32 first32(int64_t n) {
  return n >= 32 ? ~__mmask32{0} : n <= 0 ? __mmask32{0} : static_cast<__mmask32>((1u << n) - 1u);
}

}  // namespace
}  // namespace dsa
