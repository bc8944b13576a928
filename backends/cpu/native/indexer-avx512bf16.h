// The AVX-512-BF16 scoring loop of the lightning indexer's fp8 path (indexer.cc): every head of one
// query against a run of cached f8_e4m3 keys, 16 keys per vector (vdpbf16ps on bf16 pairs).
#pragma once

#include <cstdint>

namespace dsa {

// score[t] = scale[t] · Σ_h w[h] · ReLU(q[h, :] · key_t) for t in [0, n), key_t = rows[t] (Di f8_e4m3
// values), scale[t] = *scales[t] (1 when scales is null). q is [Hi, Di] f32, w [Hi]. Exact products
// (the sums in another order than a plain f32 loop). Returns false (computing nothing) when Di is not a
// multiple of 64 up to 4096, or when an element of q is not exact in bf16 (or so small or large that a
// product could leave the normal f32 range): the caller then scores another way. The caller checks the
// CPU first (AVX-512 F/BW/DQ/VL, VBMI and BF16).
bool indexer_scores_fp8_avx512bf16(const float* q, const float* w, int64_t Hi, int64_t Di, const uint8_t* const* rows,
                                   const float* const* scales, int64_t n, float* score);

}  // namespace dsa
