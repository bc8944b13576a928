// Lightning-indexer scores of f8_e4m3 keys on AVX-512-BF16 (see indexer-avx512bf16.h). The keys are in
// the vector lanes: 16 keys at a time are transposed as bytes (each 32-bit lane of a row is two key
// elements, a bf16 pair after decoding) and decoded to bf16 by table lookup (fp8-avx512.h's tables
// hold the top 16 bits of each e4m3's f32, i.e. its bf16), giving kp[p] [16 keys] = the pair
// (2p, 2p + 1) of every key. Then, for every head h, acc_h [16 keys] += vdpbf16ps(kp[p], q_h's pair p
// broadcast from memory) over the pairs p, and score = scale · Σ_h w[h] · ReLU(acc_h): no horizontal
// sums. e4m3 values and the bf16-exact q are exact in bf16 and their products exact in f32, so the
// scores differ from an f32 dot product by the order of the sums only.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "indexer-avx512bf16.h"

#include "cpu-features.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi,avx512bf16,amx-tile,amx-bf16")
#include "amx-tile-config.h"
#include "fp8-avx512.h"

namespace dsa {
namespace {

// The bf16 of q's value when it is exact (its low 16 bits zero) and every product with an e4m3 key is a
// normal f32 (vdpbf16ps flushes subnormals): zero, or a magnitude in [2^-100, 2^100]. Else -1.
int32_t bf16_exact(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  if ((bits & 0xffffu) != 0) return -1;
  const uint32_t exponent = (bits >> 23) & 0xffu;
  if ((bits & 0x7fffffffu) != 0 && (exponent < 127 - 100 || exponent > 127 + 100)) return -1;
  return static_cast<int32_t>(bits >> 16);
}

// kp[32 b + p] (p in [0, 32)) = the bf16 pairs (64 b + 2p, 64 b + 2p + 1) of keys k[0..15], from bytes
// 64 b .. 64 b + 63 of each key: a transpose of 16-bit units (unpack 16, unpack 32, then two rounds of
// 128-bit block shuffles), then the table decode of each byte to the bf16 word it becomes.
inline void transpose_decode64(const Fp8Table& table, const uint8_t* const k[16], int64_t offset, __m512i* kp) {
  __m512i r[16], a[16];
  for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_si512(k[i] + offset);
  // a[2i], a[2i+1]: keys 2i, 2i+1 interleaved by pair (pairs 0-3 / 4-7 of each 128-bit block).
  for (int i = 0; i < 8; i++) {
    a[2 * i] = _mm512_unpacklo_epi16(r[2 * i], r[2 * i + 1]);
    a[2 * i + 1] = _mm512_unpackhi_epi16(r[2 * i], r[2 * i + 1]);
  }
  // b[4g + x]: keys 4g..4g+3; block L holds their pair 8L + 2x (bytes 0-7) and 8L + 2x + 1 (bytes 8-15).
  __m512i b[16];
  for (int g = 0; g < 4; g++) {
    const __m512i lo01 = a[4 * g], hi01 = a[4 * g + 1], lo23 = a[4 * g + 2], hi23 = a[4 * g + 3];
    b[4 * g + 0] = _mm512_unpacklo_epi32(lo01, lo23);
    b[4 * g + 1] = _mm512_unpackhi_epi32(lo01, lo23);
    b[4 * g + 2] = _mm512_unpacklo_epi32(hi01, hi23);
    b[4 * g + 3] = _mm512_unpackhi_epi32(hi01, hi23);
  }
  const __m512i sign = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int x = 0; x < 4; x++) {
    // o[L]: block g = block L of b[4g + x] (keys 4g..4g+3 at pairs 8L + 2x, 8L + 2x + 1).
    const __m512i t01lo = _mm512_shuffle_i64x2(b[x], b[4 + x], 0x44), t01hi = _mm512_shuffle_i64x2(b[x], b[4 + x], 0xee);
    const __m512i t23lo = _mm512_shuffle_i64x2(b[8 + x], b[12 + x], 0x44), t23hi = _mm512_shuffle_i64x2(b[8 + x], b[12 + x], 0xee);
    __m512i o[4];
    o[0] = _mm512_shuffle_i64x2(t01lo, t23lo, 0x88);
    o[1] = _mm512_shuffle_i64x2(t01lo, t23lo, 0xdd);
    o[2] = _mm512_shuffle_i64x2(t01hi, t23hi, 0x88);
    o[3] = _mm512_shuffle_i64x2(t01hi, t23hi, 0xdd);
    for (int L = 0; L < 4; L++) {
      const __m512i bytes = o[L];
      const __m512i hi = _mm512_ternarylogic_epi32(_mm512_permutex2var_epi8(table.hi0, bytes, table.hi1), bytes, sign, 0xf8);
      const __m512i lo = _mm512_permutex2var_epi8(table.lo0, bytes, table.lo1);
      kp[8 * L + 2 * x] = _mm512_unpacklo_epi8(lo, hi);
      kp[8 * L + 2 * x + 1] = _mm512_unpackhi_epi8(lo, hi);
    }
  }
}

// acc += Σ over the pair's two products, the pair q (a 32-bit bf16 pair) broadcast from memory ({1to16}:
// compilers do not fold the broadcast into vdpbf16ps themselves).
inline __m512 dpbf16_bcast(__m512 acc, __m512bh k, const int32_t* q) {
  __asm__("vdpbf16ps %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(k), "m"(*q));
  return acc;
}

// total += Σ_{h < HB} w[h] · ReLU(Σ_p kp[p] · q[h][p]) for HB heads (qp: [P][HB] bf16 pairs).
template <int HB>
inline __m512 heads(const __m512i* kp, int64_t P, const int32_t* qp, const float* w, __m512 total) {
  __m512 acc[HB];
#pragma GCC unroll 16
  for (int h = 0; h < HB; h++) acc[h] = _mm512_setzero_ps();
  for (int64_t p = 0; p < P; p++, qp += HB) {
    const __m512bh k = (__m512bh)_mm512_load_si512(kp + p);
#pragma GCC unroll 16
    for (int h = 0; h < HB; h++) acc[h] = dpbf16_bcast(acc[h], k, qp + h);
  }
  const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 16
  for (int h = 0; h < HB; h++) total = _mm512_fmadd_ps(_mm512_set1_ps(w[h]), _mm512_max_ps(acc[h], zero), total);
  return total;
}

// The same sum on AMX tiles (where has_amx_bf16()): the decoded key pairs of 16 keys are B tiles as they lie
// (kp + 16 c: 16 pairs × 16 keys), q the A tiles (qa: [groups of 16 heads][chunks of 16 pairs][16 heads]
// [16 pairs], zero past Hi, a group P · 16 pairs apart), C = the 16 × 16 head · key dot products of a group, then w · ReLU added into
// total head by head in ascending order, as heads() does. Tiles: C 0, A 1, B 2 (16 × 64 bytes each).
inline __m512 heads_amx(const __m512i* kp, int64_t P, const int32_t* qa, const float* w, int64_t Hi, __m512 total) {
  alignas(64) float c[16 * 16];
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t h0 = 0; h0 < Hi; h0 += 16, qa += P * 16) {
    _tile_zero(0);
    for (int64_t p = 0; p < P; p += 16) {
      _tile_loadd(1, qa + p * 16, 64);
      _tile_loadd(2, kp + p, 64);
      _tile_dpbf16ps(0, 1, 2);
    }
    _tile_stored(0, c, 64);
    for (int64_t h = h0; h < std::min(Hi, h0 + 16); h++)
      total = _mm512_fmadd_ps(_mm512_set1_ps(w[h]), _mm512_max_ps(_mm512_load_ps(c + (h - h0) * 16), zero), total);
  }
  return total;
}

using HeadsFn = __m512 (*)(const __m512i*, int64_t, const int32_t*, const float*, __m512);

HeadsFn heads_for(int64_t hb) {
  static constexpr HeadsFn table[] = {nullptr,    heads<1>,  heads<2>,  heads<3>,  heads<4>,  heads<5>,
                                      heads<6>,   heads<7>,  heads<8>,  heads<9>,  heads<10>, heads<11>,
                                      heads<12>,  heads<13>, heads<14>, heads<15>, heads<16>};
  return table[hb];
}

}  // namespace

