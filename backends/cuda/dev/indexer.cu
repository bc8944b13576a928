// Lightning-indexer benchmark and check (kernels/fused/indexer-scores.cu + top-k.cu), the fused
// indexerTopK of one layer: 64 heads × 128, fp8 e4m3 keys with a power-of-two scale per token, paged
// (block 64), decode queries (one per sequence, at the last position), depths 8K / 32K / 128K, batch
// 1 and 16, k = 2048. Checks: scores vs a CPU f64 reference (relative error) and top-k indices vs the
// CPU selection over the GPU's own scores (exact), on a small batch; prints µs per layer.
// Build: nvcc -arch=sm_90a -O3 -std=c++17 -o indexer dev/indexer.cu
#include "../kernels/fused/indexer-scores.cu"
#include "../kernels/fused/top-k.cu"
#include "kernels/top-k-v1-v3.cu"
#include "dev-common.h"
#include "top-k-launch.h"

using namespace dev;

struct Problem {
  int batch, depth, heads = 64, width = 128, block = 64, k = 2048;
  std::vector<float> q, w, scales;
  std::vector<uint8_t> keys;
  std::vector<int32_t> positions, sequence_ids, table;
  int max_blocks = 0;
  int64_t slots = 0;
};

static Problem make(int batch, int depth, Random& rng) {
  Problem p;
  p.batch = batch;
  p.depth = depth;
  p.max_blocks = (depth + p.block - 1) / p.block;
  const int blocks = batch * p.max_blocks;
  p.slots = static_cast<int64_t>(blocks) * p.block;
  std::vector<int32_t> perm(blocks);
  for (int i = 0; i < blocks; i++) perm[i] = i;
  for (int i = blocks - 1; i > 0; i--) std::swap(perm[i], perm[rng.below(i + 1)]);
  p.table = perm;  // sequence b owns blocks perm[b·max_blocks ...]
  p.keys.resize(static_cast<size_t>(p.slots) * p.width);
  for (auto& b : p.keys) b = random_fp8(rng, 9);
  p.scales.resize(p.slots);
  for (auto& s : p.scales) s = std::ldexp(1.0f, -8 + rng.below(4));
  p.q.resize(static_cast<size_t>(batch) * p.heads * p.width);
  for (auto& v : p.q) v = fp8_to_f32(random_fp8(rng, 9)) * 0.0625f;  // dequantized fp8 q (exact)
  p.w.resize(static_cast<size_t>(batch) * p.heads);
  for (auto& v : p.w) v = rng.normal() * 0.1f;
  for (int b = 0; b < batch; b++) {
    p.positions.push_back(depth - 1);
    p.sequence_ids.push_back(b);
  }
  return p;
}

