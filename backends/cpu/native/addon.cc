// The Node-API binding: buffer handles (buffer.cc), the argument decoder, and one exported function
// per kernel.
//
// Every kernel call passes a Float64Array argument block written by src/arguments.ts:
//   [queue, threads, isa, ...arguments in call order]
// where a tensor is [bufferId, byteOffset, dtype, rank, shape × rank, strides × rank] (bufferId -1
// for "none"). The call decodes and checks the block on the JavaScript thread (buffers alive,
// views inside them), takes a reference on every buffer, and enqueues the kernel on the backend's
// command queue (queue.h), whose executor thread runs it with the thread pool; queue -1 runs it
// at once on the calling thread instead (see docs/backends/cpu.md). While the queue captures
// (beginCapture … endCapture), the decoded kernel is appended to a program (program.h) instead,
// which replay() later runs in one queued command.
#include <napi.h>

#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "bandwidth.h"
#include "fma-peak.h"
#include "buffer.h"
#include "convert.h"
#include "cpu-features.h"
#include "gemm.h"
#include "indexer-avx512.h"
#include "indexer-avx512bf16.h"
#include "kernels.h"
#include "pool.h"
#include "program.h"
#include "queue.h"

namespace dsa {
namespace {

// ---------------------------------------------------------------------------------------------
// Arguments

// Command queues by handle (one per backend); -1 is "none" (run on the calling thread).
std::mutex& queue_mutex = *new std::mutex;  // never destroyed (see `programs`)
std::vector<Queue*>& queues = *new std::vector<Queue*>;

Queue* queue_lookup(double id) {
  if (id == -1) return nullptr;
  std::lock_guard<std::mutex> lock(queue_mutex);
  if (!(id >= 0) || id >= static_cast<double>(queues.size()) || queues[static_cast<size_t>(id)] == nullptr)
    fail("the cpu backend was disposed");
  return queues[static_cast<size_t>(id)];
}

class Reader {
 public:
  explicit Reader(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsTypedArray()) fail("expected the argument block");
    Napi::Float64Array block = info[0].As<Napi::Float64Array>();
    data_ = block.Data();
    size_ = block.ElementLength();
    queue_ = queue_lookup(next());
    ctx_.threads = static_cast<int>(next());
    ctx_.isa = std::min(static_cast<int>(next()), max_isa());
    if (ctx_.threads < 1) ctx_.threads = 1;
  }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;
  ~Reader() { buffer_release(held_.data(), held_.size()); }
  const Context& context() const { return ctx_; }
  Queue* queue() const { return queue_; }
  // The buffer references taken so far (the caller now releases them).
  std::vector<uint32_t> take_buffers() { return std::move(held_); }
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
    uint32_t handle = 0;
    Buffer buffer = buffer_acquire(id, &handle);
    held_.push_back(handle);
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
  Queue* queue_ = nullptr;
  Context ctx_;
  std::vector<uint32_t> held_;
};


// The AttentionBatch of an attention kernel. The kernel reads the batch's device tensors when it runs,
// as a device kernel would, so a recorded program replays with whatever each step uploaded into
// them; the host copies are only checked at the call (their positions may be a bound of the device
// ones, as in a captured decode step: see DeepseekModel.forwardDecode).
struct DeviceBatch {
  Tensor positions, sequence_ids, block_table;
  int64_t max_blocks = 0, block_size = 0;
  BatchHost view() const {
    BatchHost batch{};
    batch.positions = positions.ptr<const int32_t>();
    batch.sequence_ids = sequence_ids.ptr<const int32_t>();
    batch.block_table = block_table.ptr<const int32_t>();
    batch.count = positions.numel();
    batch.table_length = block_table.numel();
    batch.max_blocks = max_blocks;
    batch.block_size = block_size;
    return batch;
  }
};

// A dense i32 vector or matrix argument.
void expect_dense_i32(const char* name, const Tensor& t, int rank) {
  expect_rank(name, t, rank);
  expect_dtype(name, t, DType::i32);
  if (t.numel() > 0 && (t.strides[rank - 1] != 1 || (rank == 2 && t.strides[0] != t.shape[1])))
    fail(std::string(name) + " must be contiguous");
}

// An Int32Array call argument, in place (read during the call only).
std::pair<const int32_t*, size_t> host_ints(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (info.Length() <= index || !info[index].IsTypedArray()) fail(std::string(name) + " must be an Int32Array");
  Napi::TypedArray array = info[index].As<Napi::TypedArray>();
  if (array.TypedArrayType() != napi_int32_array) fail(std::string(name) + " must be an Int32Array");
  Napi::Int32Array ints = array.As<Napi::Int32Array>();
  return {ints.Data(), ints.ElementLength()};
}

// Checks the host copies (call arguments first..first+2: positions, sequenceIds, blockTable) for
// `queries` queries against a cache of `slots` rows, as the composites' slotOf would fail: every
// mapped block inside the cache and, when `dense`, every block of positions 0..=positions[s] mapped.
void check_host_batch(const Napi::CallbackInfo& info, size_t first, const DeviceBatch& batch, int64_t queries,
                      int64_t slots, bool dense) {
  auto [positions, count] = host_ints(info, first, "positions");
  auto [sequence_ids, ids] = host_ints(info, first + 1, "sequenceIds");
  auto [table, cells] = host_ints(info, first + 2, "blockTable");
  const int64_t bs = batch.block_size, width = batch.max_blocks;
  if (static_cast<int64_t>(count) != queries || static_cast<int64_t>(ids) != queries)
    fail("batch has " + std::to_string(count) + " positions and " + std::to_string(ids) + " sequence ids for " +
         std::to_string(queries) + " queries");
  for (size_t i = 0; i < cells; i++)
    if (table[i] >= 0 && (static_cast<int64_t>(table[i]) + 1) * bs > slots)
      fail("block " + std::to_string(table[i]) + " of the block table is outside the cache of " +
           std::to_string(slots) + " slots");
  for (int64_t s = 0; s < queries; s++) {
    const int64_t sequence = sequence_ids[s];
    if (sequence < 0 || sequence * width >= static_cast<int64_t>(cells))
      fail("query " + std::to_string(s) + " names sequence " + std::to_string(sequence) + ", outside the block table");
    if (!dense) continue;
    for (int64_t t = 0; t <= positions[s]; t += bs) {
      const int64_t b = t / bs;
      if (b >= width || table[sequence * width + b] < 0)
        fail("sequence " + std::to_string(sequence) + " has no cache block for position " + std::to_string(t));
    }
  }
}

// Block: maxBlocks, blockSize, then the positions, sequenceIds and blockTable tensors; the host
// copies follow as call arguments `first`..`first + 2` (checked now, see check_host_batch). `q` gives
// the query count, `cache` the slots; `dense`: every causal position is read (no index list).
DeviceBatch read_batch(Reader& r, const Napi::CallbackInfo& info, size_t first, const Tensor& q, const Tensor& cache,
                       bool dense) {
  DeviceBatch batch;
  batch.max_blocks = static_cast<int64_t>(r.number());
  batch.block_size = static_cast<int64_t>(r.number());
  batch.positions = r.tensor("batch.positions");
  batch.sequence_ids = r.tensor("batch.sequenceIds");
  batch.block_table = r.tensor("batch.blockTable");
  if (batch.block_size < 1 || batch.max_blocks < 0) fail("bad block size or block table width");
  expect_dense_i32("batch.positions", batch.positions, 1);
  expect_dense_i32("batch.sequenceIds", batch.sequence_ids, 1);
  expect_dense_i32("batch.blockTable", batch.block_table, 2);
  if (batch.block_table.shape[1] != batch.max_blocks)
    fail("batch.blockTable has " + std::to_string(batch.block_table.shape[1]) + " columns, maxBlocks is " +
         std::to_string(batch.max_blocks));
  if (q.rank < 1) fail("q has rank 0");
  if (batch.positions.shape[0] != q.shape[0] || batch.sequence_ids.shape[0] != q.shape[0])
    fail("batch has " + std::to_string(batch.positions.shape[0]) + " positions and " +
         std::to_string(batch.sequence_ids.shape[0]) + " sequence ids for " + std::to_string(q.shape[0]) + " queries");
  check_host_batch(info, first, batch, q.shape[0], cache.rank > 0 ? cache.shape[0] : 0, dense);
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

// A kernel entry point: decodes and checks the block now, then enqueues the work on the backend's
// queue (or runs it now for queue -1), or appends it to the program the queue is capturing. The
// kernel name comes as the function's data. (Task, the decoded call, is defined in program.h.)
template <Task (*K)(Reader&, const Napi::CallbackInfo&)>
Napi::Value kernel(const Napi::CallbackInfo& info) {
  Reader reader(info);
  Task task = K(reader, info);
  Queue* queue = reader.queue();
  if (queue == nullptr) {
    task(reader.context());
    return info.Env().Undefined();
  }
  const char* name = static_cast<const char*>(info.Data());
  if (Program* program = queue->capturing()) {
    program->append(name, reader.context(), std::move(task), reader.take_buffers());
    return info.Env().Undefined();
  }
  Command command;
  command.name = name;
  command.context = reader.context();
  command.run = std::move(task);
  command.buffers = reader.take_buffers();
  queue->enqueue(std::move(command));
  return info.Env().Undefined();
}

// A decoder that runs its kernel while decoding (the pre-queue shape): the queue is drained first,
// so the kernel still sees every earlier call's results, at the cost of blocking the caller.
template <void (*K)(Reader&, const Napi::CallbackInfo&)>
Napi::Value kernel(const Napi::CallbackInfo& info) {
  Reader reader(info);
  if (reader.queue() != nullptr && reader.queue()->capturing()) fail("cannot run while a graph is being captured");
  if (reader.queue() != nullptr) reader.queue()->wait_idle();
  K(reader, info);
  return info.Env().Undefined();
}

// ---------------------------------------------------------------------------------------------
// Memory

Napi::Value Allocate(const Napi::CallbackInfo& info) {
  double bytes = info[0].As<Napi::Number>().DoubleValue();
  const std::string usage = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  if (!(bytes >= 0) || bytes > 9.0e15) fail("byte length is not a valid size");
  BufferUsage kind;
  if (usage == "weights")
    kind = BufferUsage::weights;
  else if (usage == "kv-cache")
    kind = BufferUsage::kv_cache;
  else if (usage == "activations")
    kind = BufferUsage::activations;
  else
    fail("usage '" + usage + "' is not weights, kv-cache or activations");
  return Napi::Number::New(info.Env(), buffer_allocate(static_cast<size_t>(bytes), kind));
}

Napi::Value Free(const Napi::CallbackInfo& info) {
  buffer_free(info[0].As<Napi::Number>().DoubleValue());
  return info.Env().Undefined();
}

// The common head of upload/download(queue, id, byteOffset, Uint8Array): the queue, the host array, its
// byte length, and the device bytes it maps to, with a reference held on the buffer (`handle`; released
// by the caller, or by the command it enqueues).
struct Transfer {
  Queue* queue;
  Napi::Uint8Array host;
  size_t bytes;
  uint32_t handle;
  uint8_t* device;
};

Transfer transfer_args(const Napi::CallbackInfo& info) {
  Transfer t{queue_lookup(info[0].As<Napi::Number>().DoubleValue()), info[3].As<Napi::Uint8Array>(), 0, 0, nullptr};
  t.bytes = t.host.ByteLength();
  Buffer buffer = buffer_acquire(info[1].As<Napi::Number>().DoubleValue(), &t.handle);
  try {
    t.device = buffer_span(buffer, info[2].As<Napi::Number>().DoubleValue(), t.bytes);
  } catch (...) {
    buffer_release(&t.handle, 1);
    throw;
  }
  return t;
}

// upload(queue, id, byteOffset, Uint8Array): copies at once when the queue is idle, else stages a
// copy of the source and enqueues it (the caller may reuse its array as soon as this returns).
Napi::Value Upload(const Napi::CallbackInfo& info) {
  Transfer t = transfer_args(info);
  if (t.queue == nullptr || t.queue->idle()) {
    std::memcpy(t.device, t.host.Data(), t.bytes);
    buffer_release(&t.handle, 1);
    return info.Env().Undefined();
  }
  auto staged = std::make_shared<std::vector<uint8_t>>(t.host.Data(), t.host.Data() + t.bytes);
  uint8_t* device = t.device;
  Command command;
  command.name = "upload";
  command.run = [device, staged](const Context&) { std::memcpy(device, staged->data(), staged->size()); };
  command.buffers.push_back(t.handle);
  t.queue->enqueue(std::move(command));
  return info.Env().Undefined();
}

// A promise already rejected with `message`.
Napi::Value rejected(Napi::Env env, const std::string& message) {
  Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
  deferred.Reject(queue_error(env, message).Value());
  return deferred.Promise();
}

// memcpy over `threads` threads of the pool where the copy is large (a batch's logits: 4 MB at 32 rows of
// small's vocabulary; one thread copies about 10 GB/s).
void copy_bytes(int threads, uint8_t* destination, const uint8_t* source, size_t bytes) {
  constexpr size_t kChunk = size_t{1} << 16;
  if (threads <= 1 || bytes < 16 * kChunk) return static_cast<void>(std::memcpy(destination, source, bytes));
  Context ctx;
  ctx.threads = threads;
  const int64_t chunks = static_cast<int64_t>((bytes + kChunk - 1) / kChunk);
  parallel_for(ctx, chunks, 4, [&](int64_t c0, int64_t c1) {
    const size_t begin = static_cast<size_t>(c0) * kChunk, end = std::min(bytes, static_cast<size_t>(c1) * kChunk);
    std::memcpy(destination + begin, source + begin, end - begin);
  });
}

// download(queue, id, byteOffset, Uint8Array, threads): undefined when the bytes were copied at once (idle
// queue, no failure to report), else a promise settled once every earlier command has run. Large copies
// run on `threads` threads of the pool.
Napi::Value Download(const Napi::CallbackInfo& info) {
  Transfer t = transfer_args(info);
  const int threads = info.Length() > 4 && info[4].IsNumber() ? std::max(1, info[4].As<Napi::Number>().Int32Value()) : 1;
  if (t.queue == nullptr || t.queue->idle()) {
    std::string error = t.queue == nullptr ? std::string() : t.queue->take_error();
    if (error.empty()) copy_bytes(threads, t.host.Data(), t.device, t.bytes);
    buffer_release(&t.handle, 1);
    if (error.empty()) return info.Env().Undefined();
    return rejected(info.Env(), error);
  }
  const uint8_t* device = t.device;
  uint8_t* destination = t.host.Data();
  const size_t bytes = t.bytes;
  Command command;
  command.name = "download";
  command.run = [device, destination, bytes, threads](const Context&) { copy_bytes(threads, destination, device, bytes); };
  command.buffers.push_back(t.handle);
  return t.queue->fence(info.Env(), std::move(command), t.host);
}

// synchronize(queue): undefined when idle with nothing to report, else a promise as download's.
Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  Queue* queue = queue_lookup(info[0].As<Napi::Number>().DoubleValue());
  if (queue == nullptr) return info.Env().Undefined();
  if (queue->idle()) {
    std::string error = queue->take_error();
    if (error.empty()) return info.Env().Undefined();
    return rejected(info.Env(), error);
  }
  Command command;
  command.name = "synchronize";
  return queue->fence(info.Env(), std::move(command), Napi::Value());
}

// createQueue(): a new command queue with its executor thread; returns its handle.
Napi::Value CreateQueue(const Napi::CallbackInfo& info) {
  Queue* queue = new Queue(info.Env());
  std::lock_guard<std::mutex> lock(queue_mutex);
  for (size_t i = 0; i < queues.size(); i++)
    if (queues[i] == nullptr) {
      queues[i] = queue;
      return Napi::Number::New(info.Env(), static_cast<double>(i));
    }
  queues.push_back(queue);
  return Napi::Number::New(info.Env(), static_cast<double>(queues.size() - 1));
}

// closeQueue(queue): later calls on it fail; queued commands still run, pending waits still settle.
Napi::Value CloseQueue(const Napi::CallbackInfo& info) {
  double id = info[0].As<Napi::Number>().DoubleValue();
  Queue* queue = nullptr;
  {
    std::lock_guard<std::mutex> lock(queue_mutex);
    if (id >= 0 && id < static_cast<double>(queues.size())) std::swap(queue, queues[static_cast<size_t>(id)]);
  }
  if (queue != nullptr) queue->close();
  return info.Env().Undefined();
}

// resetKernelTimes(queue): forgets the queue's command body times and starts timing.
Napi::Value ResetKernelTimes(const Napi::CallbackInfo& info) {
  Queue* queue = queue_lookup(info[0].As<Napi::Number>().DoubleValue());
  if (queue != nullptr) queue->reset_kernel_times();
  return info.Env().Undefined();
}

// kernelTimes(queue): [{ name, calls, ms }] of the command bodies since the last reset, once idle.
Napi::Value KernelTimes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Queue* queue = queue_lookup(info[0].As<Napi::Number>().DoubleValue());
  Napi::Array out = Napi::Array::New(env);
  if (queue == nullptr) return out;
  uint32_t i = 0;
  for (const Queue::KernelTime& time : queue->kernel_times()) {
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("name", time.name);
    entry.Set("calls", static_cast<double>(time.calls));
    entry.Set("ms", time.ns / 1e6);
    out.Set(i++, entry);
  }
  return out;
}

