// Sparse MLA decode benchmark and check (kernels/fused/mla-attention.cu, f32 CUDA cores, and
// mla-attention-mma.cu, bf16 tensor cores: v1 16 heads per CTA, v2 64 heads per CTA with cp.async
// double-buffered gathers): batch 64, 128 heads,
// kv_lora 512 + rope 64 (bf16 latent cache, paged, block 64), top-k 2048 indices per query over an
// 8192-token context, f32 q/out. Checks two queries (all heads) against a CPU f64 reference, then
// prints TFLOP/s (FLOPs = 2·B·H·topk·(576 + 512)) and the gathered-bytes bandwidth.
// Build: nvcc -arch=sm_90a -O3 -std=c++17 -o sparse-mla dev/sparse-mla.cu
#include "../kernels/fused/mla-attention-mma.cu"
#include "../kernels/fused/mla-attention.cu"
#include "dev-common.h"

using namespace dev;

int main() {
  std::printf("# device %s\n", device_name().c_str());
  const int B = 64, H = 128, C = 512, R = 64, W = C + R, K = 2048, context = 8192, block = 64;
  const int max_blocks = context / block;
  const int64_t slots = static_cast<int64_t>(B) * context;
  Random rng(5);
  std::vector<uint16_t> cache(static_cast<size_t>(slots) * W);
  for (auto& v : cache) v = f32_to_bf16(static_cast<float>(rng.uniform() - 0.5) * 3.4f);  // cheap: 300M values
  std::vector<float> q(static_cast<size_t>(B) * H * W);
  for (auto& v : q) v = rng.normal();
  std::vector<int32_t> table(static_cast<size_t>(B) * max_blocks), positions(B), seq(B), indices(static_cast<size_t>(B) * K);
  std::vector<int32_t> perm(B * max_blocks);
  for (int i = 0; i < B * max_blocks; i++) perm[i] = i;
  for (int i = B * max_blocks - 1; i > 0; i--) std::swap(perm[i], perm[rng.below(i + 1)]);
  table = perm;
  for (int b = 0; b < B; b++) {
    positions[b] = context - 1;
    seq[b] = b;
    std::vector<int32_t> all(context);
    for (int t = 0; t < context; t++) all[t] = t;
    for (int i = 0; i < K; i++) std::swap(all[i], all[i + rng.below(context - i)]);
    std::sort(all.begin(), all.begin() + K);
    for (int i = 0; i < K; i++) indices[static_cast<size_t>(b) * K + i] = all[i];
  }
  for (int i = 0; i < 16; i++) indices[static_cast<size_t>(B - 1) * K + K - 1 - i] = -1;  // some padding
  const float scale = 1.0f / std::sqrt(192.0f);
  uint16_t* dcache = to_device(cache);
  float* dq = to_device(q);
  int32_t *dtab = to_device(table), *dpos = to_device(positions), *dseq = to_device(seq), *didx = to_device(indices);
  float* dout = nullptr;
  CUDA_CHECK(cudaMalloc(&dout, sizeof(float) * B * H * C));
  const int smem = 16 * W * 4;
  auto launch = [&] {
    dim3 grid(B, (H + 15) / 16);
    dsa_fused_mla_attention<<<grid, 256, smem>>>(dout, dsa_fused::kF32, dq, dsa_fused::kF32, dcache, dsa_fused::kBF16,
                                                 didx, K, dpos, dseq, dtab, max_blocks, block, H, W, C, scale);
  };
  const int mma_smem = 16 * (W + 8) * 2;
  auto launch_mma = [&] {
    dim3 grid(B, (H + 15) / 16);
    dsa_fused_mla_attention_mma<<<grid, 256, mma_smem>>>(dout, dsa_fused::kF32, dq, dsa_fused::kF32, dcache, didx, K,
                                                         dpos, dseq, dtab, max_blocks, block, H, W, C, scale);
  };
  CUDA_CHECK(cudaFuncSetAttribute(dsa_fused_mla_attention_mma2, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  kMla2SmemBytes));
  auto launch_mma2 = [&] {
    dim3 grid(B, (H + 63) / 64);
    dsa_fused_mla_attention_mma2<<<grid, 256, kMla2SmemBytes>>>(dout, dsa_fused::kF32, dq, dsa_fused::kF32, dcache, didx,
                                                                K, dpos, dseq, dtab, max_blocks, block, H, W, C, scale);
  };
  // CPU f64 reference of queries 0 and B-1 (all heads); `round_q` rounds q to bf16 first (the mma kernel's input).
  auto validate = [&](const std::vector<float>& out, bool round_q) {
    double max_rel = 0;
    for (int b : {0, B - 1}) {
      for (int h = 0; h < H; h++) {
        std::vector<double> logit;
        std::vector<int64_t> rows;
        for (int j = 0; j < K; j++) {
          const int t = indices[static_cast<size_t>(b) * K + j];
          if (t < 0) continue;
          const int64_t slot = static_cast<int64_t>(table[b * max_blocks + t / block]) * block + t % block;
          double dot = 0;
          for (int c = 0; c < W; c++) {
            float qv = q[(static_cast<size_t>(b) * H + h) * W + c];
            if (round_q) qv = bf16_to_f32(f32_to_bf16(qv));
            dot += static_cast<double>(qv) * bf16_to_f32(cache[slot * W + c]);
          }
          logit.push_back(dot * scale);
          rows.push_back(slot);
        }
        double m = -INFINITY, sum = 0;
        for (double l : logit) m = std::max(m, l);
        for (double& l : logit) sum += (l = std::exp(l - m));
        double peak = 1e-30;
        std::vector<double> ref(C, 0.0);
        for (size_t j = 0; j < rows.size(); j++)
          for (int c = 0; c < C; c++) ref[c] += logit[j] / sum * bf16_to_f32(cache[rows[j] * W + c]);
        for (int c = 0; c < C; c++) peak = std::max(peak, std::fabs(ref[c]));
        for (int c = 0; c < C; c++)
        {
          const double d = std::fabs(out[(static_cast<size_t>(b) * H + h) * C + c] - ref[c]) / peak;
          max_rel = std::isnan(d) ? INFINITY : std::max(max_rel, d);
        }
      }
    }
    return max_rel;
  };
  const double flops = 2.0 * B * H * K * (W + C);
  const double bytes = static_cast<double>(B) * K * W * 2 + 4.0 * B * H * (W + C) + 4.0 * B * K;
  struct Variant {
    const char* name;
    std::function<void()> launch;
    bool round_q;
    double tolerance;
  };
  for (const Variant& v : {Variant{"f32_cuda_cores", launch, false, 2e-5}, Variant{"bf16_mma", launch_mma, true, 1e-2},
                          Variant{"bf16_mma_v2_64heads", launch_mma2, true, 1e-2}}) {
    const char* only = std::getenv("DSA_MLA");  // run one variant by name
    if (only != nullptr && std::strcmp(only, v.name) != 0) continue;
    CUDA_CHECK(cudaMemset(dout, 0xff, sizeof(float) * B * H * C));  // NaN: unwritten outputs fail
    v.launch();
    CUDA_CHECK(cudaGetLastError());
    CUDA_CHECK(cudaDeviceSynchronize());
    const double max_rel = validate(to_host(dout, static_cast<size_t>(B) * H * C), v.round_q);
    const bool ok = max_rel < v.tolerance;
    check(ok, std::string("sparse MLA ") + v.name + " vs f64 CPU on queries 0 and B-1 (max rel " + std::to_string(max_rel) + ")");
    const double us = time_us(v.launch, 3, 20);
    std::printf(
        "{\"bench\":\"sparse_mla_decode\",\"impl\":\"%s\",\"batch\":%d,\"heads\":%d,\"kv_lora\":%d,\"rope\":%d,"
        "\"topk\":%d,\"cache\":\"bf16\",\"us\":%.2f,\"tflops\":%.2f,\"gbps\":%.1f,\"flashmla_h800_tflops\":410,"
        "\"max_rel_error\":%.3g,\"ok\":%s}\n",
        v.name, B, H, C, R, K, us, flops / us * 1e-6, bytes / us * 1e-3, max_rel, ok ? "true" : "false");
  }
  std::printf("{\"program\":\"sparse-mla\",\"failures\":%d}\n", failures());
  return failures() == 0 ? 0 : 1;
}
