// The AVX-512 scoring loop of the lightning indexer (indexer.cc): every head of one query against a
// run of cached keys, one pass over each key.
#pragma once

#include <cstdint>

#include "dtype.h"

namespace dsa {

// score[t] = Σ_h w[h] · ReLU(scale[t] · q[h, :] · key_t) for t in [0, n), key_t = rows[t] (Di values of
// dtype f32 or f8_e4m3), scale[t] = *scales[t] (1 when scales is null). q is [Hi, Di] f32, w [Hi].
// Returns false (computing nothing) when the shape or dtype has no fast path: Hi must divide 16 or be a
// multiple of 16 up to 128, Di a multiple of 16 (of 64 for f8_e4m3). The caller checks the CPU first
// (AVX-512 F/BW/DQ/VL and, for f8_e4m3, VBMI).
bool indexer_scores_avx512(const float* q, const float* w, int64_t Hi, int64_t Di, const uint8_t* const* rows,
                           DType dtype, const float* const* scales, int64_t n, float* score);

}  // namespace dsa
