// AmxTileConfig: ldtilecfg's 64-byte operand (palette 1) for the AMX kernels (gemm-amx-bf16.cc,
// attention-amx-bf16.cc, indexer-avx512bf16.cc, fma-peak.cc). load() needs an `amx-tile` target where it is called. The _tile_* intrinsics are
// GCC macros that paste their tile argument into the instruction text, so tile numbers stay literals.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace dsa {
namespace {

struct alignas(64) AmxTileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};

  // Tile t: `r` rows of `bytes` bytes.
  AmxTileConfig& tile(int t, int r, int bytes) {
    rows[t] = static_cast<uint8_t>(r);
    colsb[t] = static_cast<uint16_t>(bytes);
    return *this;
  }
  // ldtilecfg: the calling thread's tiles take these shapes (and are zeroed).
  void load() const { _tile_loadconfig(this); }
};

}  // namespace
}  // namespace dsa
