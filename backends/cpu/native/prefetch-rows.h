// Software prefetch of gathered rows (the latent rows a sparse attention query selects).
#pragma once

#include <cstdint>

namespace dsa {

// Asks for rows[0, count), `bytes` each, to be brought into L2 ahead of the products that read them. The rows lie
// scattered over the cache, and read in turn their loads wait on memory a few lines at a time: asked for at once
// they arrive at the memory's rate (small's one-query attention from memory 8-10% faster in both precisions).
inline void prefetch_rows_l2(const uint8_t* const* rows, int64_t count, int64_t bytes) {
  for (int64_t t = 0; t < count; t++)
    for (int64_t o = 0; o < bytes; o += 64) __builtin_prefetch(reinterpret_cast<const char*>(rows[t]) + o, 0, 2);
}

}  // namespace dsa
