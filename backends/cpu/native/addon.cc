// The Node-API binding: buffer handles (buffer.cc), the argument decoder, and one exported function
// per kernel.
//
// Every kernel call passes a Float64Array argument block written by src/arguments.ts:
//   [threads, isa, ...arguments in call order]
// where a tensor is [bufferId, byteOffset, dtype, rank, shape × rank, strides × rank] (bufferId -1
// for "none"). Kernels run synchronously on the calling thread with the thread pool for
// parallelism: when a call returns, its results are in memory (see README.md).
#include <napi.h>

#include <string>
#include <vector>

#include "bandwidth.h"
#include "buffer.h"
#include "convert.h"
#include "cpu-features.h"
#include "gemm.h"
#include "kernels.h"
#include "pool.h"

namespace dsa {
namespace {

// ---------------------------------------------------------------------------------------------
// Arguments

class Reader {
 public:
  explicit Reader(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsTypedArray()) fail("expected the argument block");
    Napi::Float64Array block = info[0].As<Napi::Float64Array>();
    data_ = block.Data();
    size_ = block.ElementLength();
    ctx_.threads = static_cast<int>(next());
    ctx_.isa = std::min(static_cast<int>(next()), detected_isa());
    if (ctx_.threads < 1) ctx_.threads = 1;
  }
  const Context& context() const { return ctx_; }
  double number() { return next(); }
  // A required tensor.
  Tensor tensor(const char* name) {
    Tensor t;
    if (!optional(t, name)) fail(std::string(name) + " is missing");
    return t;
  }
  // A tensor or "none" (false).
  bool optional(Tensor& t, const char* name) {
    double id = next();
    if (id == -1) return false;
    double byte_offset = next();
    int dtype = static_cast<int>(next());
    int rank = static_cast<int>(next());
    if (dtype < 0 || dtype > static_cast<int>(DType::boolean)) fail(std::string(name) + ": unknown dtype code");
    if (rank < 0 || rank > kMaxRank) fail(std::string(name) + ": rank " + std::to_string(rank) + " is above 8");
    t.dtype = static_cast<DType>(dtype);
    t.rank = rank;
    for (int i = 0; i < rank; i++) {
      t.shape[i] = static_cast<int64_t>(next());
      if (t.shape[i] < 0) fail(std::string(name) + ": negative dimension");
    }
    for (int i = 0; i < rank; i++) t.strides[i] = static_cast<int64_t>(next());
    Buffer buffer = buffer_lookup(id);
    const int size = t.bytes();
    const int64_t offset = static_cast<int64_t>(byte_offset);
    if (offset % size != 0)
      fail(std::string(name) + ": byte offset " + std::to_string(offset) + " is not aligned to " + dtype_name(t.dtype));
    if (t.numel() > 0) {
      int64_t first = 0, last = 0;
      for (int i = 0; i < rank; i++) {
        if (t.strides[i] >= 0)
          last += (t.shape[i] - 1) * t.strides[i];
        else
          first += (t.shape[i] - 1) * t.strides[i];
      }
      int64_t start = offset + first * size, end = offset + (last + 1) * size;
      if (start < 0 || end > static_cast<int64_t>(buffer.size))
        fail(std::string(name) + " " + t.describe() + " spans bytes [" + std::to_string(start) + ", " +
             std::to_string(end) + ") of a " + std::to_string(buffer.size) + "-byte buffer");
    }
    t.data = buffer.data + offset;
    return true;
  }

