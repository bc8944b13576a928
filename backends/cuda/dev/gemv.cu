// fp8 block-scaled decode GEMV benchmark and check (kernels/fused/gemv.cu) at the DeepSeek-V3.2
// shapes: 7168→18432, 18432→7168, 7168→1536, 1536→24576 (q_b: 128 heads × 192), M = 1 and 4 rows,
// e4m3 weights with 128×128 f32 block scales, f32 activations. Checks vs a CPU f64 reference and
// prints GB/s (weights + scales + x + out) against the 4.8 TB/s HBM3e peak of an H200.
// v1 (dsa_fused_gemv_*: warp per column) and v2 (dsa_fused_gemv2_*: gemv-core.cuh) run side by side
// on the same data, fp8 and bf16 weights (the bf16 run reuses the fp8 values · scale rounded to bf16);
// v3 (dsa_fused_gemv3_f8_*: gemv_warp_f8v3, fp8 only) runs after v2 on the fp8 shapes; v4
// (dsa_fused_gemv4_*: gemv-mma.cuh, tensor cores, one kernel for every M; x f32 as hi + lo bf16) last.
// v2/v3 must also be bit-identical for row 0 alone (m=1) and batched (m=4/16). DSA_GEMV=v1|v2|v3|v4 runs one.
// Build: nvcc -arch=sm_90a -O3 -std=c++17 -o gemv dev/gemv.cu
#include "../kernels/fused/gemv.cu"
#include "kernels/gemv4.cu"
#include "dev-common.h"

using namespace dev;

using GemvKernel = void (*)(void*, int, const void*, int, const void*, const float*, int, int, int, int, int, int);

using Gemv2Kernel = void (*)(void*, int, const void*, int, const void*, const float*, int, int, int, int, int, int,
                             int);

static GemvKernel pick(int m, bool bf16) {
  if (bf16) {
    if (m <= 1) return dsa_fused_gemv_bf16_m1;
    if (m <= 2) return dsa_fused_gemv_bf16_m2;
    if (m <= 4) return dsa_fused_gemv_bf16_m4;
    if (m <= 8) return dsa_fused_gemv_bf16_m8;
    return dsa_fused_gemv_bf16_m16;
  }
  if (m <= 1) return dsa_fused_gemv_f8_m1;
  if (m <= 2) return dsa_fused_gemv_f8_m2;
  if (m <= 4) return dsa_fused_gemv_f8_m4;
  if (m <= 8) return dsa_fused_gemv_f8_m8;
  return dsa_fused_gemv_f8_m16;
}
static Gemv2Kernel pick2(int m, bool bf16) {
  if (bf16) {
    if (m <= 1) return dsa_fused_gemv2_bf16_m1;
    if (m <= 2) return dsa_fused_gemv2_bf16_m2;
    if (m <= 4) return dsa_fused_gemv2_bf16_m4;
    if (m <= 8) return dsa_fused_gemv2_bf16_m8;
    return dsa_fused_gemv2_bf16_m16;
  }
  if (m <= 1) return dsa_fused_gemv2_f8_m1;
  if (m <= 2) return dsa_fused_gemv2_f8_m2;
  if (m <= 4) return dsa_fused_gemv2_f8_m4;
  if (m <= 8) return dsa_fused_gemv2_f8_m8;
  return dsa_fused_gemv2_f8_m16;
}
static Gemv2Kernel pick3(int m) {
  if (m <= 1) return dsa_fused_gemv3_f8_m1;
  if (m <= 2) return dsa_fused_gemv3_f8_m2;
  if (m <= 4) return dsa_fused_gemv3_f8_m4;
  if (m <= 8) return dsa_fused_gemv3_f8_m8;
  return dsa_fused_gemv3_f8_m16;
}
static bool wanted(const char* impl) {
  const char* only = std::getenv("DSA_GEMV");
  return only == nullptr || std::strcmp(only, impl) == 0;
}

