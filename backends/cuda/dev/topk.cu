// Top-k selection benchmark and check (kernels/fused/top-k.cu): k = 2048 over 131072 f32 candidates,
// 1 and 64 rows of torch.randn-like data (dev/topk_torch.py times torch.topk on the same pattern);
// exact index sets vs a CPU nth_element reference, plus tie-heavy, -inf/NaN and short rows.
// Build: nvcc -arch=sm_90a -O3 -std=c++17 -o topk dev/topk.cu
#include "../kernels/fused/top-k.cu"
#include "kernels/top-k-v1-v3.cu"
#include "dev-common.h"
#include "top-k-launch.h"

using namespace dev;

static bool run_case(const char* name, const std::vector<float>& host, int rows, int n, int k, bool bench) {
  float* d = to_device(host);
  int32_t* out = nullptr;
  CUDA_CHECK(cudaMalloc(&out, sizeof(int32_t) * rows * k));
  std::vector<std::vector<int32_t>> want(rows);
  for (int r = 0; r < rows; r++) want[r] = reference_top_k(host.data() + static_cast<size_t>(r) * n, n, k);
  bool all_ok = true;
  for (int impl = 1; impl <= 3; impl++) {
    CUDA_CHECK(cudaMemset(out, 0x7f, sizeof(int32_t) * rows * k));
    launch_top_k(d, n, nullptr, rows, n, k, out, 0, impl);
    CUDA_CHECK(cudaGetLastError());
    auto got = to_host(out, static_cast<size_t>(rows) * k);
    bool ok = true;
    for (int r = 0; r < rows && ok; r++) {
      for (int j = 0; j < k; j++)
        if (got[static_cast<size_t>(r) * k + j] != want[r][j]) {
          std::printf("# v%d %s row %d slot %d: got %d want %d\n", impl, name, r, j, got[static_cast<size_t>(r) * k + j],
                      want[r][j]);
          ok = false;
          break;
        }
    }
    check(ok, std::string("v") + std::to_string(impl) + " " + name + " exact indices vs CPU reference");
    all_ok = all_ok && ok;
    if (bench) {
      const double us = time_us([&] { launch_top_k(d, n, nullptr, rows, n, k, out, 0, impl); }, 10, 100);
      std::printf(
          "{\"bench\":\"topk\",\"impl\":\"dsa_radix_v%d\",\"case\":\"%s\",\"rows\":%d,\"n\":%d,\"k\":%d,"
          "\"us\":%.2f,\"ok\":%s}\n",
          impl, name, rows, n, k, us, ok ? "true" : "false");
    }
  }
  CUDA_CHECK(cudaFree(d));
  CUDA_CHECK(cudaFree(out));
  return all_ok;
}

int main() {
  std::printf("# device %s\n", device_name().c_str());
  const int n = 131072, k = 2048;
  Random rng(1);
  for (int rows : {1, 64}) {
    std::vector<float> x(static_cast<size_t>(rows) * n);
    for (auto& v : x) v = rng.normal();
    run_case(rows == 1 ? "randn 1x131072" : "randn 64x131072", x, rows, n, k, true);
  }
  {  // heavy ties: 17 distinct levels, the boundary falls inside a tie group
    std::vector<float> x(4 * static_cast<size_t>(n));
    for (auto& v : x) v = static_cast<float>(rng.below(17)) * 0.25f;
    run_case("ties 4x131072", x, 4, n, k, false);
  }
  {  // +0 and -0 tie (the boundary falls among the zeros)
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = rng.below(4) == 0 ? 1.0f + static_cast<float>(rng.uniform()) : (rng.below(2) ? 0.0f : -0.0f);
    run_case("signed-zero ties 1x131072 k=40000", x, 1, n, 40000, false);
  }
  {  // all equal: the k lowest indices
    std::vector<float> x(static_cast<size_t>(n), 1.5f);
    run_case("all-equal 1x131072", x, 1, n, k, false);
  }
  {  // -inf and NaN never chosen; fewer valid than k -> -1 padding
    std::vector<float> x(2 * 5000);
    for (size_t i = 0; i < x.size(); i++) x[i] = (i % 3 == 0) ? rng.normal() : (i % 3 == 1 ? -INFINITY : NAN);
    run_case("sparse-valid 2x5000", x, 2, 5000, k, false);
  }
  {  // short rows and odd lengths, small k
    std::vector<float> x(3 * 777);
    for (auto& v : x) v = rng.normal();
    run_case("short 3x777 k=64", x, 3, 777, 64, false);
    run_case("short 3x777 k=2048", x, 3, 777, 2048, false);
  }
  {  // v2 filter with boundary ties: distinct tail values, then a block of equal values at the k-th rank
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = rng.normal();
    for (int i = 0; i < 3000; i++) x[rng.below(n)] = 2.5f;  // ~3000 copies of one value inside the top ~1%
    run_case("tail-ties 1x131072", x, 1, n, k, false);
  }
  {  // v2 sample fallback: most entries -inf, a few thousand valid
    std::vector<float> x(static_cast<size_t>(n), -INFINITY);
    for (int i = 0; i < 5000; i++) x[rng.below(n)] = rng.normal();
    run_case("mostly-inf 1x131072", x, 1, n, k, false);
  }
  {  // ascending values: the top k are the last k indices (sampled threshold near the end)
    std::vector<float> x(static_cast<size_t>(n));
    for (int i = 0; i < n; i++) x[i] = static_cast<float>(i) * 0.001f;
    run_case("ascending 1x131072", x, 1, n, k, false);
  }
  {  // candidate overflow path: a narrow value range puts > cap entries in one digit-1 bin
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = 1.0f + static_cast<float>(rng.uniform()) * 0.01f;
    run_case("narrow-range 1x131072", x, 1, n, k, true);
  }
  std::printf("{\"program\":\"topk\",\"failures\":%d}\n", failures());
  return failures() == 0 ? 0 : 1;
}
