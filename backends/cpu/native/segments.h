// Splitting element-wise work into (row, column range) segments for the thread pool, and per-thread
// scratch rows.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "pool.h"

namespace dsa {

// Calls f(row, c0, c1) for every row in [0, rows) and column range of at most 16384 columns, in
// parallel when there are enough elements.
template <class F>
void for_each_segment(const Context& ctx, int64_t rows, int64_t cols, F&& f) {
  constexpr int64_t kChunk = 16384;
  if (rows <= 0 || cols <= 0) return;
  int64_t per_row = (cols + kChunk - 1) / kChunk;
  int64_t units = rows * per_row;
  int64_t grain = std::max<int64_t>(1, 32768 / std::min(cols, kChunk));
  parallel_for(ctx, units, grain, [&](int64_t begin, int64_t end) {
    for (int64_t u = begin; u < end; u++) {
      int64_t r = u / per_row;
      int64_t c0 = (u % per_row) * kChunk;
      f(r, c0, std::min(cols, c0 + kChunk));
    }
  });
}

// A per-thread scratch array of at least n elements (slot picks one of several per thread).
template <class T, int Slot = 0>
T* scratch(int64_t n) {
  thread_local std::vector<T> buffer;
  if (static_cast<int64_t>(buffer.size()) < n) buffer.resize(static_cast<size_t>(n));
  return buffer.data();
}

}  // namespace dsa
