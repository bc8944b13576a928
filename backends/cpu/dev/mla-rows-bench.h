// The attention benches' row selection (mla-pack-bench.cc, mla-query-bench.cc): one query's T gathered latent rows
// of W elements, drawn at random from a window of `window` consecutive rows of a pool (one sequence's cache at a
// depth), in ascending order as the selector emits them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

namespace mla_rows_bench {

template <class Element>
void pick_rows(std::vector<const uint8_t*>& rows, const Element* pool, size_t pool_rows, int64_t W, int64_t T,
               size_t window, std::mt19937& rng) {
  const size_t first = rng() % std::max<size_t>(1, pool_rows / window) * window;
  rows.resize(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; t++)
    rows[t] = reinterpret_cast<const uint8_t*>(pool + (first + rng() % window) % pool_rows * W);
  std::sort(rows.begin(), rows.end());
}

}  // namespace mla_rows_bench
