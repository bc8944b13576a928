// sample: a line-by-line port of backends/reference/src/sample.ts with the same double arithmetic,
// the same order of the sums, and fdlibm's exp/log (what V8 runs for Math.exp/Math.log), so every
// backend draws the same token. Per row:
//   1. logit bias is added; 2. penalties from the token history (repetition over prompt and output,
//   frequency and presence over the output); 3. logprobs = log-softmax of those logits;
//   4. greedy argmax at temperature 0, else top-k, top-p, min-p on the tempered distribution and the
//   exponential race argmax(p_i / E_i), E_i = -ln(u_i), u_i = rngUniform(seed, step, i).
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "argmax-row.h"
#include "convert.h"
#include "kernels.h"
#include "segments.h"

namespace dsa {

namespace {

uint32_t mix32(uint32_t h) {
  // murmur3 fmix32
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

// Math.max over a sequence: NaN anywhere gives NaN.
double js_max(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<double>::quiet_NaN();
  return a > b ? a : b;
}

bool valid_id(double id, int64_t n) { return id >= 0 && id < static_cast<double>(n) && std::trunc(id) == id; }

// Logit bias, then the history penalties (processLogits).
void process_logits(double* x, int64_t n, const SamplingRow& row) {
  for (const auto& [id, bias] : row.logit_bias)
    if (valid_id(id, n)) x[static_cast<int64_t>(id)] += bias;
  if (!row.has_history) return;
  std::vector<double> seen;            // ids in the prompt or output
  std::map<double, int64_t> counts;    // ids in the output, with their counts
  for (int64_t i = 0; i < row.history_length; i++) {
    double id = load_f64(row.history.at(i * row.history.strides[0]), row.history.dtype);
    seen.push_back(id);
    if (i >= row.prompt_length) counts[id]++;
  }
  std::sort(seen.begin(), seen.end());
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  if (row.repetition_penalty != 1) {
    for (double id : seen) {
      if (!valid_id(id, n)) continue;
      double& v = x[static_cast<int64_t>(id)];
      v = v > 0 ? v / row.repetition_penalty : v * row.repetition_penalty;
    }
  }
  for (const auto& [id, count] : counts)
    if (valid_id(id, n)) x[static_cast<int64_t>(id)] -= row.frequency_penalty * count + row.presence_penalty;
}

int32_t sample_row(const double* logits, int64_t n, const SamplingRow& row, std::vector<double>& p,
                   std::vector<int32_t>& order, std::vector<uint8_t>& keep) {
  if (n <= 0) return -1;
  if (row.temperature <= 0) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
      if (logits[i] > logits[best]) best = i;
    return static_cast<int32_t>(best);
  }
  double max = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n; i++) max = js_max(max, logits[i] / row.temperature);
  p.resize(static_cast<size_t>(n));
  double sum = 0;
  for (int64_t i = 0; i < n; i++) {
    p[i] = fdlibm_exp(logits[i] / row.temperature - max);
    sum += p[i];
  }
  for (int64_t i = 0; i < n; i++) p[i] /= sum;
  // count as the reference's loops see it (`j < topK` with a fractional topK runs ceil(topK) times)
  int64_t count = row.top_k > 0 ? std::min<int64_t>(static_cast<int64_t>(std::ceil(row.top_k)), n) : n;
  // order: probability desc, then index asc; only the first `count` entries are ever read.
  order.resize(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  auto better = [&p](int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); };
  if (count < n)
    std::partial_sort(order.begin(), order.begin() + count, order.end(), better);
  else
    std::sort(order.begin(), order.end(), better);
  keep.assign(static_cast<size_t>(n), 0);
  if (row.top_p < 1) {
    double cumulative = 0;
    for (int64_t j = 0; j < count; j++) {
      cumulative += p[order[j]];
      if (cumulative >= row.top_p) {
        count = j + 1;
        break;
      }
    }
  }
  double floor = row.min_p > 0 ? row.min_p * p[order[0]] : 0;
  for (int64_t j = 0; j < count; j++)
    if (j == 0 || p[order[j]] >= floor) keep[order[j]] = 1;
  int64_t best = -1;
  double best_key = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n; i++) {
    if (!keep[i]) continue;
    double e = -fdlibm_log(rng_uniform(row.seed, row.step, static_cast<uint32_t>(i)));
    double key = p[i] / e;
    if (key > best_key) {
      best_key = key;
      best = i;
    }
  }
  return static_cast<int32_t>(best);
}

