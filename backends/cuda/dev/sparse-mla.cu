// Sparse MLA decode benchmark and check: the Hopper wgmma kernel (kernels/sm90a/mla-attention-wgmma.cu: 3
// warpgroups, 64 heads per CTA, bf16 or fp8 656-byte cache rows) against the mma.sync kernel it replaces
// (kernels/fused/mla-attention-mma.cu v2: 64 heads per CTA, cp.async double-buffered gathers, bf16 cache).
// Shape: batch 64, 128 heads, kv_lora 512 + rope 64, top-2048 indices per query over an 8192-token paged
// context (block 64), f32 q/out. Each variant is checked on queries 0 and B-1 (all heads) against a CPU f64
// reference on the cache values it reads (q rounded to bf16), and the wgmma outputs against mma2's; then
// timed: TFLOP/s (FLOPs = 2·B·H·topk·(576 + 512)) and the gathered-bytes bandwidth. A second, small case
// (batch 3, 100 heads, 1000 indices with -1 entries, and a dense causal case) checks the edges.
// Build: nvcc -gencode=arch=compute_90a,code=sm_90a -O3 -std=c++17 -o sparse-mla dev/sparse-mla.cu
#include "../kernels/fused/mla-attention-mma.cu"
#include "kernels/mla-attention-wgmma.cu"
#include "dev-common.h"

using namespace dev;

