// quantizeFp8 of one dense f32 row on AVX-512 (fp8-quantize-avx512.cc), bit for bit the scalar walk of fp8.cc.
#pragma once

#include <cstdint>

namespace dsa {

// q[0, d) = e4m3(clamp(f32(x / scale_b), ±448)), scales[b] = the block's scale (f32(amax / 448), or
// ue8m0_scale(amax) when ue8m0), for blocks b of block_size values; amax = max(|x| over the block, 1e-4).
// Returns false for a row holding an Infinity or a NaN, possibly having written its earlier blocks: the caller's
// scalar walk then rewrites the whole row.
bool quantize_fp8_row_avx512(const float* x, int64_t d, int64_t block_size, bool ue8m0, uint8_t* q, float* scales,
                             double (*ue8m0_scale)(double));

}  // namespace dsa
