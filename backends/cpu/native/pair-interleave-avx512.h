// PairInterleave: two rows of bf16 interleaved into VNNI pairs (the AMX and vdpbf16ps B layouts: one 32-bit lane
// per column holding (row 0, row 1)), for attention's packed values (attention-avx512bf16.cc) and matmul's B
// tiles (gemm-amx-bf16.cc). Include inside an AVX-512 `#pragma GCC target` region; internal linkage, so each
// file gets its own copy for its own target.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace dsa {
namespace {

struct PairInterleave {
  __m512i lo, hi;
  PairInterleave() {
    // Output element 2l (2l + 1): column l of the first (second) row; l + 16 for the high half.
    alignas(64) uint16_t lo_idx[32], hi_idx[32];
    for (int l = 0; l < 16; l++) {
      lo_idx[2 * l] = static_cast<uint16_t>(l);
      lo_idx[2 * l + 1] = static_cast<uint16_t>(32 + l);
      hi_idx[2 * l] = static_cast<uint16_t>(16 + l);
      hi_idx[2 * l + 1] = static_cast<uint16_t>(48 + l);
    }
    lo = _mm512_load_si512(lo_idx);
    hi = _mm512_load_si512(hi_idx);
  }
  // Columns 0-15 (16-31) of x and y (32 bf16 each) as 16 pairs (x[j], y[j]).
  __m512i low(__m512i x, __m512i y) const { return _mm512_permutex2var_epi16(x, lo, y); }
  __m512i high(__m512i x, __m512i y) const { return _mm512_permutex2var_epi16(x, hi, y); }
};

}  // namespace
}  // namespace dsa
