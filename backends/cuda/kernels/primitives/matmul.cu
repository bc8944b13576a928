// Batched matmul: out[b] = alpha * a[b] * op(b[b]) over rank-3 strided views (batch stride 0
// broadcasts), a / b f32, bf16 or f16, f32 accumulation in k order. One thread per output element.
#include "../common/tensor.cuh"

using namespace dsa;

extern "C" __global__ void dsa_matmul(Tensor out, Tensor a, Tensor b, int32_t transposeB, float alpha) {
  const int64_t B = out.shape[0], M = out.shape[1], N = out.shape[2], K = a.shape[2];
  DSA_FOR(e, B * M * N) {
    const int64_t n = e % N, m = (e / N) % M, batch = e / (M * N);
    const int64_t ao = batch * a.strides[0] + m * a.strides[1];
    const int64_t bo = batch * b.strides[0] + (transposeB ? n * b.strides[1] : n * b.strides[2]);
    const int64_t bk = transposeB ? b.strides[2] : b.strides[1];
    float acc = 0.0f;
    for (int64_t k = 0; k < K; k++) acc = fmaf(loadf(a, ao + k * a.strides[2]), loadf(b, bo + k * bk), acc);
    storef(out, batch * out.strides[0] + m * out.strides[1] + n * out.strides[2], __fmul_rn(alpha, acc));
  }
}
