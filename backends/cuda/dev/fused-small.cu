// Checks of the small fused kernels against CPU references written independently here:
// addRmsNorm (f32 residual/x/out, bf16 weight), swiglu, and the noaux_tc router (moe-route.cu:
// DeepSeek-V3 config with bias, a no-bias grouped config and softmax), exact indices, weights 1e-6.
// Also times addRmsNorm and the router at decode/prefill sizes (7168 wide, 256 experts).
// Build: nvcc -arch=sm_90a -O3 -std=c++17 -o fused-small dev/fused-small.cu
#include "../kernels/fused/add-rms-norm.cu"
#include "../kernels/fused/moe-route.cu"
#include "kernels/moe-route-v1-v2.cu"
#include "../kernels/fused/swiglu.cu"
#include "dev-common.h"

using namespace dev;

static void check_norm(int rows, int d, Random& rng, bool bench) {
  std::vector<float> r(static_cast<size_t>(rows) * d), x(r.size());
  std::vector<uint16_t> w(d);
  for (auto& v : r) v = rng.normal() * 2;
  for (auto& v : x) v = rng.normal();
  for (auto& v : w) v = f32_to_bf16(rng.normal());
  float *dr = to_device(r), *dx = to_device(x), *dout = nullptr;
  uint16_t* dw = to_device(w);
  CUDA_CHECK(cudaMalloc(&dout, sizeof(float) * r.size()));
  const int threads = std::min(1024, std::max(32, (d / 4 + 31) / 32 * 32));
  dsa_fused_add_rms_norm<<<rows, threads>>>(dout, dsa_fused::kF32, d, dr, dsa_fused::kF32, d, dx, dsa_fused::kF32, d, dw,
                                            dsa_fused::kBF16, d, 1e-6f);
  CUDA_CHECK(cudaGetLastError());
  auto got_r = to_host(dr, r.size());
  auto got = to_host(dout, r.size());
  double res_err = 0, err = 0;
  for (int i = 0; i < rows; i++) {
    double sum = 0;
    std::vector<float> sumrow(d);
    for (int j = 0; j < d; j++) {
      sumrow[j] = r[static_cast<size_t>(i) * d + j] + x[static_cast<size_t>(i) * d + j];
      res_err = worst(res_err, std::fabs(got_r[static_cast<size_t>(i) * d + j] - sumrow[j]));
      sum += static_cast<double>(sumrow[j]) * sumrow[j];
    }
    const double inv = 1 / std::sqrt(sum / d + 1e-6);
    for (int j = 0; j < d; j++) {
      const double want = sumrow[j] * inv * bf16_to_f32(w[j]);
      err = worst(err, std::fabs(got[static_cast<size_t>(i) * d + j] - want) / std::max(1.0, std::fabs(want)));
    }
  }
  check(res_err == 0, "addRmsNorm residual exact (" + std::to_string(rows) + "x" + std::to_string(d) + ")");
  check(err < 1e-6, "addRmsNorm out (max rel " + std::to_string(err) + ")");
  if (bench) {
    const double us = time_us([&] {
      dsa_fused_add_rms_norm<<<rows, threads>>>(dout, dsa_fused::kF32, d, dr, dsa_fused::kF32, d, dx, dsa_fused::kF32, d,
                                                dw, dsa_fused::kBF16, d, 1e-6f);
    });
    std::printf("{\"bench\":\"add_rms_norm\",\"rows\":%d,\"d\":%d,\"us\":%.2f,\"gbps\":%.1f}\n", rows, d, us,
                16.0 * rows * d / us * 1e-3);
  }
  for (void* p : {static_cast<void*>(dr), static_cast<void*>(dx), static_cast<void*>(dout), static_cast<void*>(dw)})
    CUDA_CHECK(cudaFree(p));
}

static void check_swiglu(Random& rng) {
  const int n = 7 * 130 + 3;
  std::vector<float> g(n), u(n);
  for (auto& v : g) v = rng.normal() * 3;
  for (auto& v : u) v = rng.normal();
  float *dg = to_device(g), *du = to_device(u);
  dsa_fused_swiglu<<<4, 256>>>(dg, dsa_fused::kF32, dg, dsa_fused::kF32, du, dsa_fused::kF32, n);  // out aliases gate
  CUDA_CHECK(cudaGetLastError());
  auto got = to_host(dg, n);
  double err = 0;
  for (int i = 0; i < n; i++) {
    const double want = g[i] / (1 + std::exp(-static_cast<double>(g[i]))) * u[i];
    err = worst(err, std::fabs(got[i] - want) / std::max(1.0, std::fabs(want)));
  }
  check(err < 1e-6, "swiglu, out aliasing gate (max rel " + std::to_string(err) + ")");
  CUDA_CHECK(cudaFree(dg));
  CUDA_CHECK(cudaFree(du));
}

// Independent router reference: sort-based selection (value desc, index asc).
static std::vector<int> best_of(const std::vector<float>& v, int k) {
  std::vector<int> idx;
  for (int i = 0; i < static_cast<int>(v.size()); i++)
    if (v[i] > -INFINITY) idx.push_back(i);
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return v[a] > v[b]; });
  if (static_cast<int>(idx.size()) > k) idx.resize(k);
  std::sort(idx.begin(), idx.end());
  while (static_cast<int>(idx.size()) < k) idx.push_back(-1);
  return idx;
}

