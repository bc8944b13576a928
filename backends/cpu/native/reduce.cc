// reduceSum: out[r] = Σ_n x[r, n], accumulated in double.
#include "convert.h"
#include "kernels.h"
#include "segments.h"

namespace dsa {

void reduce_sum(const Context& ctx, const Tensor& out, const Tensor& x) {
  expect_rank("x", x, 2);
  const int64_t rows = x.shape[0], n = x.shape[1];
  expect_shape("out", out, {rows});
  parallel_for(ctx, rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, n)), [&](int64_t b, int64_t e) {
    double* v = scratch<double>(n);
    for (int64_t r = b; r < e; r++) {
      load_row_f64(v, x.at(r * x.strides[0]), x.dtype, n, x.strides[1]);
      double sum = 0;
      for (int64_t i = 0; i < n; i++) sum += v[i];
      store_f64(out.at(r * out.strides[0]), out.dtype, sum);
    }
  });
}

}  // namespace dsa
