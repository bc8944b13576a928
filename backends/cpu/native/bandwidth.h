#pragma once

#include <cstdint>

namespace dsa {

// Reads a freshly allocated buffer of `bytes` bytes `passes` times with up to `threads` pool threads;
// returns the best read bandwidth in GB/s (1e9 bytes per second).
double memory_read_bandwidth(int64_t bytes, int threads, int passes = 3);

}  // namespace dsa