bool indexer_scores_fp8_avx512bf16(const float* q, const float* w, int64_t Hi, int64_t Di, const uint8_t* const* rows,
                                   const float* const* scales, int64_t n, float* score) {
  if (Hi < 1 || Di < 64 || Di % 64 != 0 || Di > 4096) return false;
  const int64_t P = Di / 2;
  // Head blocks of up to 16 (16 accumulators, the key pairs from L1).
  const int64_t blocks = (Hi + 15) / 16, hb = (Hi + blocks - 1) / blocks;
  // q as bf16 pairs (low word: element 2p), when exact, in the layout the loop below reads. vdpbf16ps: block
  // h0 / hb of heads [h0, h0 + n) at qp + h0 · P, [P][n]. AMX (Di a multiple of 64, so P of 16): A tiles,
  // qp[g][c][i][j] = head 16 g + i's pair 16 c + j, zero past Hi.
  const bool amx = has_amx_bf16();
  thread_local std::vector<int32_t> qp_buffer;
  std::vector<int32_t>& qp = qp_buffer;
  if (amx)
    qp.assign(static_cast<size_t>((Hi + 15) / 16 * 16 * P), 0);
  else
    qp.resize(static_cast<size_t>(Hi * P));
  for (int64_t h = 0; h < Hi; h++) {
    const int64_t h0 = h / hb * hb, heads_in_block = std::min(hb, Hi - h0);
    for (int64_t p = 0; p < P; p++) {
      const int32_t even = bf16_exact(q[h * Di + 2 * p]), odd = bf16_exact(q[h * Di + 2 * p + 1]);
      if (even < 0 || odd < 0) return false;
      const int64_t at = amx ? h / 16 * P * 16 + p / 16 * 256 + h % 16 * 16 + p % 16 : h0 * P + p * heads_in_block + (h - h0);
      qp[at] = static_cast<int32_t>(static_cast<uint32_t>(even) | (static_cast<uint32_t>(odd) << 16));
    }
  }
  if (amx) {
    AmxTileConfig config;
    config.tile(0, 16, 64).tile(1, 16, 64).tile(2, 16, 64).load();
  }
  static const Fp8Table table;
  alignas(64) static const uint8_t zero_row[4096] = {};
  // The decoded key pairs of 16 keys, [P] vectors (64-byte aligned).
  thread_local std::vector<uint8_t> kp_buffer;
  kp_buffer.resize(static_cast<size_t>(P * 64 + 64));
  __m512i* kp = reinterpret_cast<__m512i*>((reinterpret_cast<uintptr_t>(kp_buffer.data()) + 63) & ~uintptr_t{63});
  const HeadsFn full = heads_for(hb), last = heads_for(Hi - (blocks - 1) * hb);
  for (int64_t t0 = 0; t0 < n; t0 += 16) {
    const int64_t count = n - t0 < 16 ? n - t0 : 16;
    const uint8_t* k[16];
    alignas(64) float s[16];
    for (int64_t i = 0; i < 16; i++) {
      k[i] = i < count ? rows[t0 + i] : zero_row;
      s[i] = i < count && scales != nullptr ? *scales[t0 + i] : 1.0f;
    }
    // The keys of the block kAhead blocks on (the cache's weights stream between decode steps: the keys
    // come from memory).
    constexpr int64_t kAhead = 4;
    for (int64_t i = t0 + 16 * kAhead, e = std::min(n, t0 + 16 * kAhead + 16); i < e; i++)
      for (int64_t b = 0; b < Di; b += 64) _mm_prefetch(reinterpret_cast<const char*>(rows[i] + b), _MM_HINT_T0);
    for (int64_t b = 0; b < Di / 64; b++) transpose_decode64(table, k, 64 * b, kp + 32 * b);
    __m512 total = _mm512_setzero_ps();
    if (amx) {
      total = heads_amx(kp, P, qp.data(), w, Hi, total);
    } else {
      for (int64_t h0 = 0; h0 < Hi; h0 += hb) {
        const HeadsFn f = h0 + hb < Hi ? full : last;
        total = f(kp, P, qp.data() + h0 * P, w + h0, total);
      }
    }
    const __m512 r = _mm512_mul_ps(total, _mm512_load_ps(s));
    if (count == 16)
      _mm512_storeu_ps(score + t0, r);
    else
      _mm512_mask_storeu_ps(score + t0, static_cast<__mmask16>((1u << count) - 1u), r);
  }
  if (amx) _tile_release();
  return true;
}

}  // namespace dsa

#pragma GCC pop_options