 private:
  double next() {
    if (index_ >= size_) fail("argument block too short");
    return data_[index_++];
  }
  const double* data_ = nullptr;
  size_t size_ = 0;
  size_t index_ = 0;
  Context ctx_;
};


struct HostInts {
  const int32_t* data;
  int64_t length;
};
HostInts host_ints(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (info.Length() <= index || !info[index].IsTypedArray()) fail(std::string(name) + " must be an Int32Array");
  Napi::TypedArray array = info[index].As<Napi::TypedArray>();
  if (array.TypedArrayType() != napi_int32_array) fail(std::string(name) + " must be an Int32Array");
  Napi::Int32Array ints = array.As<Napi::Int32Array>();
  return {ints.Data(), static_cast<int64_t>(ints.ElementLength())};
}

BatchHost read_batch(Reader& r, const Napi::CallbackInfo& info, size_t first) {
  BatchHost batch{};
  HostInts positions = host_ints(info, first, "positions");
  HostInts sequences = host_ints(info, first + 1, "sequenceIds");
  HostInts table_ints = host_ints(info, first + 2, "blockTable");
  batch.positions = positions.data;
  batch.sequence_ids = sequences.data;
  batch.block_table = table_ints.data;
  batch.count = positions.length;
  batch.table_length = table_ints.length;
  batch.max_blocks = static_cast<int64_t>(r.number());
  batch.block_size = static_cast<int64_t>(r.number());
  if (sequences.length != positions.length) fail("positions and sequenceIds differ in length");
  if (batch.block_size < 1 || batch.max_blocks < 0) fail("bad block size or block table width");
  return batch;
}

// ---------------------------------------------------------------------------------------------
// Function wrappers: KernelError and other C++ exceptions become JS errors.

using Body = Napi::Value (*)(const Napi::CallbackInfo&);

template <Body F>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const KernelError& error) {
    throw Napi::Error::New(info.Env(), error.what());
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), "out of memory");
  } catch (const std::exception& error) {
    throw Napi::Error::New(info.Env(), std::string("internal error: ") + error.what());
  }
}

template <void (*K)(Reader&, const Napi::CallbackInfo&)>
Napi::Value kernel(const Napi::CallbackInfo& info) {
  Reader reader(info);
  K(reader, info);
  return info.Env().Undefined();
}

// ---------------------------------------------------------------------------------------------
// Memory

Napi::Value Allocate(const Napi::CallbackInfo& info) {
  double bytes = info[0].As<Napi::Number>().DoubleValue();
  bool zero = info.Length() > 1 && info[1].ToBoolean().Value();
  if (!(bytes >= 0) || bytes > 9.0e15) fail("byte length is not a valid size");
  return Napi::Number::New(info.Env(), buffer_allocate(static_cast<size_t>(bytes), zero));
}

Napi::Value Free(const Napi::CallbackInfo& info) {
  buffer_free(info[0].As<Napi::Number>().DoubleValue());
  return info.Env().Undefined();
}

// upload(id, byteOffset, Uint8Array) / download(id, byteOffset, Uint8Array)
Napi::Value Transfer(const Napi::CallbackInfo& info, bool to_device) {
  Napi::Uint8Array host = info[2].As<Napi::Uint8Array>();
  buffer_transfer(info[0].As<Napi::Number>().DoubleValue(), info[1].As<Napi::Number>().DoubleValue(), host.Data(),
                  host.ByteLength(), to_device);
  return info.Env().Undefined();
}
Napi::Value Upload(const Napi::CallbackInfo& info) { return Transfer(info, true); }
Napi::Value Download(const Napi::CallbackInfo& info) { return Transfer(info, false); }

// ---------------------------------------------------------------------------------------------
// Information and threads

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("isa", detected_isa());
  o.Set("isaName", isa_name(detected_isa()));
  o.Set("hardwareThreads", hardware_threads());
  o.Set("poolThreads", ThreadPool::get().capacity());
  o.Set("cpu", cpu_brand());
  o.Set("gemm", gemm_for(detected_isa()).name);
  return o;
}

Napi::Value MemoryReadBandwidth(const Napi::CallbackInfo& info) {
  double bytes = info[0].As<Napi::Number>().DoubleValue();
  int threads = info[1].As<Napi::Number>().Int32Value();
  if (!(bytes >= 1)) fail("memoryReadBandwidth: bytes must be at least 1");
  return Napi::Number::New(info.Env(), memory_read_bandwidth(static_cast<int64_t>(bytes), threads));
}

