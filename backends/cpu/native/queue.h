// An in-order command queue (a stream) drained by one executor thread. JavaScript validates a
// kernel call's arguments, then enqueues it as a Command and returns at once; the executor runs
// commands one after another, each splitting its work over the thread pool (pool.h), so the
// JavaScript thread stays free while a decode step runs. Fences (download / synchronize) settle a
// promise through a thread-safe function once every command before them has run. A command that
// fails on the executor does not stop the queue: its error ("kernel: message") rejects the next
// fence.
#pragma once

#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "program.h"
#include "tensor.h"

namespace dsa {

struct Command {
  const char* name = "";                    // kernel name (a string literal), for errors
  Context context;                          // threads and ISA level of the call
  std::function<void(const Context&)> run;  // the work, owning copies of everything it reads from JS
  std::vector<uint32_t> buffers;    // buffer references (buffer_acquire) released after `run`
  int64_t fence = 0;                // > 0: settle the promise of this fence after `run`
  // A program replay: `run` reports its ops' body times itself (Queue::add_body_times) instead of
  // being timed as one body, and its failures already read "kernel: detail".
  bool replay = false;
};

// A JavaScript Error for a failure message "kernel: detail", with `kernel` and `detail` properties.
Napi::Error queue_error(Napi::Env env, const std::string& message);

class Queue {
 public:
  // Starts the executor thread; `env` is the JavaScript thread's environment.
  explicit Queue(Napi::Env env);
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  // JavaScript thread: appends a command.
  void enqueue(Command&& command);
  // JavaScript thread: nothing is queued or running (so host memory may be touched directly).
  bool idle() const { return done_.load(std::memory_order_acquire) == submitted_; }
  // JavaScript thread: blocks until idle() (for work that must run on the calling thread in order).
  void wait_idle() const;
  // JavaScript thread: the error of a failed command not reported yet ("" if none); clears it.
  std::string take_error();
  // JavaScript thread: enqueues `command` as a fence; returns the promise it settles. `keep` (may
  // be empty) is held until then (a download's destination array).
  Napi::Promise fence(Napi::Env env, Command&& command, Napi::Value keep);
  // JavaScript thread: no more commands; the executor drains what is queued, then exits and the
  // queue deletes itself.
  void close();

  // Wall time the executor spent inside command bodies (`Command::run`), by command name.
  struct KernelTime {
    std::string name;
    int64_t calls = 0;
    double ns = 0;
  };
  // JavaScript thread: forgets the body times so far and starts timing (off until the first call).
  void reset_kernel_times();
  // JavaScript thread: waits until idle, then returns the body times since the last reset, by name.
  std::vector<KernelTime> kernel_times();
  // Executor: whether command bodies are being timed.
  bool timing() const { return timing_.load(std::memory_order_relaxed); }
  // Executor: adds the body times `op_ns` of `program`'s ops (a replay command times its ops itself).
  void add_body_times(const Program& program, const std::vector<double>& op_ns);

  // JavaScript thread: from now on kernel calls on this queue are appended to a new program
  // instead of running (see program.h); false when a capture is already in progress.
  bool begin_capture();
  // JavaScript thread: the program being recorded, or null.
  Program* capturing() const { return capture_.get(); }
  // JavaScript thread: ends the capture and returns its program.
  std::shared_ptr<Program> end_capture() { return std::move(capture_); }

 private:
  struct Completion {
    int64_t fence;
    std::string error;
  };
  struct Waiter {
    Napi::Promise::Deferred deferred;
    Napi::Reference<Napi::Value> keep;
  };

  void executor_main();
  void execute(Command& command);
  void settle(Napi::Env env);      // JavaScript thread: settles completed fences
  std::string take_error_locked();  // take_error with mutex_ held
  static void finalize(Napi::Env env, void* data, Queue* queue);

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Command> commands_;
  bool sleeping_ = false;
  bool closing_ = false;
  bool abandon_ = false;        // environment teardown: drop what is still queued
  bool tsfn_alive_ = true;
  std::vector<Completion> completions_;
  std::string error_;           // first failure since the last fence
  // Body times by command name (a string literal; the same name may come from several literals),
  // kept while timing_ is on (see reset_kernel_times).
  struct BodyTime {
    int64_t calls = 0;
    double ns = 0;
  };
  std::unordered_map<const char*, BodyTime> body_times_;
  std::atomic<bool> timing_{false};
  int64_t more_errors_ = 0;     // failures after it

  uint64_t submitted_ = 0;      // written by JavaScript only
  std::atomic<uint64_t> done_{0};
  std::atomic<uint64_t> queued_{0};  // commands_ size, read by the spinning executor

  // JavaScript thread only.
  std::shared_ptr<Program> capture_;
  int64_t next_fence_ = 1;
  std::unordered_map<int64_t, Waiter> waiters_;
  Napi::ThreadSafeFunction tsfn_;
  std::thread executor_;
};

}  // namespace dsa