// log-softmax in place (the reference's logSoftmax).
void log_softmax(double* x, int64_t n) {
  double max = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n; i++) max = js_max(max, x[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; i++) sum += fdlibm_exp(x[i] - max);
  double lse = max + fdlibm_log(sum);
  for (int64_t i = 0; i < n; i++) x[i] -= lse;
}

}  // namespace

double rng_uniform(uint32_t seed, uint32_t step, uint32_t index) {
  uint32_t h = mix32(mix32(mix32(seed) ^ step) ^ (index * 0x9e3779b9u));
  return (static_cast<double>(h >> 8) + 0.5) / 16777216.0;
}

void sample(const Context& ctx, const Tensor& out, const Tensor& logits, const std::vector<SamplingRow>& rows,
            const SamplingOutputs& outputs) {
  expect_rank("logits", logits, 2);
  expect_dtype("out", out, DType::i32);
  const int64_t batch = logits.shape[0], vocab = logits.shape[1];
  expect_shape("out", out, {batch});
  if (static_cast<int64_t>(rows.size()) != batch)
    fail(std::to_string(rows.size()) + " sampling rows for " + std::to_string(batch) + " logits rows");
  const int64_t top = outputs.top_ids != nullptr ? outputs.top_ids->dim(1) : 0;
  if (outputs.logprobs != nullptr) expect_shape("logprobs", *outputs.logprobs, {batch});
  if (outputs.top_ids != nullptr) {
    expect_rank("topIds", *outputs.top_ids, 2);
    expect_shape("topIds", *outputs.top_ids, {batch, top});
  }
  if (outputs.top_logprobs != nullptr) expect_shape("topLogprobs", *outputs.top_logprobs, {batch, top});
  if (top > vocab) fail("topIds asks for " + std::to_string(top) + " tokens of a vocabulary of " + std::to_string(vocab));
  for (const SamplingRow& row : rows) {
    if (!row.has_history) continue;
    expect_rank("history.tokens", row.history, 1);
    if (row.history_length < 0 || row.history_length > row.history.shape[0])
      fail("history length " + std::to_string(row.history_length) + " exceeds its tokens " + row.history.describe());
  }
  const bool want_logprobs = outputs.logprobs != nullptr || top > 0;
  // Greedy rows with nothing to add to their logits may be picked straight from f32 rows (widening to double is
  // exact and keeps the order, NaN included): where the call wants no log-probabilities and the rows are dense f32.
  const bool f32_greedy = !want_logprobs && vocab > 0 && logits.dtype == DType::f32 &&
                          (logits.strides[1] == 1 || vocab == 1);
  parallel_for(ctx, batch, 1, [&](int64_t b, int64_t e) {
    thread_local std::vector<double> p;
    thread_local std::vector<int32_t> order;
    thread_local std::vector<uint8_t> keep;
    double* x = scratch<double>(vocab);
    for (int64_t r = b; r < e; r++) {
      const SamplingRow& row = rows[r];
      if (f32_greedy && row.temperature <= 0 && row.logit_bias.empty() && !row.has_history) {
        const float* lr = logits.ptr<float>() + r * logits.strides[0];
        out.ptr<int32_t>()[r * out.strides[0]] = static_cast<int32_t>(argmax_row(ctx.isa, lr, vocab));
        continue;
      }
      load_row_f64(x, logits.at(r * logits.strides[0]), logits.dtype, vocab, logits.strides[1]);
      process_logits(x, vocab, row);
      int32_t id = sample_row(x, vocab, row, p, order, keep);
      out.ptr<int32_t>()[r * out.strides[0]] = id;
      if (!want_logprobs) continue;
      log_softmax(x, vocab);
      if (outputs.logprobs != nullptr)
        store_f64(outputs.logprobs->at(r * outputs.logprobs->strides[0]), outputs.logprobs->dtype,
                  id >= 0 ? x[id] : std::numeric_limits<double>::quiet_NaN());
      if (top > 0) {
        order.resize(static_cast<size_t>(vocab));
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + top, order.end(),
                          [x](int32_t a, int32_t c) { return x[a] > x[c] || (x[a] == x[c] && a < c); });
        for (int64_t j = 0; j < top; j++) {
          const Tensor& ids = *outputs.top_ids;
          store_f64(ids.at(r * ids.strides[0] + j * ids.strides[1]), ids.dtype, order[j]);
          if (outputs.top_logprobs != nullptr) {
            const Tensor& v = *outputs.top_logprobs;
            store_f64(v.at(r * v.strides[0] + j * v.strides[1]), v.dtype, x[order[j]]);
          }
        }
      }
    }
  });
}

}  // namespace dsa
