// Portable GEMM kernels (no ISA extensions beyond the compiler's baseline): convert a row of the
// B operand to f32 once, then run plain loops the compiler can vectorize.
#include <algorithm>
#include <vector>

#include "convert.h"
#include "gemm.h"

namespace dsa {

namespace {

// Row n of W as f32, block scales applied.
void weight_row(const DotGemm& g, int64_t n, float* row) {
  load_row_f32(row, g.row(n), g.wdtype, g.K, 1);
  if (g.wscale != nullptr) {
    const float* s = g.wscale[n];
    for (int64_t k = 0; k < g.K; k++) row[k] *= s[k / g.bk];
  }
}

float dot(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) acc[j] += a[i + j] * b[i + j];
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; i++) sum += a[i] * b[i];
  return sum;
}

void dot_portable(const DotGemm& g, int64_t n0, int64_t n1) {
  std::vector<float> row(static_cast<size_t>(g.K));
  for (int64_t n = n0; n < n1; n++) {
    weight_row(g, n, row.data());
    for (int64_t m = 0; m < g.M; m++) g.out[m * g.ldo + n] = g.alpha * dot(g.x + m * g.ldx, row.data(), g.K);
  }
}

void axpy_portable(const AxpyGemm& g, int64_t n0, int64_t n1) {
  int64_t width = n1 - n0;
  if (width <= 0) return;
  constexpr int64_t kBlock = 256;
  std::vector<float> row(static_cast<size_t>(std::min(width, kBlock)));
  std::vector<float> acc(static_cast<size_t>(g.M * std::min(width, kBlock)));
  int size = dtype_bytes(g.bdtype);
  for (int64_t nb = n0; nb < n1; nb += kBlock) {
    int64_t w = std::min(kBlock, n1 - nb);
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (int64_t k = 0; k < g.K; k++) {
      load_row_f32(row.data(), g.b[k] + nb * size, g.bdtype, w, 1);
      for (int64_t m = 0; m < g.M; m++) {
        float a = g.a[m * g.lda + k];
        float* o = acc.data() + m * w;
        for (int64_t j = 0; j < w; j++) o[j] += a * row[j];
      }
    }
    for (int64_t m = 0; m < g.M; m++)
      for (int64_t j = 0; j < w; j++) g.out[m * g.ldo + nb + j] = g.alpha * acc[m * w + j];
  }
}

}  // namespace

const GemmKernels& gemm_portable() {
  static const GemmKernels kernels{"portable", dot_portable, axpy_portable};
  return kernels;
}

const GemmKernels& gemm_for(int isa) {
  if (isa >= kAvx512) return gemm_avx512();
  if (isa >= kAvx2) return gemm_avx2();
  return gemm_portable();
}

}  // namespace dsa
