// Routed-experts benchmark and check (kernels/fused/moe-experts.cu) at DeepSeek-V3.2 decode sizes:
// 256 experts of hidden 7168 / moe_inter 2048, 8 experts per token, fp8 e4m3 weights with 128×128
// block scales (11.3 GB, generated on the device from a hash so the CPU can recompute any byte),
// f32 activations; N = 1, 16 and 64 tokens. Checks token 0 against a CPU f64 reference and that its
// output is bit-identical alone (N = 1) and batched (N = 16); prints µs per MoE layer and GB/s over
// the expert weights actually read.
// Build: nvcc -arch=sm_90a -O3 -std=c++17 -o moe dev/moe.cu
#include "../kernels/fused/moe-experts.cu"
#include "dev-common.h"

using namespace dev;

namespace {
constexpr int E = 256, A = 8, HID = 7168, INTER = 2048, BLK = 128;

__host__ __device__ inline uint8_t weight_byte(uint64_t key) {
  key ^= key >> 33;
  key *= 0xff51afd7ed558ccdull;
  key ^= key >> 33;
  key *= 0xc4ceb9fe1a85ec53ull;
  key ^= key >> 33;
  uint8_t b = static_cast<uint8_t>(key);
  const int e = (b >> 3) & 15;
  if (e > 8) b = static_cast<uint8_t>((b & 0x87u) | (static_cast<uint8_t>(e - 8) << 3));  // |w| ≤ 2^1·1.875
  return b;
}
__host__ __device__ inline float scale_value(uint64_t key) { return 1.0f / static_cast<float>(64 << (weight_byte(key) & 3)); }

__global__ void fill_weights(uint8_t* w, int64_t n, uint64_t seed) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    w[i] = weight_byte(seed * 0x100000000ull + static_cast<uint64_t>(i));
}

struct Matrix {
  uint8_t* w;
  float* s;
  int rows, cols;
  uint64_t seed;
};

Matrix make_matrix(int rows, int cols, uint64_t seed) {
  Matrix m{nullptr, nullptr, rows, cols, seed};
  CUDA_CHECK(cudaMalloc(&m.w, static_cast<size_t>(rows) * cols));
  fill_weights<<<1024, 256>>>(m.w, static_cast<int64_t>(rows) * cols, seed);
  const int sr = (rows + BLK - 1) / BLK, sc = (cols + BLK - 1) / BLK;
  std::vector<float> s(static_cast<size_t>(sr) * sc);
  for (size_t i = 0; i < s.size(); i++) s[i] = scale_value(seed * 7919 + i);
  m.s = to_device(s);
  return m;
}

double host_weight(const Matrix& m, int r, int c) {
  const int sc = (m.cols + BLK - 1) / BLK;
  const uint8_t b = weight_byte(m.seed * 0x100000000ull + static_cast<uint64_t>(r) * m.cols + c);
  return static_cast<double>(fp8_to_f32(b)) * scale_value(m.seed * 7919 + static_cast<uint64_t>(r / BLK) * sc + c / BLK);
}
}  // namespace

struct Layer {
  std::vector<Matrix> gate, up, down;
  ExpertPointers* table = nullptr;
};

