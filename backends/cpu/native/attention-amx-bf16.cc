// The two products of absorbed MLA attention in the bf16 precision (attention-avx512bf16.h) on AMX tiles,
// where has_amx_bf16() and the heads come in groups of 16, on layouts the pack already makes:
//   scores: A = 16 gathered rows of block b as they lie in `natural` (16 rows × 32 bf16), B = q's pairs
//           transposed into tiles (16 K pairs × 16 heads), C = logits transposed [16 rows × 16 heads], summed
//           over the K pair chunks in order (no keys layout: mla_pack_bf16 skips it);
//   values: A = pb (16 heads × 16 pairs of rows), B = values (16 pairs of rows × 16 columns, `cvecs` vectors
//           apart), C = out [16 heads × 16 columns], summed over the chunks of row pairs in order; an odd
//           number of 16-row blocks ends on a chunk of 8 row pairs (tiles 6-7).
// Each logit and output is the same TDPBF16PS chain whatever the thread split or the other queries of the
// batch (not the vdpbf16ps tiles' bits: the pairs are summed in another order).
#include <immintrin.h>

#include <vector>

#include "attention-avx512bf16.h"
#include "cpu-features.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,amx-tile,amx-bf16")

#include "amx-tile-config.h"
#include "transpose16-avx512.h"

namespace dsa {
namespace {

// C 0 (16 × 64 bytes), A 4 and B 5 (16 × 64), the 8-pair tail's A 6 (16 × 32) and B 7 (8 × 64).
AmxTileConfig attention_tiles() {
  AmxTileConfig config;
  config.tile(0, 16, 64).tile(4, 16, 64).tile(5, 16, 64).tile(6, 16, 32).tile(7, 8, 64);
  return config;
}

}  // namespace

bool mla_amx_applies(int64_t H) { return H > 0 && H % 16 == 0 && has_amx_bf16(); }

void mla_scores_amx(const uint32_t* qb, int64_t H, const MlaPackedBf16& packed, float* logits, int64_t ldl,
                    int64_t b0, int64_t b1) {
  const int64_t P = packed.pairs, chunks = P / 16, width = 2 * P;  // P a multiple of 16; width: a natural row
  // q's B tiles: [H / 16][chunks][16 pairs][16 heads], each 16 × 16 block of qb transposed.
  thread_local std::vector<uint32_t> qt_buffer;
  qt_buffer.resize(static_cast<size_t>(H * P + 16));
  uint32_t* qt = reinterpret_cast<uint32_t*>((reinterpret_cast<uintptr_t>(qt_buffer.data()) + 63) & ~uintptr_t{63});
  for (int64_t h = 0; h < H; h += 16)
    for (int64_t c = 0; c < chunks; c++) {
      __m512i r[16];
      for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_si512(qb + (h + i) * P + 16 * c);
      transpose16(r);  // r[p] lane i = head h + i's pair 16 c + p
      uint32_t* tile = qt + (h / 16 * chunks + c) * 256;
      for (int p = 0; p < 16; p++) _mm512_store_si512(tile + 16 * p, r[p]);
    }
  attention_tiles().load();
  alignas(64) uint32_t ct[16 * 16];
  for (int64_t h = 0; h < H; h += 16)
    for (int64_t b = b0; b < b1; b++) {
      _tile_zero(0);
      const uint16_t* rows = packed.natural.data() + 16 * b * width;
      for (int64_t c = 0; c < chunks; c++) {
        _tile_loadd(4, rows + 32 * c, width * 2);
        _tile_loadd(5, qt + (h / 16 * chunks + c) * 256, 64);
        _tile_dpbf16ps(0, 4, 5);
      }
      _tile_stored(0, ct, 64);
      __m512i r[16];
      for (int i = 0; i < 16; i++) r[i] = _mm512_load_si512(ct + 16 * i);
      transpose16(r);  // r[j] lane i = head h + j's logit of row 16 b + i
      for (int j = 0; j < 16; j++) _mm512_storeu_si512(logits + (h + j) * ldl + 16 * b, r[j]);
    }
  _tile_release();
}

void mla_values_amx(const uint32_t* pb, int64_t ldp, int64_t H, const MlaPackedBf16& packed, int64_t C, float* out,
                    int64_t ldo, int64_t v0, int64_t v1) {
  attention_tiles().load();
  const int64_t V = packed.cvecs, pairs = packed.blocks * 8;  // pb holds at least `pairs` (zero past T)
  alignas(64) float tile[16 * 16];
  for (int64_t h = 0; h < H; h += 16)
    for (int64_t v = v0; v < v1; v++) {
      _tile_zero(0);
      int64_t i = 0;
      for (; i + 16 <= pairs; i += 16) {
        _tile_loadd(4, pb + h * ldp + i, ldp * 4);
        _tile_loadd(5, packed.values.data() + (i * V + v) * 32, V * 64);
        _tile_dpbf16ps(0, 4, 5);
      }
      if (i < pairs) {  // 8 pairs of rows
        _tile_loadd(6, pb + h * ldp + i, ldp * 4);
        _tile_loadd(7, packed.values.data() + (i * V + v) * 32, V * 64);
        _tile_dpbf16ps(0, 6, 7);
      }
      if (16 * v + 16 <= C) {
        _tile_stored(0, out + h * ldo + 16 * v, ldo * 4);
      } else {
        _tile_stored(0, tile, 64);
        for (int64_t r = 0; r < 16; r++)
          for (int64_t c = 16 * v; c < C; c++) out[(h + r) * ldo + c] = tile[r * 16 + c - 16 * v];
      }
    }
  _tile_release();
}

}  // namespace dsa

#pragma GCC pop_options