Napi::Value ReserveThreads(const Napi::CallbackInfo& info) {
  int threads = info[0].As<Napi::Number>().Int32Value();
  ThreadPool::get().reserve(std::max(1, threads));
  return Napi::Number::New(info.Env(), ThreadPool::get().capacity());
}

// ---------------------------------------------------------------------------------------------
// Kernels

void Fill(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out");
  fill(r.context(), out, r.number());
}
void Cast(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), x = r.tensor("x");
  cast(r.context(), out, x);
}
void Copy(Reader& r, const Napi::CallbackInfo&) {
  Tensor destination = r.tensor("destination"), source = r.tensor("source");
  copy(r.context(), destination, source);
}
void GatherRows(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), table_ = r.tensor("table"), indices = r.tensor("indices");
  gather_rows(r.context(), out, table_, indices);
}
void ScatterRows(Reader& r, const Napi::CallbackInfo&) {
  Tensor table_ = r.tensor("table"), rows = r.tensor("rows"), indices = r.tensor("indices");
  scatter_rows(r.context(), table_, rows, indices);
}
void IndexAdd(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), rows = r.tensor("rows"), indices = r.tensor("indices"), weights;
  bool has_weights = r.optional(weights, "weights");
  index_add(r.context(), out, rows, indices, has_weights ? &weights : nullptr);
}
void Linear(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), x = r.tensor("x"), weight = r.tensor("weight"), scale;
  bool has_scale = r.optional(scale, "scaleInv");
  int64_t block_n = static_cast<int64_t>(r.number()), block_k = static_cast<int64_t>(r.number());
  linear(r.context(), out, x, weight, has_scale ? &scale : nullptr, block_n, block_k);
}
void Matmul(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), a = r.tensor("a"), b = r.tensor("b");
  bool transpose_b = r.number() != 0;
  double alpha = r.number();
  matmul(r.context(), out, a, b, transpose_b, alpha);
}
void RmsNorm(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), x = r.tensor("x"), weight = r.tensor("weight");
  rms_norm(r.context(), out, x, weight, r.number());
}
void LayerNorm(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), x = r.tensor("x"), weight = r.tensor("weight"), bias = r.tensor("bias");
  layer_norm(r.context(), out, x, weight, bias, r.number());
}
void AddRmsNorm(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), residual = r.tensor("residual"), x = r.tensor("x"), weight = r.tensor("weight");
  add_rms_norm(r.context(), out, residual, x, weight, r.number());
}
void Rope(Reader& r, const Napi::CallbackInfo&) {
  Tensor x = r.tensor("x"), positions = r.tensor("positions"), inv_freq = r.tensor("invFreq");
  bool interleaved = r.number() != 0;
  rope(r.context(), x, positions, inv_freq, interleaved, r.number());
}
void Softmax(Reader& r, const Napi::CallbackInfo&) {
  Tensor x = r.tensor("x");
  softmax(r.context(), x, r.number());
}
void TopK(Reader& r, const Napi::CallbackInfo&) {
  Tensor indices = r.tensor("indices"), values, x;
  bool has_values = r.optional(values, "values");
  x = r.tensor("x");
  top_k(r.context(), indices, has_values ? &values : nullptr, x, static_cast<int64_t>(r.number()));
}
void ReduceSum(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), x = r.tensor("x");
  reduce_sum(r.context(), out, x);
}
void GatherColumns(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), x = r.tensor("x"), indices = r.tensor("indices");
  gather_columns(r.context(), out, x, indices, r.number());
}
void ScatterColumns(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), indices = r.tensor("indices"), values;
  bool has_values = r.optional(values, "values");
  double value = r.number();
  scatter_columns(r.context(), out, indices, has_values ? &values : nullptr, value);
}
void Unary(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), x = r.tensor("x");
  int op = static_cast<int>(r.number());
  if (op < 0 || op > static_cast<int>(UnaryOp::reciprocal)) fail("unknown unary op");
  unary(r.context(), out, x, static_cast<UnaryOp>(op));
}
void Binary(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), a = r.tensor("a"), b = r.tensor("b");
  int op = static_cast<int>(r.number());
  if (op < 0 || op > static_cast<int>(BinaryOp::min)) fail("unknown binary op");
  binary(r.context(), out, a, b, static_cast<BinaryOp>(op));
}
void Swiglu(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), gate = r.tensor("gate"), up = r.tensor("up");
  swiglu(r.context(), out, gate, up);
}
void Hadamard(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), x = r.tensor("x");
  hadamard(r.context(), out, x);
}
void QuantizeFp8(Reader& r, const Napi::CallbackInfo&) {
  Tensor q = r.tensor("q"), scale = r.tensor("scale"), x = r.tensor("x");
  int64_t block = static_cast<int64_t>(r.number());
  bool ue8m0 = r.number() != 0;
  quantize_fp8(r.context(), q, scale, x, block, ue8m0);
}
void DequantizeFp8(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), q = r.tensor("q"), scale = r.tensor("scale");
  dequantize_fp8(r.context(), out, q, scale, static_cast<int64_t>(r.number()));
}
// sample: out, logits, count, then per row [temperature, topK, topP, minP, seed, step, repetition,
// frequency, presence, biasCount, (id, bias) × biasCount, history tensor | none, length, promptLength],
// then the optional outputs logprobs, topIds, topLogprobs.
void Sample(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), logits = r.tensor("logits");
  int64_t count = static_cast<int64_t>(r.number());
  std::vector<SamplingRow> rows(static_cast<size_t>(std::max<int64_t>(0, count)));
  for (SamplingRow& row : rows) {
    row.temperature = r.number();
    row.top_k = r.number();
    row.top_p = r.number();
    row.min_p = r.number();
    row.seed = static_cast<uint32_t>(r.number());
    row.step = static_cast<uint32_t>(r.number());
    row.repetition_penalty = r.number();
    row.frequency_penalty = r.number();
    row.presence_penalty = r.number();
    int64_t biases = static_cast<int64_t>(r.number());
    for (int64_t i = 0; i < biases; i++) {
      double id = r.number();
      row.logit_bias.emplace_back(id, r.number());
    }
    row.has_history = r.optional(row.history, "history.tokens");
    row.history_length = static_cast<int64_t>(r.number());
    row.prompt_length = static_cast<int64_t>(r.number());
  }
  Tensor logprobs, top_ids, top_logprobs;
  SamplingOutputs outputs;
  if (r.optional(logprobs, "logprobs")) outputs.logprobs = &logprobs;
  if (r.optional(top_ids, "topIds")) outputs.top_ids = &top_ids;
  if (r.optional(top_logprobs, "topLogprobs")) outputs.top_logprobs = &top_logprobs;
  sample(r.context(), out, logits, rows, outputs);
}
// mlaAttention(args, positions, sequenceIds, blockTable)
void MlaAttention(Reader& r, const Napi::CallbackInfo& info) {
  Tensor out = r.tensor("out"), q = r.tensor("q"), cache = r.tensor("latentCache"), indices;
  bool sparse = r.optional(indices, "indices");
  double scale = r.number();
  BatchHost batch = read_batch(r, info, 1);
  mla_attention(r.context(), out, q, cache, batch, sparse ? &indices : nullptr, scale);
}
// indexerTopK(args, positions, sequenceIds, blockTable)
void IndexerTopK(Reader& r, const Napi::CallbackInfo& info) {
  Tensor indices = r.tensor("indices"), q = r.tensor("q"), weights = r.tensor("weights"), keys = r.tensor("keys"),
         scales;
  bool has_scales = r.optional(scales, "scales");
  int64_t k = static_cast<int64_t>(r.number());
  BatchHost batch = read_batch(r, info, 1);
  indexer_top_k(r.context(), indices, q, weights, keys, has_scales ? &scales : nullptr, batch, k);
}

