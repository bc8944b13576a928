// sample: one block per row, the arithmetic of backends/reference/src/sample.ts in double with
// fdlibm's exp/log (V8's Math.exp/Math.log) and every product/sum through __d*_rn (no FMA), and
// every order-dependent sum (softmax normalizer, top-p cumulative, log-sum-exp) folded by one thread
// in index order, so the drawn token and the logprobs equal the reference's. Steps per row:
//   1. logits -> double; logit bias; penalties from the history (repetition over prompt and output,
//      frequency and presence over the output); 2. greedy argmax at temperature 0, else softmax of
//      x/T, top-k / top-p / min-p over (p desc, index asc), exponential race p_i / -ln(u_i);
//   3. optional logprobs (log-softmax of the penalized logits) and the N best of them.
#include "../common/fdlibm.cuh"
#include "../common/tensor.cuh"

using namespace dsa;

namespace {

constexpr int kSampleThreads = 256;
constexpr int kRowFields = 16;  // see src/kernels/sample.ts (packRows)
constexpr int kSeen = 1 << 30, kClaimed = 1 << 29, kCountMask = kClaimed - 1;

struct Best {
  double value;
  int64_t index;
};

// (value desc, index asc) order; NaN values never win.
__device__ __forceinline__ bool better(double v, int64_t i, double bv, int64_t bi) {
  if (v != v) return false;
  if (bi < 0) return true;
  return v > bv || (v == bv && i < bi);
}

__device__ Best block_best(Best mine, double* sv, int64_t* si) {
  sv[threadIdx.x] = mine.value;
  si[threadIdx.x] = mine.index;
  __syncthreads();
  for (int s = kSampleThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s && si[threadIdx.x + s] >= 0 &&
        better(sv[threadIdx.x + s], si[threadIdx.x + s], sv[threadIdx.x], si[threadIdx.x])) {
      sv[threadIdx.x] = sv[threadIdx.x + s];
      si[threadIdx.x] = si[threadIdx.x + s];
    }
    __syncthreads();
  }
  const Best result{sv[0], si[0]};
  __syncthreads();
  return result;
}

// The best entry of v[0, n) strictly after (bound value, bound index) in (value desc, index asc) order.
__device__ Best next_best(const double* v, int64_t n, double boundValue, int64_t boundIndex, double* sv, int64_t* si) {
  Best mine{0.0, -1};
  for (int64_t i = threadIdx.x; i < n; i += kSampleThreads) {
    const double x = v[i];
    if (boundIndex >= 0 && !(x < boundValue || (x == boundValue && i > boundIndex))) continue;
    if (better(x, i, mine.value, mine.index)) mine = {x, i};
  }
  return block_best(mine, sv, si);
}

__device__ __forceinline__ bool valid_id(int64_t id, int64_t n) { return id >= 0 && id < n; }

}  // namespace