// impl 1: v1 row-dot kernels; impl 2: v2 (gemv-core.cuh) _r2 + _r16 kernels over the same grid; impl 3: v3
// (the same tiles through gemv_warp_f8v3).
static void run_layer(const Layer& layer, const float* dx, const int32_t* didx, const float* dw, float* dout, int n,
                      int32_t* offsets, int32_t* tiles, int32_t* order, float* h, float* y, int impl) {
  const int na = n * A;
  const int max_tiles = std::min(E, na) + na / 16;
  dsa_fused_moe_plan<<<1, 1024>>>(didx, na, E, offsets, tiles);
  dsa_fused_moe_order<<<(E * 32 + 255) / 256, 256>>>(didx, na, E, offsets, order);
  if (impl == 1) {
    dsa_fused_moe_gate_up_f8<<<dim3((INTER + 7) / 8, max_tiles), 256>>>(h, dx, dsa_fused::kF32, order, tiles, A,
                                                                         layer.table, BLK, BLK, HID, INTER);
    dsa_fused_moe_down_f8<<<dim3((HID + 7) / 8, max_tiles), 256>>>(y, h, order, tiles, layer.table, BLK, BLK, HID,
                                                                    INTER);
  } else {
    // v2 and v3 launch alike: gate/up, then down, each as its r2 and r16 tile kernels.
    using GateUp = decltype(&dsa_fused_moe_gate_up2_f8_r2);
    using Down = decltype(&dsa_fused_moe_down2_f8_r2);
    const GateUp gate_up[2] = {impl == 3 ? dsa_fused_moe_gate_up3_f8_r2 : dsa_fused_moe_gate_up2_f8_r2,
                               impl == 3 ? dsa_fused_moe_gate_up3_f8_r16 : dsa_fused_moe_gate_up2_f8_r16};
    const Down down[2] = {impl == 3 ? dsa_fused_moe_down3_f8_r2 : dsa_fused_moe_down2_f8_r2,
                          impl == 3 ? dsa_fused_moe_down3_f8_r16 : dsa_fused_moe_down2_f8_r16};
    const dim3 gu((INTER + 7) / 8, max_tiles), dn((HID + 31) / 32, max_tiles);
    for (GateUp kernel : gate_up)
      kernel<<<gu, 256>>>(h, dx, dsa_fused::kF32, order, tiles, A, layer.table, BLK, BLK, HID, INTER);
    for (Down kernel : down) kernel<<<dn, 256>>>(y, h, order, tiles, layer.table, BLK, BLK, HID, INTER);
  }
  const int64_t total = static_cast<int64_t>(n) * HID;
  dsa_fused_moe_combine<<<static_cast<int>(std::min<int64_t>((total + 255) / 256, 65535)), 256>>>(
      dout, dsa_fused::kF32, y, didx, dw, n, A, HID, E);
}

