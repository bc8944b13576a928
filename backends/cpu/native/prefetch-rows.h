// Software prefetch of gathered rows (the latent rows a sparse attention query selects).
#pragma once

#include <cstdint>

namespace dsa {

// Asks for rows[0, count), `bytes` each, to be brought into L2 ahead of the products that read them. The rows lie
// scattered over the cache, and read in turn their loads wait on memory a few lines at a time: asked for at once
// they arrive at the memory's rate (the f32 precision's attention: small's one query from memory 7-8% faster; the
// bf16 precision's pack, which reads each row with independent loads, measured no change with all its rows asked
// for at once, and asks for one row 8 ahead of the one it converts, or the next 16-row block of bf16 rows, instead;
// both on the 2-core Xeon VM). At most the
// first 512 KB are asked for: half of the smaller L2 of the machines we measure on (a Zen 4 core's 1 MB; the
// Xeon's is 2 MB), since V3.2's 2048 rows of 2304 bytes (4.6 MB) would evict their own first rows before the
// products reach them.
inline void prefetch_rows_l2(const uint8_t* const* rows, int64_t count, int64_t bytes) {
  constexpr int64_t kMaxBytes = int64_t{512} << 10;
  if (bytes > 0 && count * bytes > kMaxBytes) count = kMaxBytes / bytes;
  for (int64_t t = 0; t < count; t++)
    for (int64_t o = 0; o < bytes; o += 64) __builtin_prefetch(reinterpret_cast<const char*>(rows[t]) + o, 0, 2);
}

}  // namespace dsa