// queueIdle(queue): nothing is queued or running.
Napi::Value QueueIdle(const Napi::CallbackInfo& info) {
  Queue* queue = queue_lookup(info[0].As<Napi::Number>().DoubleValue());
  return Napi::Boolean::New(info.Env(), queue == nullptr || queue->idle());
}

// ---------------------------------------------------------------------------------------------
// Recorded programs (program.h): handles into a table.

// Never destroyed: a program alive at exit (a graph never disposed nor collected) keeps its ops and
// buffer references; running its destructor from exit handlers would race the executor threads.
std::mutex& program_mutex = *new std::mutex;
std::vector<std::shared_ptr<Program>>& programs = *new std::vector<std::shared_ptr<Program>>;

std::shared_ptr<Program> program_lookup(double id) {
  std::lock_guard<std::mutex> lock(program_mutex);
  if (!(id >= 0) || id >= static_cast<double>(programs.size()) || !programs[static_cast<size_t>(id)])
    fail("the captured graph was disposed");
  return programs[static_cast<size_t>(id)];
}

// beginCapture(queue): later kernel calls on the queue are recorded instead of run.
Napi::Value BeginCapture(const Napi::CallbackInfo& info) {
  Queue* queue = queue_lookup(info[0].As<Napi::Number>().DoubleValue());
  if (queue == nullptr) fail("graphs are captured on a queue (execution: queued)");
  if (!queue->begin_capture()) fail("a capture is already in progress");
  return info.Env().Undefined();
}