static void check_route(const char* label, int n, int e, int groups, int topk_groups, int topk, float scale, bool normalize,
                        bool softmax, bool with_bias, Random& rng, bool bench) {
  std::vector<float> logits(static_cast<size_t>(n) * e), bias(e);
  for (auto& v : logits) v = rng.normal() * 2;
  for (auto& v : bias) v = rng.normal() * 0.1f;
  float *dl = to_device(logits), *db = with_bias ? to_device(bias) : nullptr, *dw = nullptr;
  int32_t* di = nullptr;
  CUDA_CHECK(cudaMalloc(&dw, sizeof(float) * n * topk));
  CUDA_CHECK(cudaMalloc(&di, sizeof(int32_t) * n * topk));
  for (int impl = 1; impl <= 3; impl++) {
  auto launch = [&] {
    if (impl == 1)
      dsa_fused_moe_route<<<(n + 63) / 64, 64>>>(di, dw, dl, db, n, e, groups, topk_groups, topk, scale, normalize,
                                                 softmax);
    else if (impl == 3)
      dsa_fused_moe_route3<<<(n + kRouteWarps - 1) / kRouteWarps, 32 * kRouteWarps>>>(
          di, dw, dl, db, n, e, groups, topk_groups, topk, scale, normalize, softmax);
    else
      dsa_fused_moe_route2<<<(n + kRouteWarps - 1) / kRouteWarps, 32 * kRouteWarps>>>(
          di, dw, dl, db, n, e, groups, topk_groups, topk, scale, normalize, softmax);
  };
  CUDA_CHECK(cudaMemset(di, 0x7f, sizeof(int32_t) * n * topk));
  launch();
  CUDA_CHECK(cudaGetLastError());
  auto gi = to_host(di, static_cast<size_t>(n) * topk);
  auto gw = to_host(dw, static_cast<size_t>(n) * topk);
  int bad = 0;
  double err = 0;
  for (int t = 0; t < n; t++) {
    std::vector<float> scores(e), choice(e);
    const float* row = logits.data() + static_cast<size_t>(t) * e;
    if (softmax) {
      double m = -INFINITY, sum = 0;
      for (int i = 0; i < e; i++) m = std::max(m, static_cast<double>(row[i]));
      for (int i = 0; i < e; i++) sum += std::exp(row[i] - m);
      for (int i = 0; i < e; i++) scores[i] = static_cast<float>(std::exp(row[i] - m) / sum);
    } else {
      for (int i = 0; i < e; i++) scores[i] = static_cast<float>(1 / (1 + std::exp(-static_cast<double>(row[i]))));
    }
    for (int i = 0; i < e; i++) choice[i] = with_bias ? scores[i] + bias[i] : scores[i];
    if (groups > 1) {
      const int per = e / groups, best = with_bias ? std::min(2, per) : 1;
      std::vector<float> gs(groups);
      for (int g = 0; g < groups; g++) {
        std::vector<float> part(choice.begin() + g * per, choice.begin() + (g + 1) * per);
        double s = 0;
        for (int j : best_of(part, best)) s += j >= 0 ? part[j] : -INFINITY;
        gs[g] = static_cast<float>(s);
      }
      auto kept = best_of(gs, topk_groups);
      for (int g = 0; g < groups; g++)
        if (std::find(kept.begin(), kept.end(), g) == kept.end())
          for (int i = 0; i < per; i++) choice[g * per + i] = -INFINITY;
    }
    auto picked = best_of(choice, topk);
    std::vector<float> w(topk);
    for (int j = 0; j < topk; j++) w[j] = picked[j] >= 0 ? scores[picked[j]] : 0.0f;
    if (normalize) {
      double s = 0;
      for (float v : w) s += v;
      for (float& v : w) v = v / static_cast<float>(s);
    }
    if (scale != 1.0f)
      for (float& v : w) v *= scale;
    for (int j = 0; j < topk; j++) {
      if (gi[static_cast<size_t>(t) * topk + j] != picked[j]) bad++;
      err = worst(err, std::fabs(gw[static_cast<size_t>(t) * topk + j] - w[j]) / std::max(1.0f, std::fabs(w[j])));
    }
  }
  check(bad == 0 && err < 1e-6, std::string("moeRoute v") + std::to_string(impl) + " " + label + " (" + std::to_string(bad) + " index mismatches, weights max rel " +
                                    std::to_string(err) + ")");
  if (bench)
    std::printf("{\"bench\":\"moe_route\",\"impl\":\"v%d\",\"tokens\":%d,\"experts\":%d,\"us\":%.2f}\n", impl, n, e,
                time_us(launch));
  }
  CUDA_CHECK(cudaFree(dl));
  if (db) CUDA_CHECK(cudaFree(db));
  CUDA_CHECK(cudaFree(dw));
  CUDA_CHECK(cudaFree(di));
}

int main() {
  std::printf("# device %s\n", device_name().c_str());
  Random rng(21);
  check_norm(5, 96, rng, false);
  check_norm(16, 7168, rng, true);
  check_norm(4096, 7168, rng, true);
  check_swiglu(rng);
  check_route("DeepSeek-V3 (sigmoid, bias, 8 groups keep 4, top-8, normalized, 2.5)", 333, 256, 8, 4, 8, 2.5f, true, false,
              true, rng, false);
  check_route("sigmoid without bias, 4 groups keep 2, top-4", 97, 64, 4, 2, 4, 1.0f, false, false, false, rng, false);
  check_route("softmax, one group, top-6", 97, 64, 1, 1, 6, 1.0f, false, true, false, rng, false);
  check_route("decode timing", 16, 256, 8, 4, 8, 2.5f, true, false, true, rng, true);
  check_route("prefill timing", 4096, 256, 8, 4, 8, 2.5f, true, false, true, rng, true);
  std::printf("{\"program\":\"fused-small\",\"failures\":%d}\n", failures());
  return failures() == 0 ? 0 : 1;
}
