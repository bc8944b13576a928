// Rotary embedding in place on x [N, H, R] (R possibly a slice of a wider row). The angle is the
// f32 product positions[n] * invFreq[i] (as the reference computes it); cos/sin of that angle in double.
#include "../common/tensor.cuh"

using namespace dsa;

extern "C" __global__ void dsa_rope(Tensor x, Tensor positions, Tensor invFreq, int32_t interleaved, double scale) {
  const int64_t n = x.shape[0], heads = x.shape[1], half = x.shape[2] / 2;
  DSA_FOR(e, n * heads * half) {
    const int64_t i = e % half, h = (e / half) % heads, t = e / (half * heads);
    const float angle = __fmul_rn(static_cast<float>(load_i32(positions, t * positions.strides[0])),
                                  loadf(invFreq, i * invFreq.strides[0]));
    double s, c;
    sincos(static_cast<double>(angle), &s, &c);
    c *= scale;
    s *= scale;
    const int64_t base = t * x.strides[0] + h * x.strides[1];
    const int64_t a = base + (interleaved ? 2 * i : i), b = base + (interleaved ? 2 * i + 1 : i + half);
    const double x0 = load(x, a), x1 = load(x, b);
    store(x, a, x0 * c - x1 * s);
    store(x, b, x1 * c + x0 * s);
  }
}
