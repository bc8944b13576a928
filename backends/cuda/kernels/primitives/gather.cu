// Row and column gathers/scatters. indexAdd runs one thread per column and walks the rows in order,
// so repeated indices accumulate in the reference's order with no atomics (deterministic).
#include "../common/tensor.cuh"

using namespace dsa;

// out[n, :] = table[indices[n], :]; -1 gives zeros. out [N, D], table [V, D], indices [N].
extern "C" __global__ void dsa_gather_rows(Tensor out, Tensor table, Tensor indices) {
  const int64_t rows = out.shape[0], d = out.shape[1];
  DSA_FOR(i, rows * d) {
    const int64_t n = i / d, c = i % d;
    const int32_t idx = load_i32(indices, n * indices.strides[0]);
    const double v = idx < 0 ? 0.0 : load(table, idx * table.strides[0] + c * table.strides[1]);
    store(out, n * out.strides[0] + c * out.strides[1], v);
  }
}

// table[indices[n], :] = rows[n, :]; -1 skips.
extern "C" __global__ void dsa_scatter_rows(Tensor table, Tensor rows, Tensor indices) {
  const int64_t count = rows.shape[0], d = rows.shape[1];
  DSA_FOR(i, count * d) {
    const int64_t n = i / d, c = i % d;
    const int32_t idx = load_i32(indices, n * indices.strides[0]);
    if (idx < 0) continue;
    store(table, idx * table.strides[0] + c * table.strides[1], load(rows, n * rows.strides[0] + c * rows.strides[1]));
  }
}

// out[indices[n], :] += weights[n] * rows[n, :]; one thread per column, rows in order.
extern "C" __global__ void dsa_index_add(Tensor out, Tensor rows, Tensor indices, Tensor weights, int32_t hasWeights) {
  const int64_t count = rows.shape[0], d = rows.shape[1];
  DSA_FOR(c, d) {
    for (int64_t n = 0; n < count; n++) {
      const int32_t idx = load_i32(indices, n * indices.strides[0]);
      if (idx < 0) continue;
      const double w = hasWeights ? load(weights, n * weights.strides[0]) : 1.0;
      const int64_t o = idx * out.strides[0] + c * out.strides[1];
      store(out, o, load(out, o) + w * load(rows, n * rows.strides[0] + c * rows.strides[1]));
    }
  }
}

// out[r, j] = x[r, indices[r, j]] or fill where the index is -1.
extern "C" __global__ void dsa_gather_columns(Tensor out, Tensor x, Tensor indices, double fill) {
  const int64_t r = out.shape[0], j = out.shape[1];
  DSA_FOR(i, r * j) {
    const int64_t row = i / j, col = i % j;
    const int32_t idx = load_i32(indices, row * indices.strides[0] + col * indices.strides[1]);
    const double v = idx < 0 ? fill : load(x, row * x.strides[0] + idx * x.strides[1]);
    store(out, row * out.strides[0] + col * out.strides[1], v);
  }
}

// out[r, indices[r, j]] = values[r, j] (or `value` when hasValues is 0); -1 skips. One thread per row
// walks j in order, so a repeated index keeps the last value as the reference does.
extern "C" __global__ void dsa_scatter_columns(Tensor out, Tensor indices, Tensor values, int32_t hasValues, double value) {
  const int64_t r = indices.shape[0], j = indices.shape[1];
  DSA_FOR(row, r) {
    for (int64_t col = 0; col < j; col++) {
      const int32_t idx = load_i32(indices, row * indices.strides[0] + col * indices.strides[1]);
      if (idx < 0) continue;
      const double v = hasValues ? load(values, row * values.strides[0] + col * values.strides[1]) : value;
      store(out, row * out.strides[0] + idx * out.strides[1], v);
    }
  }
}