// endCapture(queue): ends the capture; returns the program's handle.
Napi::Value EndCapture(const Napi::CallbackInfo& info) {
  Queue* queue = queue_lookup(info[0].As<Napi::Number>().DoubleValue());
  std::shared_ptr<Program> program = queue == nullptr ? nullptr : queue->end_capture();
  if (!program) fail("no capture is in progress");
  std::lock_guard<std::mutex> lock(program_mutex);
  for (size_t i = 0; i < programs.size(); i++)
    if (!programs[i]) {
      programs[i] = std::move(program);
      return Napi::Number::New(info.Env(), static_cast<double>(i));
    }
  programs.push_back(std::move(program));
  return Napi::Number::New(info.Env(), static_cast<double>(programs.size() - 1));
}

// replay(queue, program): enqueues one command that runs the program's ops in order.
Napi::Value Replay(const Napi::CallbackInfo& info) {
  Queue* queue = queue_lookup(info[0].As<Napi::Number>().DoubleValue());
  if (queue == nullptr) fail("graphs are replayed on a queue (execution: queued)");
  if (queue->capturing()) fail("cannot replay a graph while one is being captured");
  std::shared_ptr<const Program> program = program_lookup(info[1].As<Napi::Number>().DoubleValue());
  Command command;
  command.name = "graph";
  command.replay = true;
  command.run = [queue, program](const Context&) {
    thread_local std::vector<double> op_ns;
    const bool timed = queue->timing();
    program->run(timed ? &op_ns : nullptr);
    if (timed) queue->add_body_times(*program, op_ns);
  };
  queue->enqueue(std::move(command));
  return info.Env().Undefined();
}