int main() {
  std::printf("# device %s\n", device_name().c_str());
  Layer layer;
  std::vector<ExpertPointers> table(E);
  for (int e = 0; e < E; e++) {
    layer.gate.push_back(make_matrix(INTER, HID, 3 * e + 1));
    layer.up.push_back(make_matrix(INTER, HID, 3 * e + 2));
    layer.down.push_back(make_matrix(HID, INTER, 3 * e + 3));
    table[e] = {layer.gate[e].w, layer.gate[e].s, layer.up[e].w, layer.up[e].s, layer.down[e].w, layer.down[e].s};
  }
  layer.table = to_device(table);
  CUDA_CHECK(cudaDeviceSynchronize());
  Random rng(11);
  const int max_n = 64;
  std::vector<float> x(static_cast<size_t>(max_n) * HID), w(max_n * A);
  std::vector<int32_t> idx(max_n * A);
  for (auto& v : x) v = rng.normal();
  for (int t = 0; t < max_n; t++) {
    std::vector<int> pick;
    while (static_cast<int>(pick.size()) < A) {
      int e = rng.below(E);
      if (std::find(pick.begin(), pick.end(), e) == pick.end()) pick.push_back(e);
    }
    std::sort(pick.begin(), pick.end());
    for (int a = 0; a < A; a++) {
      idx[t * A + a] = pick[a];
      w[t * A + a] = 0.1f + static_cast<float>(rng.uniform()) * 0.3f;
    }
  }
  idx[2 * A + 7] = -1;  // a padded slot is skipped
  float *dx = to_device(x), *dw = to_device(w);
  int32_t* didx = to_device(idx);
  const int na_max = max_n * A, tiles_max = std::min(E, na_max) + na_max / 16;
  int32_t *offsets, *tiles, *order;
  float *h, *y, *dout;
  CUDA_CHECK(cudaMalloc(&offsets, 4 * (E + 1)));
  CUDA_CHECK(cudaMalloc(&tiles, 4 * (1 + 3 * tiles_max)));
  CUDA_CHECK(cudaMalloc(&order, 4 * na_max));
  CUDA_CHECK(cudaMalloc(&h, sizeof(float) * na_max * INTER));
  CUDA_CHECK(cudaMalloc(&y, sizeof(float) * na_max * HID));
  CUDA_CHECK(cudaMalloc(&dout, sizeof(float) * max_n * HID));

  // CPU reference for token 0
  std::vector<double> ref(HID, 0.0);
  for (int a = 0; a < A; a++) {
    const int e = idx[a];
    std::vector<double> hv(INTER);
    for (int i = 0; i < INTER; i++) {
      double g = 0, u = 0;
      for (int k = 0; k < HID; k++) {
        g += x[k] * host_weight(layer.gate[e], i, k);
        u += x[k] * host_weight(layer.up[e], i, k);
      }
      hv[i] = g / (1 + std::exp(-g)) * u;
    }
    for (int j = 0; j < HID; j++) {
      double d = 0;
      for (int i = 0; i < INTER; i++) d += hv[i] * host_weight(layer.down[e], j, i);
      ref[j] += w[a] * d;
    }
  }
  double peak = 1e-30;
  for (int j = 0; j < HID; j++) peak = std::max(peak, std::fabs(ref[j]));
  const char* only = std::getenv("DSA_MOE");  // v1 | v2 | v3: run one implementation
  const char* names[] = {"", "v1", "v2", "v3"};
  std::vector<int> impls;
  for (int impl : {1, 2, 3})
    if (only == nullptr || std::strcmp(only, names[impl]) == 0) impls.push_back(impl);
  for (int impl : impls) {
    const std::string tag = names[impl];
    // token 0 alone, then within a batch of 16 and of 64: bit-identical
    run_layer(layer, dx, didx, dw, dout, 1, offsets, tiles, order, h, y, impl);
    CUDA_CHECK(cudaGetLastError());
    auto alone = to_host(dout, HID);
    for (int nb : {16, 64}) {
      run_layer(layer, dx, didx, dw, dout, nb, offsets, tiles, order, h, y, impl);
      CUDA_CHECK(cudaGetLastError());
      auto batched = to_host(dout, static_cast<size_t>(HID));
      check(std::memcmp(alone.data(), batched.data(), sizeof(float) * HID) == 0,
            tag + " token 0 bit-identical alone and in a batch of " + std::to_string(nb));
    }
    double err = 0;
    for (int j = 0; j < HID; j++) err = worst(err, std::fabs(alone[j] - ref[j]) / peak);
    check(err < 1e-4, tag + " token 0 vs CPU f64 reference (max rel " + std::to_string(err) + ")");
  }

  for (int impl : impls)
  for (int n : {1, 16, 64}) {
    std::vector<char> used(E, 0);
    for (int i = 0; i < n * A; i++)
      if (idx[i] >= 0) used[idx[i]] = 1;
    const int active = static_cast<int>(std::count(used.begin(), used.end(), 1));
    const double us =
        time_us([&] { run_layer(layer, dx, didx, dw, dout, n, offsets, tiles, order, h, y, impl); }, 3, 20);
    const double bytes = active * 3.0 * HID * INTER;
    std::printf(
        "{\"bench\":\"moe_experts\",\"impl\":\"%s\",\"tokens\":%d,\"experts\":%d,\"topk\":%d,\"hidden\":%d,\"inter\":%d,"
        "\"weights\":\"f8_e4m3\",\"active_experts\":%d,\"us_per_layer\":%.2f,\"weight_gbps\":%.1f}\n",
        names[impl], n, E, A, HID, INTER, active, us, bytes / us * 1e-3);
  }
  std::printf("{\"program\":\"moe\",\"failures\":%d}\n", failures());
  return failures() == 0 ? 0 : 1;
}