// impl 1: v1 scores (f32 FMA) + v1 top-k; impl 2: v2 scores (bf16 tensor cores) + v2 top-k.
static void run(int batch, int depth, bool validate, Random& rng, int impl) {
  Problem p = make(batch, depth, rng);
  float *dq = to_device(p.q), *dw = to_device(p.w), *ds = to_device(p.scales);
  uint8_t* dk = to_device(p.keys);
  int32_t *dpos = to_device(p.positions), *dseq = to_device(p.sequence_ids), *dtab = to_device(p.table);
  float* scores = nullptr;
  int32_t* out = nullptr;
  CUDA_CHECK(cudaMalloc(&scores, sizeof(float) * batch * static_cast<size_t>(depth)));
  CUDA_CHECK(cudaMalloc(&out, sizeof(int32_t) * batch * static_cast<size_t>(p.k)));
  auto layer = [&] {
    if (impl == 1)
      dsa_fused_indexer_scores<<<dim3((depth + 63) / 64, batch), 256>>>(
          scores, depth, dq, dw, dk, dsa_fused::kF8E4M3, ds, dpos, dseq, dtab, p.max_blocks, p.block, p.heads, p.width);
    else
      dsa_fused_indexer_scores2<<<dim3((depth + 255) / 256, batch), 256>>>(
          scores, depth, dq, dw, dk, dsa_fused::kF8E4M3, ds, dpos, dseq, dtab, p.max_blocks, p.block, p.heads, p.width);
    launch_top_k(scores, depth, dpos, batch, depth, p.k, out, 0, impl);
  };
  layer();
  CUDA_CHECK(cudaGetLastError());
  CUDA_CHECK(cudaDeviceSynchronize());
  bool ok = true;
  if (validate) {
    auto got = to_host(scores, static_cast<size_t>(batch) * depth);
    auto idx = to_host(out, static_cast<size_t>(batch) * p.k);
    double max_rel = 0;
    for (int b = 0; b < batch; b++) {
      std::vector<double> ref(depth);
      double scale_max = 1e-30;
      for (int t = 0; t < depth; t++) {
        const int64_t slot = static_cast<int64_t>(p.table[b * p.max_blocks + t / p.block]) * p.block + t % p.block;
        double sum = 0;
        for (int h = 0; h < p.heads; h++) {
          double dot = 0;
          for (int d = 0; d < p.width; d++)
            dot += static_cast<double>(p.q[(static_cast<size_t>(b) * p.heads + h) * p.width + d]) *
                   fp8_to_f32(p.keys[slot * p.width + d]);
          sum += p.w[b * p.heads + h] * std::max(0.0, dot);
        }
        ref[t] = sum * p.scales[slot];
        scale_max = std::max(scale_max, std::fabs(ref[t]));
      }
      for (int t = 0; t < depth; t++)
        max_rel = worst(max_rel, std::fabs(got[static_cast<size_t>(b) * depth + t] - ref[t]) / scale_max);
      auto want = reference_top_k(got.data() + static_cast<size_t>(b) * depth, depth, p.k);
      for (int j = 0; j < p.k; j++)
        if (idx[static_cast<size_t>(b) * p.k + j] != want[j]) ok = false;
    }
    check(max_rel < 1e-5, "v" + std::to_string(impl) + " indexer scores vs f64 CPU (max rel " + std::to_string(max_rel) + ")");
    check(ok, "v" + std::to_string(impl) + " indexer top-k indices vs CPU selection on the same scores");
    ok = ok && max_rel < 1e-5;
  }
  const double us = time_us(layer, 5, 30);
  const double flops = 2.0 * batch * depth * p.heads * p.width;
  std::printf(
      "{\"bench\":\"indexer\",\"impl\":\"v%d\",\"batch\":%d,\"depth\":%d,\"heads\":%d,\"width\":%d,\"keys\":\"f8_e4m3\",\"k\":%d,"
      "\"us_per_layer\":%.2f,\"tflops\":%.2f,\"validated\":%s,\"ok\":%s}\n",
      impl, batch, depth, p.heads, p.width, p.k, us, flops / us * 1e-6, validate ? "true" : "false", ok ? "true" : "false");
  for (void* ptr : {static_cast<void*>(dq), static_cast<void*>(dw), static_cast<void*>(ds), static_cast<void*>(dk),
                    static_cast<void*>(dpos), static_cast<void*>(dseq), static_cast<void*>(dtab),
                    static_cast<void*>(scores), static_cast<void*>(out)})
    CUDA_CHECK(cudaFree(ptr));
}

int main() {
  std::printf("# device %s\n", device_name().c_str());
  const char* only = std::getenv("DSA_INDEXER");  // v1 | v2: run one implementation
  for (int impl : {1, 2}) {
    if (only != nullptr && std::strcmp(only, impl == 1 ? "v1" : "v2") != 0) continue;
    Random rng(3);  // the same problems for both
    run(2, 8192, true, rng, impl);
    run(3, 1000, true, rng, impl);  // shorter than k: all positions then -1
    run(1, 40000, true, rng, impl);  // long row: the v2 top-k filter path on real scores
    for (int batch : {1, 16})
      for (int depth : {8192, 32768, 131072}) run(batch, depth, false, rng, impl);
  }
  std::printf("{\"program\":\"indexer\",\"failures\":%d}\n", failures());
  return failures() == 0 ? 0 : 1;
}