namespace {
constexpr int C = 512, R = 64, W = C + R, kRow8 = 656;

struct Cache {
  std::vector<uint16_t> bf16;  // [slots, 576] (for fp8: the dequantized values, exact in bf16)
  std::vector<uint8_t> fp8;    // [slots, 656] or empty
};

// Random cache: bf16 values, or fp8 rows (random e4m3, power-of-two block scales, bf16 rope) and their
// exact bf16 dequantization.
Cache make_cache(Random& rng, int64_t slots, bool fp8) {
  Cache c;
  c.bf16.resize(static_cast<size_t>(slots) * W);
  if (!fp8) {
    for (auto& v : c.bf16) v = f32_to_bf16(static_cast<float>(rng.uniform() - 0.5) * 3.4f);
    return c;
  }
  c.fp8.resize(static_cast<size_t>(slots) * kRow8);
  for (int64_t s = 0; s < slots; s++) {
    uint8_t* row = c.fp8.data() + s * kRow8;
    float scales[4];
    for (int b = 0; b < 4; b++) {
      scales[b] = std::ldexp(1.0f, -9 + static_cast<int>(rng.below(4)));
      std::memcpy(row + 512 + 4 * b, &scales[b], 4);
    }
    for (int i = 0; i < C; i++) {
      row[i] = random_fp8(rng);
      c.bf16[s * W + i] = f32_to_bf16(fp8_to_f32(row[i]) * scales[i / 128]);
    }
    for (int i = 0; i < R; i++) {
      const uint16_t v = f32_to_bf16(static_cast<float>(rng.uniform() - 0.5) * 3.4f);
      std::memcpy(row + 528 + 2 * i, &v, 2);
      c.bf16[s * W + C + i] = v;
    }
  }
  return c;
}

struct Problem {
  int B, H, K, context, block = 64;
  bool dense = false;
  int max_blocks() const { return context / block; }
  std::vector<int32_t> table, positions, seq, indices;
  std::vector<float> q;
};

Problem make_problem(Random& rng, int B, int H, int K, int context, bool dense, int pad) {
  Problem p{B, H, K, context};
  p.dense = dense;
  const int mb = p.max_blocks();
  p.table.resize(static_cast<size_t>(B) * mb);
  for (int i = 0; i < B * mb; i++) p.table[i] = i;
  for (int i = B * mb - 1; i > 0; i--) std::swap(p.table[i], p.table[rng.below(i + 1)]);
  p.positions.resize(B);
  p.seq.resize(B);
  for (int b = 0; b < B; b++) {
    p.positions[b] = dense ? context - 1 - 37 * b : context - 1;
    p.seq[b] = b;
  }
  if (!dense) {
    p.indices.resize(static_cast<size_t>(B) * K);
    for (int b = 0; b < B; b++) {
      std::vector<int32_t> all(context);
      for (int t = 0; t < context; t++) all[t] = t;
      for (int i = 0; i < K; i++) std::swap(all[i], all[i + rng.below(context - i)]);
      std::sort(all.begin(), all.begin() + K);
      for (int i = 0; i < K; i++) p.indices[static_cast<size_t>(b) * K + i] = all[i];
    }
    for (int i = 0; i < pad; i++) p.indices[static_cast<size_t>(B - 1) * K + K - 1 - 3 * i] = -1;
  }
  p.q.resize(static_cast<size_t>(B) * H * W);
  for (auto& v : p.q) v = rng.normal();
  return p;
}

// Max error of out (queries `checked`, all heads) against f64 on the bf16 cache values, relative to each
// head's peak |ref|; q rounded to bf16.
double validate(const Problem& p, const Cache& cache, const std::vector<float>& out, const std::vector<int>& checked,
                float scale) {
  double max_rel = 0;
  for (int b : checked) {
    const int count = p.dense ? p.positions[b] + 1 : p.K;
    for (int h = 0; h < p.H; h++) {
      std::vector<double> logit;
      std::vector<int64_t> rows;
      for (int j = 0; j < count; j++) {
        const int t = p.dense ? j : p.indices[static_cast<size_t>(b) * p.K + j];
        if (t < 0) continue;
        const int64_t slot = static_cast<int64_t>(p.table[b * p.max_blocks() + t / p.block]) * p.block + t % p.block;
        double dot = 0;
        for (int c = 0; c < W; c++)
          dot += static_cast<double>(bf16_to_f32(f32_to_bf16(p.q[(static_cast<size_t>(b) * p.H + h) * W + c]))) *
                 bf16_to_f32(cache.bf16[slot * W + c]);
        logit.push_back(dot * scale);
        rows.push_back(slot);
      }
      double m = -INFINITY, sum = 0;
      for (double l : logit) m = std::max(m, l);
      for (double& l : logit) sum += (l = std::exp(l - m));
      std::vector<double> ref(C, 0.0);
      for (size_t j = 0; j < rows.size(); j++)
        for (int c = 0; c < C; c++) ref[c] += logit[j] / sum * bf16_to_f32(cache.bf16[rows[j] * W + c]);
      double peak = 1e-30;
      for (int c = 0; c < C; c++) peak = std::max(peak, std::fabs(ref[c]));
      for (int c = 0; c < C; c++)
        max_rel = worst(max_rel, std::fabs(out[(static_cast<size_t>(b) * p.H + h) * C + c] - ref[c]) / peak);
    }
  }
  return max_rel;
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double peak = 1e-30, d = 0;
  for (float v : b) peak = std::max(peak, static_cast<double>(std::fabs(v)));
  for (size_t i = 0; i < a.size(); i++) d = worst(d, std::fabs(static_cast<double>(a[i]) - b[i]));
  return d / peak;
}

struct Device {
  int32_t *table, *positions, *seq, *indices;
  float* q;
  float* out;
};

Device upload(const Problem& p) {
  Device d{};
  d.table = to_device(p.table);
  d.positions = to_device(p.positions);
  d.seq = to_device(p.seq);
  d.indices = p.dense ? nullptr : to_device(p.indices);
  d.q = to_device(p.q);
  CUDA_CHECK(cudaMalloc(&d.out, sizeof(float) * p.B * p.H * C));
  return d;
}
}  // namespace