// out i32 [B]; logits [B, V]; rows: kRowFields doubles per row then logit-bias pairs; scratch x, p
// double [B, V] and aux i32 [B, V]; logprobs [B], topIds / topLogprobs [B, N] (flags say which exist).
extern "C" __global__ void __launch_bounds__(kSampleThreads)
    dsa_sample(Tensor out, Tensor logits, const double* rows, double* xs, double* ps, int32_t* auxs,
               Tensor logprobs, int32_t hasLogprobs, Tensor topIds, Tensor topLogprobs, int32_t top,
               int32_t hasTopLogprobs) {
  __shared__ double sv[kSampleThreads];
  __shared__ int64_t si[kSampleThreads];
  __shared__ double s_value;
  const int64_t b = blockIdx.x, n = logits.shape[1];
  const double* row = rows + b * kRowFields;
  double* x = xs + b * n;
  double* p = ps + b * n;
  int32_t* aux = auxs + b * n;
  const double temperature = row[0], topK = row[1], topP = row[2], minP = row[3];
  const uint32_t seed = static_cast<uint32_t>(row[4]), step = static_cast<uint32_t>(row[5]);
  const double repetition = row[6], frequency = row[7], presence = row[8];
  const int64_t biasOffset = static_cast<int64_t>(row[9]), biasCount = static_cast<int64_t>(row[10]);
  const int32_t* history = reinterpret_cast<const int32_t*>(static_cast<uint64_t>(row[11]));
  const int64_t historyStride = static_cast<int64_t>(row[12]), historyLength = static_cast<int64_t>(row[13]),
                promptLength = static_cast<int64_t>(row[14]);

  // 1. penalized logits
  for (int64_t i = threadIdx.x; i < n; i += kSampleThreads) {
    x[i] = load(logits, b * logits.strides[0] + i * logits.strides[1]);
    aux[i] = 0;
  }
  __syncthreads();
  if (threadIdx.x == 0)
    for (int64_t j = 0; j < biasCount; j++) {
      const double id = rows[biasOffset + 2 * j];
      if (id >= 0 && id < static_cast<double>(n) && trunc(id) == id) {
        const int64_t k = static_cast<int64_t>(id);
        x[k] = DADD(x[k], rows[biasOffset + 2 * j + 1]);
      }
    }
  __syncthreads();
  if (history != nullptr) {
    for (int64_t i = threadIdx.x; i < historyLength; i += kSampleThreads) {
      const int64_t id = history[i * historyStride];
      if (!valid_id(id, n)) continue;
      atomicOr(&aux[id], kSeen);
      if (i >= promptLength) atomicAdd(&aux[id], 1);
    }
    __syncthreads();
    for (int64_t i = threadIdx.x; i < historyLength; i += kSampleThreads) {
      const int64_t id = history[i * historyStride];
      if (!valid_id(id, n)) continue;
      const int32_t before = atomicOr(&aux[id], kClaimed);
      if (before & kClaimed) continue;  // another occurrence of this id applies its penalties
      double v = x[id];
      if (repetition != 1) v = v > 0 ? DDIV(v, repetition) : DMUL(v, repetition);
      const int32_t count = before & kCountMask;
      if (count > 0) v = DSUB(v, DADD(DMUL(frequency, static_cast<double>(count)), presence));
      x[id] = v;
    }
    __syncthreads();
  }

  // 2. the draw
  int64_t chosen;
  if (temperature <= 0) {
    chosen = next_best(x, n, 0.0, -1, sv, si).index;
    if (chosen < 0) chosen = 0;
  } else {
    double m = -__longlong_as_double(0x7ff0000000000000LL);
    for (int64_t i = threadIdx.x; i < n; i += kSampleThreads) {
      const double v = DDIV(x[i], temperature);
      m = (v != v || m != m) ? __longlong_as_double(0x7ff8000000000000LL) : (v > m ? v : m);
    }
    sv[threadIdx.x] = m;
    __syncthreads();
    if (threadIdx.x == 0) {
      double all = sv[0];
      for (int t = 1; t < kSampleThreads; t++) {
        const double v = sv[t];
        all = (v != v || all != all) ? __longlong_as_double(0x7ff8000000000000LL) : (v > all ? v : all);
      }
      s_value = all;
    }
    __syncthreads();
    const double max = s_value;
    __syncthreads();
    for (int64_t i = threadIdx.x; i < n; i += kSampleThreads) p[i] = js_exp(DSUB(DDIV(x[i], temperature), max));
    __syncthreads();
    if (threadIdx.x == 0) {
      double sum = 0;
      for (int64_t i = 0; i < n; i++) sum = DADD(sum, p[i]);
      s_value = sum;
    }
    __syncthreads();
    const double sum = s_value;
    for (int64_t i = threadIdx.x; i < n; i += kSampleThreads) p[i] = DDIV(p[i], sum);
    __syncthreads();
    // count as the reference's loop sees it (a fractional topK runs ceil(topK) times)
    int64_t count = topK > 0 ? (static_cast<int64_t>(ceil(topK)) < n ? static_cast<int64_t>(ceil(topK)) : n) : n;
    const Best first = next_best(p, n, 0.0, -1, sv, si);
    // walk the order while it matters: to the count-th entry, or until top-p's cumulative is reached
    Best last = first;
    const bool walk = count < n || topP < 1;
    if (walk) {
      double cumulative = 0;
      Best current = first;
      for (int64_t j = 0; j < count; j++) {
        if (j > 0) current = next_best(p, n, last.value, last.index, sv, si);
        last = current;
        if (topP < 1) {
          cumulative = DADD(cumulative, current.value);
          if (cumulative >= topP) {
            count = j + 1;
            break;
          }
        }
      }
    }
    const double floor = minP > 0 ? DMUL(minP, first.value) : 0.0;
    Best mine{0.0, -1};
    for (int64_t i = threadIdx.x; i < n; i += kSampleThreads) {
      const double v = p[i];
      const bool inPrefix = !walk || count >= n || v > last.value || (v == last.value && i <= last.index);
      if (!inPrefix || !(i == first.index || v >= floor)) continue;
      const double e = -js_log(rng_uniform(seed, step, static_cast<uint32_t>(i)));
      const double key = DDIV(v, e);
      if (better(key, i, mine.value, mine.index)) mine = {key, i};
    }
    chosen = block_best(mine, sv, si).index;
  }
  if (threadIdx.x == 0) store(out, b * out.strides[0], static_cast<double>(chosen));

  // 3. logprobs of the penalized logits
  if (!hasLogprobs && top <= 0) return;
  double m = -__longlong_as_double(0x7ff0000000000000LL);
  for (int64_t i = threadIdx.x; i < n; i += kSampleThreads) {
    const double v = x[i];
    m = (v != v || m != m) ? __longlong_as_double(0x7ff8000000000000LL) : (v > m ? v : m);
  }
  sv[threadIdx.x] = m;
  __syncthreads();
  if (threadIdx.x == 0) {
    double max = sv[0];
    for (int t = 1; t < kSampleThreads; t++) {
      const double v = sv[t];
      max = (v != v || max != max) ? __longlong_as_double(0x7ff8000000000000LL) : (v > max ? v : max);
    }
    s_value = max;
  }
  __syncthreads();
  const double lmax = s_value;
  // exp in parallel (p is free after the draw), the sum in index order by one thread
  for (int64_t i = threadIdx.x; i < n; i += kSampleThreads) p[i] = js_exp(DSUB(x[i], lmax));
  __syncthreads();
  if (threadIdx.x == 0) {
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum = DADD(sum, p[i]);
    s_value = DADD(lmax, js_log(sum));
  }
  __syncthreads();
  const double lse = s_value;
  for (int64_t i = threadIdx.x; i < n; i += kSampleThreads) x[i] = DSUB(x[i], lse);
  __syncthreads();
  if (threadIdx.x == 0 && hasLogprobs)
    store(logprobs, b * logprobs.strides[0], chosen >= 0 ? x[chosen] : __longlong_as_double(0x7ff8000000000000LL));
  Best last{0.0, -1};
  for (int j = 0; j < top; j++) {
    last = next_best(x, n, last.value, last.index, sv, si);
    if (threadIdx.x == 0) {
      store(topIds, b * topIds.strides[0] + j * topIds.strides[1], static_cast<double>(last.index));
      if (hasTopLogprobs) store(topLogprobs, b * topLogprobs.strides[0] + j * topLogprobs.strides[1], last.value);
    }
  }
}