// freeProgram(program): drops the handle; the ops' buffer references go with the last queued replay.
Napi::Value FreeProgram(const Napi::CallbackInfo& info) {
  double id = info[0].As<Napi::Number>().DoubleValue();
  std::shared_ptr<Program> program;  // destroyed after the lock is released
  std::lock_guard<std::mutex> lock(program_mutex);
  if (id >= 0 && id < static_cast<double>(programs.size())) std::swap(program, programs[static_cast<size_t>(id)]);
  return info.Env().Undefined();
}

// programOps(program): [name, ...] of its ops in order (tests, diagnostics).
Napi::Value ProgramOps(const Napi::CallbackInfo& info) {
  std::shared_ptr<Program> program = program_lookup(info[0].As<Napi::Number>().DoubleValue());
  Napi::Array names = Napi::Array::New(info.Env(), program->size());
  for (size_t i = 0; i < program->size(); i++) names.Set(static_cast<uint32_t>(i), program->name(i));
  return names;
}

// ---------------------------------------------------------------------------------------------
// Information and threads

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("isa", detected_isa());
  o.Set("isaName", isa_name(detected_isa()));
  o.Set("avx512bf16", has_avx512bf16());
  o.Set("amxBf16", has_amx_bf16());
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

Napi::Value FmaPeak(const Napi::CallbackInfo& info) {
  int isa = info[0].As<Napi::Number>().Int32Value();
  int threads = info[1].As<Napi::Number>().Int32Value();
  if (isa < kPortable || isa > kAvx512Bf16) fail("fmaPeak: isa must be 0..3, got " + std::to_string(isa));
  return Napi::Number::New(info.Env(), fma_peak_gflops(isa, threads));
}