int main() {
  std::printf("# device %s\n", device_name().c_str());
  CUDA_CHECK(cudaFuncSetAttribute(dsa_fused_mla_attention_mma2, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  kMla2SmemBytes));
  CUDA_CHECK(cudaFuncSetAttribute(dsa_fused_mla_attention_wgmma, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  kWgSmemBytes));
  const float scale = 1.0f / std::sqrt(192.0f);
  Random rng(5);
  struct Case {
    const char* name;
    int B, H, K, context;
    bool dense;
    int pad;
    bool timed;
  };
  for (const Case& cs : {Case{"edges-sparse", 3, 100, 1000, 2048, false, 40, false},
                         Case{"edges-dense", 3, 100, 0, 1100, true, 0, false},
                         Case{"b64-h128-top2048", 64, 128, 2048, 8192, false, 16, true}}) {
    const Problem p = make_problem(rng, cs.B, cs.H, cs.K, cs.context, cs.dense, cs.pad);
    const Device d = upload(p);
    const int64_t slots = static_cast<int64_t>(cs.B) * cs.context;
    const std::vector<int> checked = {0, cs.B - 1};
    for (const bool fp8 : {false, true}) {
      const Cache cache = make_cache(rng, slots, fp8);
      uint16_t* dcache = to_device(cache.bf16);
      uint8_t* dcache8 = fp8 ? to_device(cache.fp8) : nullptr;
      const int index_count = cs.dense ? 0 : cs.K;
      auto mma2 = [&] {
        dsa_fused_mla_attention_mma2<<<dim3(cs.B, (cs.H + 63) / 64), 256, kMla2SmemBytes>>>(
            d.out, dsa_fused::kF32, d.q, dsa_fused::kF32, dcache, d.indices, index_count, d.positions, d.seq, d.table,
            p.max_blocks(), p.block, cs.H, W, C, scale);
      };
      auto wgmma = [&] {
        dsa_fused_mla_attention_wgmma<<<dim3(cs.B, (cs.H + 63) / 64), 384, kWgSmemBytes>>>(
            d.out, dsa_fused::kF32, d.q, dsa_fused::kF32, fp8 ? static_cast<const void*>(dcache8) : dcache,
            fp8 ? 1 : 0, d.indices, index_count, d.positions, d.seq, d.table, p.max_blocks(), p.block, cs.H, scale);
      };
      const std::string cache_name = fp8 ? "fp8_656" : "bf16";
      std::vector<float> mma2_out;
      for (int impl = 1; impl <= 2; impl++) {
        const std::function<void()> launch = impl == 1 ? std::function<void()>(mma2) : std::function<void()>(wgmma);
        CUDA_CHECK(cudaMemset(d.out, 0xff, sizeof(float) * cs.B * cs.H * C));  // NaN: unwritten outputs fail
        launch();
        CUDA_CHECK(cudaGetLastError());
        CUDA_CHECK(cudaDeviceSynchronize());
        const std::vector<float> out = to_host(d.out, static_cast<size_t>(cs.B) * cs.H * C);
        const double rel = validate(p, cache, out, checked, scale);
        double vs_mma2 = 0;
        if (impl == 1)
          mma2_out = out;
        else
          vs_mma2 = max_diff(out, mma2_out);
        const char* name = impl == 1 ? "mma2" : "wgmma";
        const bool ok = rel < 1e-2 && vs_mma2 < 1e-2;
        check(ok, std::string(cs.name) + " " + name + " " + cache_name + ": max rel vs f64 " + std::to_string(rel) +
                      ", vs mma2 " + std::to_string(vs_mma2));
        if (!cs.timed) continue;
        const double us = time_us(launch, 3, 20);
        const double flops = 2.0 * cs.B * cs.H * cs.K * (W + C);
        const double bytes = static_cast<double>(cs.B) * cs.K * (fp8 ? kRow8 : W * 2) + 4.0 * cs.B * cs.H * (W + C);
        std::printf(
            "{\"bench\":\"sparse_mla_decode\",\"impl\":\"%s\",\"cache\":\"%s\",\"batch\":%d,\"heads\":%d,\"kv_lora\":%d,"
            "\"rope\":%d,\"topk\":%d,\"us\":%.2f,\"tflops\":%.2f,\"gbps\":%.1f,\"target_tflops\":200,"
            "\"max_rel_error\":%.3g,\"vs_mma2\":%.3g,\"ok\":%s}\n",
            name, cache_name.c_str(), cs.B, cs.H, C, R, cs.K, us, flops / us * 1e-6, bytes / us * 1e-3, rel, vs_mma2,
            ok ? "true" : "false");
      }
      CUDA_CHECK(cudaFree(dcache));
      if (dcache8) CUDA_CHECK(cudaFree(dcache8));
    }
  }
  std::printf("{\"program\":\"sparse-mla\",\"failures\":%d}\n", failures());
  return failures() == 0 ? 0 : 1;
}