static void run(int n, int k, int m, bool bf16, Random& rng) {
  const int bn = 128, bk = 128, sr = (n + bn - 1) / bn, sc = (k + bk - 1) / bk;
  std::vector<uint8_t> w(static_cast<size_t>(n) * k);
  for (auto& b : w) b = random_fp8(rng, 9);
  std::vector<float> s(static_cast<size_t>(sr) * sc), x(static_cast<size_t>(m) * k);
  for (auto& v : s) v = std::ldexp(1.0f, -10 + rng.below(4));
  for (auto& v : x) v = rng.normal();
  // weight value W[j][i] as the kernels see it
  std::vector<uint16_t> wb;
  if (bf16) {
    wb.resize(w.size());
    for (size_t i = 0; i < w.size(); i++) {
      const size_t j = i / k, c = i % k;
      wb[i] = f32_to_bf16(fp8_to_f32(w[i]) * s[(j / bn) * sc + c / bk]);
    }
  }
  double lut[256];
  for (int b = 0; b < 256; b++) lut[b] = fp8_to_f32(static_cast<uint8_t>(b));
  auto weight_at = [&](int j, int i) -> double {
    const size_t at = static_cast<size_t>(j) * k + i;
    return bf16 ? static_cast<double>(bf16_to_f32(wb[at])) : lut[w[at]] * s[(j / bn) * sc + i / bk];
  };
  void* dw = bf16 ? static_cast<void*>(to_device(wb)) : static_cast<void*>(to_device(w));
  float *ds = to_device(s), *dx = to_device(x), *dout = nullptr;
  CUDA_CHECK(cudaMalloc(&dout, sizeof(float) * m * n));
  std::vector<std::vector<double>> ref(m, std::vector<double>(n));
  double peak = 1e-30;
  std::vector<double> wrow(k), xd(static_cast<size_t>(m) * k);
  for (size_t i = 0; i < xd.size(); i++) xd[i] = x[i];
  for (int j = 0; j < n; j++) {
    for (int i = 0; i < k; i++) wrow[i] = weight_at(j, i);
    for (int r = 0; r < m; r++) {
      const double* xr = xd.data() + static_cast<size_t>(r) * k;
      double sum = 0;
      for (int i = 0; i < k; i++) sum += xr[i] * wrow[i];
      ref[r][j] = sum;
      peak = std::max(peak, std::fabs(sum));
    }
  }
  const double wbytes = static_cast<double>(n) * k * (bf16 ? 2 : 1) + (bf16 ? 0.0 : 4.0 * sr * sc);
  const double bytes = wbytes + 4.0 * m * (k + n);
  const char* wname = bf16 ? "bf16" : "f8_e4m3";
  const int slices = dsa_fused::gemv_slices(n, k);
  const int groups_per_cta = dsa_fused::kGemvWarps / slices;
  const int grid2 = ((n + dsa_fused::kGemvCols - 1) / dsa_fused::kGemvCols + groups_per_cta - 1) / groups_per_cta;
  const int slices4 = dsa_fused::gemv4_slices(n, k);
  const int grid4 = ((n + dsa_fused::kMmaCols - 1) / dsa_fused::kMmaCols + dsa_fused::kGemvWarps / slices4 - 1) /
                    (dsa_fused::kGemvWarps / slices4);
  for (int impl = 1; impl <= 4; impl++) {
    const char* name = impl == 1 ? "v1" : impl == 2 ? "v2" : impl == 3 ? "v3" : "v4";
    if (!wanted(name) || (impl == 3 && bf16)) continue;  // v3 is the fp8 loop
    std::function<void()> launch;
    if (impl == 1) {
      GemvKernel kernel = pick(m, bf16);
      launch = [=] {
        kernel<<<(n + 7) / 8, 256>>>(dout, dsa_fused::kF32, dx, dsa_fused::kF32, dw, ds, bn, bk, sc, m, n, k);
      };
    } else if (impl == 4) {
      Gemv2Kernel kernel = bf16 ? dsa_fused_gemv4_bf16 : dsa_fused_gemv4_f8;
      launch = [=] {
        kernel<<<grid4, 256>>>(dout, dsa_fused::kF32, dx, dsa_fused::kF32, dw, ds, bn, bk, sc, m, n, k, slices4);
      };
    } else {
      Gemv2Kernel kernel = impl == 3 ? pick3(m) : pick2(m, bf16);
      launch = [=] {
        kernel<<<grid2, 256>>>(dout, dsa_fused::kF32, dx, dsa_fused::kF32, dw, ds, bn, bk, sc, m, n, k, slices);
      };
    }
    CUDA_CHECK(cudaMemset(dout, 0xff, sizeof(float) * m * n));
    launch();
    CUDA_CHECK(cudaGetLastError());
    auto out = to_host(dout, static_cast<size_t>(m) * n);
    double max_rel = 0;
    for (int r = 0; r < m; r++)
      for (int j = 0; j < n; j++)
        max_rel = worst(max_rel, std::fabs(out[static_cast<size_t>(r) * n + j] - ref[r][j]) / peak);
    const bool ok = max_rel < 1e-5;
    check(ok, std::string("gemv ") + name + " " + wname + " " + std::to_string(k) + "->" + std::to_string(n) +
                  " m=" + std::to_string(m) + " (max rel " + std::to_string(max_rel) + ")");
    if (impl >= 2) {
      // row 0 alone: same bits as row 0 of this batch (reduction order independent of m)
      Gemv2Kernel one = impl == 4 ? (bf16 ? dsa_fused_gemv4_bf16 : dsa_fused_gemv4_f8)
                        : impl == 3 ? pick3(1)
                                    : pick2(1, bf16);
      one<<<impl == 4 ? grid4 : grid2, 256>>>(dout, dsa_fused::kF32, dx, dsa_fused::kF32, dw, ds, bn, bk, sc, 1, n, k,
                                               impl == 4 ? slices4 : slices);
      CUDA_CHECK(cudaGetLastError());
      auto alone = to_host(dout, static_cast<size_t>(n));
      if (m > 1)
        check(std::memcmp(alone.data(), out.data(), sizeof(float) * n) == 0,
              std::string("gemv ") + name + " " + wname + " row 0 bit-identical alone and at m=" + std::to_string(m));
    }
    const double us = time_us(launch, 10, 50);
    std::printf(
        "{\"bench\":\"gemv\",\"impl\":\"%s\",\"weights\":\"%s\",\"m\":%d,\"k\":%d,\"n\":%d,\"slices\":%d,"
        "\"us\":%.2f,\"gbps\":%.1f,\"hbm_peak_gbps\":%.0f,\"fraction_of_peak\":%.3f,\"ok\":%s}\n",
        name, wname, m, k, n, impl == 4 ? slices4 : impl >= 2 ? slices : 1, us, bytes / us * 1e-3, hbm_peak_gbps(), bytes / us * 1e-3 / hbm_peak_gbps(),
        ok ? "true" : "false");
  }
  CUDA_CHECK(cudaFree(dw));
  CUDA_CHECK(cudaFree(ds));
  CUDA_CHECK(cudaFree(dx));
  CUDA_CHECK(cudaFree(dout));
}

int main() {
  std::printf("# device %s\n", device_name().c_str());
  Random rng(7);
  const int shapes[4][2] = {{18432, 7168}, {7168, 18432}, {1536, 7168}, {24576, 1536}};  // {N, K}
  for (bool bf16 : {false, true})
    for (int m : {1, 4, 16})
      for (auto& sh : shapes) run(sh[0], sh[1], m, bf16, rng);
  std::printf("{\"program\":\"gemv\",\"failures\":%d}\n", failures());
  return failures() == 0 ? 0 : 1;
}