Napi::Value ReserveThreads(const Napi::CallbackInfo& info) {
  int threads = info[0].As<Napi::Number>().Int32Value();
  ThreadPool::get().reserve(std::max(1, threads));
  return Napi::Number::New(info.Env(), ThreadPool::get().capacity());
}

// ---------------------------------------------------------------------------------------------
// Kernels

// Each decoder reads its arguments in block order and returns the work as a Task capturing them
// by value (tensor descriptors, numbers, host-array copies).

Task Fill(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out");
  double value = r.number();
  return [=](const Context& c) { fill(c, out, value); };
}
Task Cast(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), x = r.tensor("x");
  return [=](const Context& c) { cast(c, out, x); };
}
Task Copy(Reader& r, const Napi::CallbackInfo&) {
  Tensor destination = r.tensor("destination"), source = r.tensor("source");
  return [=](const Context& c) { copy(c, destination, source); };
}
Task GatherRows(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), table_ = r.tensor("table"), indices = r.tensor("indices");
  return [=](const Context& c) { gather_rows(c, out, table_, indices); };
}
Task ScatterRows(Reader& r, const Napi::CallbackInfo&) {
  Tensor table_ = r.tensor("table"), rows = r.tensor("rows"), indices = r.tensor("indices");
  return [=](const Context& c) { scatter_rows(c, table_, rows, indices); };
}
Task IndexAdd(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), rows = r.tensor("rows"), indices = r.tensor("indices"), weights;
  bool has_weights = r.optional(weights, "weights");
  return [=](const Context& c) { index_add(c, out, rows, indices, has_weights ? &weights : nullptr); };
}
Task Linear(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), x = r.tensor("x"), weight = r.tensor("weight"), scale;
  bool has_scale = r.optional(scale, "scaleInv");
  int64_t block_n = static_cast<int64_t>(r.number()), block_k = static_cast<int64_t>(r.number());
  return [=](const Context& c) { linear(c, out, x, weight, has_scale ? &scale : nullptr, block_n, block_k); };
}
// linears: x, part count, then per part out and its weight as (weight, scaleInv | none, blockN, blockK).
Task Linears(Reader& r, const Napi::CallbackInfo&) {
  Tensor x = r.tensor("x");
  const double count = r.number();
  if (!(count >= 0) || count > 1e6) fail("weight count is not valid");
  auto parts = std::make_shared<std::vector<LinearPart>>(static_cast<size_t>(count));
  for (LinearPart& p : *parts) {
    p.out = r.tensor("out");
    p.weight.weight = r.tensor("weight");
    p.weight.has_scale = r.optional(p.weight.scale, "scaleInv");
    p.weight.block_n = static_cast<int64_t>(r.number());
    p.weight.block_k = static_cast<int64_t>(r.number());
  }
  return [=](const Context& c) { linears(c, x, *parts); };
}
Task Matmul(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), a = r.tensor("a"), b = r.tensor("b");
  bool transpose_b = r.number() != 0;
  double alpha = r.number();
  return [=](const Context& c) { matmul(c, out, a, b, transpose_b, alpha); };
}
Task RmsNorm(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), x = r.tensor("x"), weight = r.tensor("weight");
  double eps = r.number();
  return [=](const Context& c) { rms_norm(c, out, x, weight, eps); };
}
Task LayerNorm(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), x = r.tensor("x"), weight = r.tensor("weight"), bias = r.tensor("bias");
  double eps = r.number();
  return [=](const Context& c) { layer_norm(c, out, x, weight, bias, eps); };
}
Task AddRmsNorm(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), residual = r.tensor("residual"), x = r.tensor("x"), weight = r.tensor("weight");
  double eps = r.number();
  return [=](const Context& c) { add_rms_norm(c, out, residual, x, weight, eps); };
}
Task Rope(Reader& r, const Napi::CallbackInfo&) {
  Tensor x = r.tensor("x"), positions = r.tensor("positions"), inv_freq = r.tensor("invFreq");
  bool interleaved = r.number() != 0;
  double scale = r.number();
  return [=](const Context& c) { rope(c, x, positions, inv_freq, interleaved, scale); };
}
Task Softmax(Reader& r, const Napi::CallbackInfo&) {
  Tensor x = r.tensor("x");
  double scale = r.number();
  return [=](const Context& c) { softmax(c, x, scale); };
}
Task TopK(Reader& r, const Napi::CallbackInfo&) {
  Tensor indices = r.tensor("indices"), values, x;
  bool has_values = r.optional(values, "values");
  x = r.tensor("x");
  int64_t k = static_cast<int64_t>(r.number());
  return [=](const Context& c) { top_k(c, indices, has_values ? &values : nullptr, x, k); };
}
Task ReduceSum(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), x = r.tensor("x");
  return [=](const Context& c) { reduce_sum(c, out, x); };
}
Task GatherColumns(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), x = r.tensor("x"), indices = r.tensor("indices");
  double fill_value = r.number();
  return [=](const Context& c) { gather_columns(c, out, x, indices, fill_value); };
}
Task ScatterColumns(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), indices = r.tensor("indices"), values;
  bool has_values = r.optional(values, "values");
  double value = r.number();
  return [=](const Context& c) { scatter_columns(c, out, indices, has_values ? &values : nullptr, value); };
}
Task Unary(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), x = r.tensor("x");
  int op = static_cast<int>(r.number());
  if (op < 0 || op > static_cast<int>(UnaryOp::reciprocal)) fail("unknown unary op");
  return [=](const Context& c) { unary(c, out, x, static_cast<UnaryOp>(op)); };
}
Task Binary(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), a = r.tensor("a"), b = r.tensor("b");
  int op = static_cast<int>(r.number());
  if (op < 0 || op > static_cast<int>(BinaryOp::min)) fail("unknown binary op");
  return [=](const Context& c) { binary(c, out, a, b, static_cast<BinaryOp>(op)); };
}
Task Swiglu(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), gate = r.tensor("gate"), up = r.tensor("up");
  return [=](const Context& c) { swiglu(c, out, gate, up); };
}
Task Hadamard(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), x = r.tensor("x");
  return [=](const Context& c) { hadamard(c, out, x); };
}
Task QuantizeFp8(Reader& r, const Napi::CallbackInfo&) {
  Tensor q = r.tensor("q"), scale = r.tensor("scale"), x = r.tensor("x");
  int64_t block = static_cast<int64_t>(r.number());
  bool ue8m0 = r.number() != 0;
  return [=](const Context& c) { quantize_fp8(c, q, scale, x, block, ue8m0); };
}
Task DequantizeFp8(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), q = r.tensor("q"), scale = r.tensor("scale");
  int64_t block = static_cast<int64_t>(r.number());
  return [=](const Context& c) { dequantize_fp8(c, out, q, scale, block); };
}
// sample: out, logits, count, then per row [temperature, topK, topP, minP, seed, step, repetition,
// frequency, presence, biasCount, (id, bias) × biasCount, history tensor | none, length, promptLength],
// then the optional outputs logprobs, topIds, topLogprobs.
Task Sample(Reader& r, const Napi::CallbackInfo&) {
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
  bool has_logprobs = r.optional(logprobs, "logprobs");
  bool has_top_ids = r.optional(top_ids, "topIds");
  bool has_top_logprobs = r.optional(top_logprobs, "topLogprobs");
  return [=, rows = std::move(rows)](const Context& c) {
    SamplingOutputs outputs;
    if (has_logprobs) outputs.logprobs = &logprobs;
    if (has_top_ids) outputs.top_ids = &top_ids;
    if (has_top_logprobs) outputs.top_logprobs = &top_logprobs;
    sample(c, out, logits, rows, outputs);
  };
}
// mlaAttention(args, positions, sequenceIds, blockTable): out, q, latentCache (or the fp8 cache's nope),
// scales | none, rope | none (both present for an fp8 cache), indices | none, scale, then the batch (see
// read_batch).
Task MlaAttention(Reader& r, const Napi::CallbackInfo& info) {
  Tensor out = r.tensor("out"), q = r.tensor("q"), indices;
  LatentCache cache;
  cache.rows = r.tensor("latentCache");
  cache.fp8 = r.optional(cache.scales, "latentCache.scales");
  if (r.optional(cache.rope, "latentCache.rope") != cache.fp8) fail("latentCache: give both scales and rope, or neither");
  bool sparse = r.optional(indices, "indices");
  double scale = r.number();
  DeviceBatch batch = read_batch(r, info, 1, q, cache.rows, !sparse);
  return [=](const Context& c) { mla_attention(c, out, q, cache, batch.view(), sparse ? &indices : nullptr, scale); };
}
// indexerTopK(args, positions, sequenceIds, blockTable): see read_batch.
Task IndexerTopK(Reader& r, const Napi::CallbackInfo& info) {
  Tensor indices = r.tensor("indices"), q = r.tensor("q"), weights = r.tensor("weights"), keys = r.tensor("keys"),
         scales;
  bool has_scales = r.optional(scales, "scales");
  int64_t k = static_cast<int64_t>(r.number());
  DeviceBatch batch = read_batch(r, info, 1, q, keys, true);
  return [=](const Context& c) {
    indexer_top_k(c, indices, q, weights, keys, has_scales ? &scales : nullptr, batch.view(), k);
  };
}

