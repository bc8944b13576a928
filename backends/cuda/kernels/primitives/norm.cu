// Row-wise primitives, one block of kRowThreads threads per row with a fixed reduction tree:
// rmsNorm, layerNorm, softmax, reduceSum, hadamard. Rows are the leading dims flattened.
#include "../common/block-reduce.cuh"
#include "../common/tensor.cuh"

using namespace dsa;

// out = x * rsqrt(mean(x^2) + eps) * weight. out may alias x.
extern "C" __global__ void __launch_bounds__(kRowThreads) dsa_rms_norm(Tensor out, Tensor x, Tensor weight, double eps) {
  __shared__ double shared[kRowThreads];
  const int64_t d = last_dim(x);
  for (int64_t r = blockIdx.x; r < rows_of(x); r += gridDim.x) {
    const int64_t xo = row_offset(x, r), oo = row_offset(out, r);
    double sum = 0;
    for (int64_t i = threadIdx.x; i < d; i += kRowThreads) {
      const double v = load(x, xo + i);
      sum += v * v;
    }
    sum = block_reduce(sum, shared, SumOp());
    const double inv = 1.0 / sqrt(sum / static_cast<double>(d) + eps);
    for (int64_t i = threadIdx.x; i < d; i += kRowThreads)
      store(out, oo + i, load(x, xo + i) * inv * load(weight, i * weight.strides[0]));
  }
}

// out = (x - mean) * rsqrt(var + eps) * weight + bias (biased variance).
extern "C" __global__ void __launch_bounds__(kRowThreads)
    dsa_layer_norm(Tensor out, Tensor x, Tensor weight, Tensor bias, double eps) {
  __shared__ double shared[kRowThreads];
  const int64_t d = last_dim(x);
  for (int64_t r = blockIdx.x; r < rows_of(x); r += gridDim.x) {
    const int64_t xo = row_offset(x, r), oo = row_offset(out, r);
    double sum = 0;
    for (int64_t i = threadIdx.x; i < d; i += kRowThreads) sum += load(x, xo + i);
    const double mean = block_reduce(sum, shared, SumOp()) / static_cast<double>(d);
    double var = 0;
    for (int64_t i = threadIdx.x; i < d; i += kRowThreads) {
      const double c = load(x, xo + i) - mean;
      var += c * c;
    }
    const double inv = 1.0 / sqrt(block_reduce(var, shared, SumOp()) / static_cast<double>(d) + eps);
    for (int64_t i = threadIdx.x; i < d; i += kRowThreads)
      store(out, oo + i,
            (load(x, xo + i) - mean) * inv * load(weight, i * weight.strides[0]) + load(bias, i * bias.strides[0]));
  }
}

// Softmax of scale * x over the last dim, in place; -inf -> 0, an all -inf row -> zeros.
extern "C" __global__ void __launch_bounds__(kRowThreads) dsa_softmax(Tensor x, double scale) {
  __shared__ double shared[kRowThreads];
  const int64_t d = last_dim(x);
  const double ninf = -__longlong_as_double(0x7ff0000000000000LL);
  for (int64_t r = blockIdx.x; r < rows_of(x); r += gridDim.x) {
    const int64_t xo = row_offset(x, r);
    double m = ninf;
    for (int64_t i = threadIdx.x; i < d; i += kRowThreads) {
      const double v = load(x, xo + i) * scale;
      m = v > m ? v : m;
    }
    m = block_reduce(m, shared, MaxOp());
    if (m == ninf) {
      for (int64_t i = threadIdx.x; i < d; i += kRowThreads) store(x, xo + i, 0.0);
      continue;
    }
    double sum = 0;
    for (int64_t i = threadIdx.x; i < d; i += kRowThreads) sum += exp(load(x, xo + i) * scale - m);
    sum = block_reduce(sum, shared, SumOp());
    for (int64_t i = threadIdx.x; i < d; i += kRowThreads) store(x, xo + i, exp(load(x, xo + i) * scale - m) / sum);
  }
}

// out[r] = sum of row r.
extern "C" __global__ void __launch_bounds__(kRowThreads) dsa_reduce_sum(Tensor out, Tensor x) {
  __shared__ double shared[kRowThreads];
  const int64_t d = last_dim(x);
  for (int64_t r = blockIdx.x; r < rows_of(x); r += gridDim.x) {
    const int64_t xo = row_offset(x, r);
    double sum = 0;
    for (int64_t i = threadIdx.x; i < d; i += kRowThreads) sum += load(x, xo + i);
    sum = block_reduce(sum, shared, SumOp());
    if (threadIdx.x == 0) store(out, r * out.strides[0], sum);
  }
}

// out = H_D x / sqrt(D), Sylvester order, in shared memory (dynamic: D doubles). out may alias x.
extern "C" __global__ void __launch_bounds__(kRowThreads) dsa_hadamard(Tensor out, Tensor x) {
  extern __shared__ double buffer[];
  const int64_t d = last_dim(x);
  const double norm = 1.0 / sqrt(static_cast<double>(d));
  for (int64_t r = blockIdx.x; r < rows_of(x); r += gridDim.x) {
    const int64_t xo = row_offset(x, r), oo = row_offset(out, r);
    for (int64_t i = threadIdx.x; i < d; i += kRowThreads) buffer[i] = load(x, xo + i);
    __syncthreads();
    for (int64_t h = 1; h < d; h <<= 1) {
      for (int64_t p = threadIdx.x; p < d / 2; p += kRowThreads) {
        const int64_t i = (p / h) * 2 * h + (p % h), j = i + h;
        const double a = buffer[i], b = buffer[j];
        buffer[i] = a + b;
        buffer[j] = a - b;
      }
      __syncthreads();
    }
    for (int64_t i = threadIdx.x; i < d; i += kRowThreads) store(out, oo + i, buffer[i] * norm);
    __syncthreads();
  }
}
