// A recorded kernel sequence (the cpu backend's graph): while a queue captures, every kernel call
// appends its decoded, checked op — the kernel body with its resolved tensor pointers, shapes,
// strides and scalars — here instead of running. Replay runs the whole sequence in one queued
// command on the executor, with the thread pool held hot from the first op to the last (workers
// spin between ops instead of being woken per kernel), so a decode step costs one call from
// JavaScript. Inputs that change per step are read from device buffers at replay, never copied at
// capture (see MlaAttention / IndexerTopK in addon.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tensor.h"

namespace dsa {

// A decoded kernel call: the body with everything it reads, run with the call's context.
using Task = std::function<void(const Context&)>;

class Program {
 public:
  Program() = default;
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;
  // Releases the buffer references of every op.
  ~Program();

  // Capture (JavaScript thread): appends op `name` (a string literal) and takes over its buffer
  // references, held until the program is destroyed.
  void append(const char* name, const Context& context, Task&& run, std::vector<uint32_t>&& buffers);
  // Ops recorded.
  size_t size() const { return ops_.size(); }

  // Executor: runs every op in order with the thread pool held hot. When `op_ns` is not null it
  // receives each op's wall time in nanoseconds (index = op). A failing op stops the replay with a
  // KernelError "name: message" naming it.
  void run(std::vector<double>* op_ns) const;
  // Name of op `i`.
  const char* name(size_t i) const { return ops_[i].name; }

 private:
  struct Op {
    const char* name;
    Context context;
    Task run;
  };
  std::vector<Op> ops_;
  std::vector<uint32_t> buffers_;
};

}  // namespace dsa