// moeRoute: indices, weights, logits, bias | none, groups, topkGroups, topk, routedScale, normalize, softmax
Task MoeRoute(Reader& r, const Napi::CallbackInfo&) {
  Tensor indices = r.tensor("indices"), weights = r.tensor("weights"), logits = r.tensor("logits"), bias;
  bool has_bias = r.optional(bias, "bias");
  MoeRouteOptions options{};
  options.groups = static_cast<int64_t>(r.number());
  options.topk_groups = static_cast<int64_t>(r.number());
  options.topk = static_cast<int64_t>(r.number());
  options.routed_scale = r.number();
  options.normalize = r.number() != 0;
  options.softmax = r.number() != 0;
  return [=](const Context& c) { moe_route(c, indices, weights, logits, has_bias ? &bias : nullptr, options); };
}

// moeExperts: out, x, indices, weights, expert count, then per expert gate, up, down as
// (weight, scaleInv | none, blockN, blockK).
Task MoeExperts(Reader& r, const Napi::CallbackInfo&) {
  Tensor out = r.tensor("out"), x = r.tensor("x"), indices = r.tensor("indices"), weights = r.tensor("weights");
  const double count = r.number();
  if (!(count >= 0) || count > 1e6) fail("expert count is not valid");
  auto experts = std::make_shared<std::vector<MoeExpert>>(static_cast<size_t>(count));
  auto projection = [&r](LinearWeightArgs& p, const char* weight, const char* scale) {
    p.weight = r.tensor(weight);
    p.has_scale = r.optional(p.scale, scale);
    p.block_n = static_cast<int64_t>(r.number());
    p.block_k = static_cast<int64_t>(r.number());
  };
  for (MoeExpert& e : *experts) {
    projection(e.gate, "gate.weight", "gate.scaleInv");
    projection(e.up, "up.weight", "up.scaleInv");
    projection(e.down, "down.weight", "down.scaleInv");
  }
  return [=](const Context& c) { moe_experts(c, out, x, indices, weights, *experts); };
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

// debugIndexerScores(kernel, q, w, keys, scales, Hi, Di, score): the lightning indexer's fp8 scoring
// loop `kernel` ('bf16': indexer-avx512bf16.cc, 'avx512': indexer-avx512.cc) on q [Hi, Di] f32, w [Hi],
// keys [n, Di] f8_e4m3 bytes with scales [n]; returns whether it ran (the CPU and shapes allow it).
Napi::Value DebugIndexerScores(const Napi::CallbackInfo& info) {
  const std::string which = info[0].As<Napi::String>().Utf8Value();
  Napi::Float32Array q = info[1].As<Napi::Float32Array>(), w = info[2].As<Napi::Float32Array>();
  Napi::Uint8Array keys = info[3].As<Napi::Uint8Array>();
  Napi::Float32Array scales = info[4].As<Napi::Float32Array>();
  const int64_t Hi = info[5].As<Napi::Number>().Int64Value(), Di = info[6].As<Napi::Number>().Int64Value();
  Napi::Float32Array score = info[7].As<Napi::Float32Array>();
  const int64_t n = static_cast<int64_t>(score.ElementLength());
  if (Hi < 1 || Di < 1 || static_cast<int64_t>(q.ElementLength()) != Hi * Di ||
      static_cast<int64_t>(w.ElementLength()) != Hi || static_cast<int64_t>(keys.ElementLength()) != n * Di ||
      static_cast<int64_t>(scales.ElementLength()) != n)
    fail("debugIndexerScores: q [Hi, Di], w [Hi], keys [n, Di], scales [n] and score [n] do not agree");
  std::vector<const uint8_t*> rows(static_cast<size_t>(n));
  std::vector<const float*> scale_rows(static_cast<size_t>(n));
  for (int64_t t = 0; t < n; t++) rows[t] = keys.Data() + t * Di, scale_rows[t] = scales.Data() + t;
  const bool avx512 = detected_isa() >= kAvx512 && __builtin_cpu_supports("avx512vbmi");
  bool ran = false;
  if (which == "bf16" && avx512 && has_avx512bf16())
    ran = indexer_scores_fp8_avx512bf16(q.Data(), w.Data(), Hi, Di, rows.data(), scale_rows.data(), n, score.Data());
  else if (which == "avx512" && avx512)
    ran = indexer_scores_avx512(q.Data(), w.Data(), Hi, Di, rows.data(), DType::f8_e4m3, scale_rows.data(), n,
                                score.Data());
  return Napi::Boolean::New(info.Env(), ran);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // The name travels as the function's data: queued kernels report failures under it.
  auto add = [&](const char* name, Napi::Value (*f)(const Napi::CallbackInfo&)) {
    exports.Set(name, Napi::Function::New(env, f, name, const_cast<char*>(name)));
  };
  add("allocate", guarded<Allocate>);
  add("free", guarded<Free>);
  add("upload", guarded<Upload>);
  add("download", guarded<Download>);
  add("synchronize", guarded<Synchronize>);
  add("createQueue", guarded<CreateQueue>);
  add("closeQueue", guarded<CloseQueue>);
  add("resetKernelTimes", guarded<ResetKernelTimes>);
  add("kernelTimes", guarded<KernelTimes>);
  add("queueIdle", guarded<QueueIdle>);
  add("beginCapture", guarded<BeginCapture>);
  add("endCapture", guarded<EndCapture>);
  add("replay", guarded<Replay>);
  add("freeProgram", guarded<FreeProgram>);
  add("programOps", guarded<ProgramOps>);
  add("info", guarded<Info>);
  add("reserveThreads", guarded<ReserveThreads>);
  add("memoryReadBandwidth", guarded<MemoryReadBandwidth>);
  add("fmaPeak", guarded<FmaPeak>);
  add("debugMath", guarded<DebugMath>);
  add("debugIndexerScores", guarded<DebugIndexerScores>);
  add("fill", guarded<kernel<Fill>>);
  add("cast", guarded<kernel<Cast>>);
  add("copy", guarded<kernel<Copy>>);
  add("gatherRows", guarded<kernel<GatherRows>>);
  add("scatterRows", guarded<kernel<ScatterRows>>);
  add("indexAdd", guarded<kernel<IndexAdd>>);
  add("linear", guarded<kernel<Linear>>);
  add("linears", guarded<kernel<Linears>>);
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
  add("moeExperts", guarded<kernel<MoeExperts>>);
  return exports;
}

}  // namespace
}  // namespace dsa

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return dsa::Init(env, exports); }

NODE_API_MODULE(dsa_cpu, InitModule)
