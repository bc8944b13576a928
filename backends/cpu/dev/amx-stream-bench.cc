// Microbenchmark: AMX tile streaming of bf16 weights from memory at M = 1 (2 threads, each half of every matrix's
// rows), over copies of an N x K matrix that pass 2.4 GB (beyond this VM's last-level cache). Variants:
//   0: A tiles loaded in place (16 rows x 64 bytes with the row stride), as gemm-amx-bf16.cc does;
//   1: each 16-row block read in address order with vector loads into a tile-ordered buffer, tiles from there;
//   2: 1 with a prefetch `dist` lines ahead of the copy;
//   3: 0 with prefetches in address order ahead of the tile loads.
// Session 17 on the 2-core Xeon VM: 0 reads 27 GB/s at K = 1024 (the read probe's rate), 22.8 at K = 384, 19.8 at
// K = 96; 1 and 2 are slower at K >= 384 (19-22), 2 is 10% faster at K = 96; 3 is no better than 0.
// Build (one line, from the repository root; x86-64 with AMX-BF16 and Linux 5.16+):
//   g++ -O2 -march=native -mamx-tile -mamx-bf16 -pthread -I backends/cpu/native -o /tmp/amx-stream-bench
//     backends/cpu/dev/amx-stream-bench.cc
// then run: /tmp/amx-stream-bench 1024 1024; /tmp/amx-stream-bench 1536 384; /tmp/amx-stream-bench 1024 96
// (The config goes through an asm memory clobber: without it this file's -O2 build faulted in ldtilecfg.)
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>
#include "amx-tile-config.h"
static void cfg() { dsa::AmxTileConfig c; for (int t = 0; t < 8; t++) c.tile(t, 16, 64); asm volatile("" : : "r"(&c) : "memory"); c.load(); }
int N, K, copies, variant, dist;
std::vector<uint16_t*> ws;
alignas(64) uint32_t xt[64 * 256];  // B tiles of x (K/32 chunks)
float out[2][65536];
static void run(int t, int copy) {
  const uint16_t* w = ws[copy];
  const int n0 = N * t / 2, n1 = N * (t + 1) / 2, chunks = K / 32;
  alignas(64) static thread_local uint16_t buf[64 * 16 * 32];
  alignas(64) float c0[256], c1[256];
  for (int n = n0; n < n1; n += 32) {
    _tile_zero(0); _tile_zero(1);
    if (variant == 0 || variant == 3) {
      const uint16_t* a0 = w + (size_t)n * K; const uint16_t* a1 = a0 + 16 * K;
      for (int c = 0; c < chunks; c++) {
        if (variant == 3) { const char* p = (const char*)(a0) + dist * 64 + c * 2048; for (int i = 0; i < 2 * 32 * K * 2 / 2048 / chunks + 1; i++) _mm_prefetch(p + i * 64, _MM_HINT_T0); }
        _tile_loadd(4, a0 + 32 * c, K * 2); _tile_loadd(6, xt + c * 256, 64); _tile_dpbf16ps(0, 4, 6);
        _tile_loadd(5, a1 + 32 * c, K * 2); _tile_dpbf16ps(1, 5, 6);
      }
    } else {
      for (int half = 0; half < 2; half++) {
        const uint16_t* a = w + (size_t)(n + 16 * half) * K;
        // sequential read of 16 rows into tile order
        for (int r = 0; r < 16; r++)
          for (int c = 0; c < chunks; c++) {
            if (variant == 2) _mm_prefetch((const char*)(a + r * K + 32 * c) + dist * 64, _MM_HINT_T0);
            _mm512_store_si512(buf + (c * 16 + r) * 32, _mm512_loadu_si512(a + r * K + 32 * c));
          }
        for (int c = 0; c < chunks; c++) {
          _tile_loadd(4, buf + c * 512, 64); _tile_loadd(6, xt + c * 256, 64); if (half) _tile_dpbf16ps(1, 4, 6); else _tile_dpbf16ps(0, 4, 6);
        }
      }
    }
    _tile_stored(0, c0, 64); _tile_stored(1, c1, 64);
    for (int i = 0; i < 16; i++) { out[t][n + i - n0] = c0[i * 16]; out[t][n + 16 + i - n0] = c1[i * 16]; }
  }
}
int main(int argc, char** argv) {
  if (syscall(SYS_arch_prctl, 0x1023, 18) != 0) return std::fprintf(stderr, "no AMX tile permission\n"), 1;
  cfg();
  N = atoi(argv[1]); K = atoi(argv[2]);
  size_t bytes = (size_t)N * K * 2;
  copies = static_cast<int>((size_t{2400} << 20) / bytes);
  for (int i = 0; i < copies; i++) { uint16_t* p = (uint16_t*)aligned_alloc(64, bytes); memset(p, 0x3f, bytes); ws.push_back(p); }
  for (int i = 0; i < 64 * 256; i++) xt[i] = 0x3f803f80;
  std::atomic<int> go{0}, done{0};
  std::thread th([&] { cfg(); int seen = 0; while (true) { while (go.load() == seen) {} seen = go.load(); if (seen < 0) break; for (int c = 0; c < copies; c++) run(1, c); done++; } });
  cfg();
  for (int v : {0, 1, 2, 3, 0, 1, 2, 3}) {
    variant = v;
    for (int d : (v >= 2 ? std::vector<int>{16, 64} : std::vector<int>{0})) {
      dist = d;
      double best = 1e9;
      for (int rep = 0; rep < 3; rep++) {
        auto t0 = std::chrono::steady_clock::now();
        int target = done.load() + 1;
        go++;
        for (int c = 0; c < copies; c++) run(0, c);
        while (done.load() < target) {}
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      printf("N=%d K=%d variant %d dist %d: %.1f GB/s (%.1f us per matrix)\n", N, K, v, d, bytes * copies / best / 1e9, best / copies * 1e6);
    }
  }
  go.store(-1); th.join();
}
