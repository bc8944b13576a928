// softmax over the last dim, in place, of scale · x; -inf entries get 0, an all -inf row becomes
// zeros. Computed in double per row as the reference does.
#include <cmath>
#include <limits>

#include "convert.h"
#include "kernels.h"
#include "segments.h"

namespace dsa {

void softmax(const Context& ctx, const Tensor& x, double scale) {
  if (x.numel() == 0) return;
  const int64_t d = x.cols();
  parallel_for(ctx, x.rows(), std::max<int64_t>(1, 8192 / std::max<int64_t>(1, d)), [&](int64_t b, int64_t e) {
    double* v = scratch<double>(d);
    for (int64_t r = b; r < e; r++) {
      uint8_t* row = x.at(x.row_offset(r));
      load_row_f64(v, row, x.dtype, d, x.col_stride());
      double max = -std::numeric_limits<double>::infinity();
      for (int64_t i = 0; i < d; i++) {
        double s = v[i] * scale;
        max = s > max ? s : max;
      }
      if (max == -std::numeric_limits<double>::infinity()) {
        for (int64_t i = 0; i < d; i++) v[i] = 0;
      } else {
        double sum = 0;
        for (int64_t i = 0; i < d; i++) {
          v[i] = std::exp(v[i] * scale - max);
          sum += v[i];
        }
        for (int64_t i = 0; i < d; i++) v[i] /= sum;
      }
      store_row_f64(row, x.dtype, x.col_stride(), v, d);
    }
  });
}

}  // namespace dsa