// moeRoute: indices, weights, logits, bias | none, groups, topkGroups, topk, routedScale, normalize, softmax
void MoeRoute(Reader& r, const Napi::CallbackInfo&) {
  Tensor indices = r.tensor("indices"), weights = r.tensor("weights"), logits = r.tensor("logits"), bias;
  bool has_bias = r.optional(bias, "bias");
  MoeRouteOptions options{};
  options.groups = static_cast<int64_t>(r.number());
  options.topk_groups = static_cast<int64_t>(r.number());
  options.topk = static_cast<int64_t>(r.number());
  options.routed_scale = r.number();
  options.normalize = r.number() != 0;
  options.softmax = r.number() != 0;
  moe_route(r.context(), indices, weights, logits, has_bias ? &bias : nullptr, options);
}

// ---------------------------------------------------------------------------------------------
// Test hooks: fdlibm log/exp and rngUniform, compared bit for bit with V8 in the test suite.

Napi::Value DebugMath(const Napi::CallbackInfo& info) {
  std::string which = info[0].As<Napi::String>().Utf8Value();
  Napi::Float64Array in = info[1].As<Napi::Float64Array>();
  Napi::Float64Array out = info[2].As<Napi::Float64Array>();
  size_t n = std::min(in.ElementLength(), out.ElementLength());
  for (size_t i = 0; i < n; i++) {
    double x = in[i];
    if (which == "log")
      out[i] = fdlibm_log(x);
    else if (which == "exp")
      out[i] = fdlibm_exp(x);
    else
      out[i] = rng_uniform(static_cast<uint32_t>(x), static_cast<uint32_t>(i % 7), static_cast<uint32_t>(i));
  }
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto add = [&](const char* name, Napi::Value (*f)(const Napi::CallbackInfo&)) {
    exports.Set(name, Napi::Function::New(env, f, name));
  };
  add("allocate", guarded<Allocate>);
  add("free", guarded<Free>);
  add("upload", guarded<Upload>);
  add("download", guarded<Download>);
  add("info", guarded<Info>);
  add("reserveThreads", guarded<ReserveThreads>);
  add("memoryReadBandwidth", guarded<MemoryReadBandwidth>);
  add("debugMath", guarded<DebugMath>);
  add("fill", guarded<kernel<Fill>>);
  add("cast", guarded<kernel<Cast>>);
  add("copy", guarded<kernel<Copy>>);
  add("gatherRows", guarded<kernel<GatherRows>>);
  add("scatterRows", guarded<kernel<ScatterRows>>);
  add("indexAdd", guarded<kernel<IndexAdd>>);
  add("linear", guarded<kernel<Linear>>);
  add("matmul", guarded<kernel<Matmul>>);
  add("rmsNorm", guarded<kernel<RmsNorm>>);
  add("layerNorm", guarded<kernel<LayerNorm>>);
  add("addRmsNorm", guarded<kernel<AddRmsNorm>>);
  add("rope", guarded<kernel<Rope>>);
  add("softmax", guarded<kernel<Softmax>>);
  add("topK", guarded<kernel<TopK>>);
  add("reduceSum", guarded<kernel<ReduceSum>>);
  add("gatherColumns", guarded<kernel<GatherColumns>>);
  add("scatterColumns", guarded<kernel<ScatterColumns>>);
  add("unary", guarded<kernel<Unary>>);
  add("binary", guarded<kernel<Binary>>);
  add("swiglu", guarded<kernel<Swiglu>>);
  add("hadamard", guarded<kernel<Hadamard>>);
  add("quantizeFp8", guarded<kernel<QuantizeFp8>>);
  add("dequantizeFp8", guarded<kernel<DequantizeFp8>>);
  add("sample", guarded<kernel<Sample>>);
  add("mlaAttention", guarded<kernel<MlaAttention>>);
  add("indexerTopK", guarded<kernel<IndexerTopK>>);
  add("moeRoute", guarded<kernel<MoeRoute>>);
  return exports;
}

}  // namespace
}  // namespace dsa

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return dsa::Init(env, exports); }

NODE_API_MODULE(dsa_cpu, InitModule)
