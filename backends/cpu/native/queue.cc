// The in-order command queue (see queue.h).
#include "queue.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <map>
#include <new>
#include <utility>

#include "buffer.h"
#include "tensor.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DSA_QUEUE_PAUSE() _mm_pause()
#else
#define DSA_QUEUE_PAUSE() std::this_thread::yield()
#endif

namespace dsa {

namespace {
// How long the executor polls for the next command before it sleeps: kernel calls of one forward
// pass arrive a few microseconds apart.
constexpr auto kSpin = std::chrono::microseconds(50);

// DSA_CPU_PROFILE=1: the executor times every command by kernel name and prints a summary to
// stderr when the queue closes (time inside kernels vs. time waiting for the next command).
struct Profile {
  bool on = false;
  std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();
  double wait_ns = 0;
  struct Entry {
    int64_t calls = 0;
    double ns = 0;
    double cpu_ns = 0;  // executor thread CPU time (less than ns when the thread was preempted)
  };
  static double thread_cpu_ns() {
#if defined(CLOCK_THREAD_CPUTIME_ID)
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) * 1e9 + static_cast<double>(t.tv_nsec);
#else
    return 0;  // no per-thread CPU clock: the cpu column reads 0
#endif
  }
  std::map<std::string, Entry> kernels;
  void print() const {
    if (!on) return;
    double total = 0;
    for (const auto& k : kernels) total += k.second.ns;
    std::fprintf(stderr, "dsa-cpu profile: kernels %.1f ms, executor waiting %.1f ms\n", total / 1e6, wait_ns / 1e6);
    for (const auto& k : kernels)
      std::fprintf(stderr, "  %-28s %8lld calls %10.2f ms %8.2f us/call %10.2f ms cpu\n",
                   k.first.c_str(), static_cast<long long>(k.second.calls), k.second.ns / 1e6,
                   k.second.ns / 1e3 / k.second.calls, k.second.cpu_ns / 1e6);
  }
};
}  // namespace

Napi::Error queue_error(Napi::Env env, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  size_t colon = message.find(": ");
  if (colon != std::string::npos) {
    error.Set("kernel", Napi::String::New(env, message.substr(0, colon)));
    error.Set("detail", Napi::String::New(env, message.substr(colon + 2)));
  }
  return error;
}

Queue::Queue(Napi::Env env) {
  tsfn_ = Napi::ThreadSafeFunction::New(
      env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}), "dsa-cpu-queue", 0, 1, this,
      [](Napi::Env finalize_env, Queue* queue) { finalize(finalize_env, nullptr, queue); });
  tsfn_.Unref(env);  // only pending fences keep the process alive
  executor_ = std::thread([this] { executor_main(); });
}

void Queue::enqueue(Command&& command) {
  submitted_++;
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    commands_.push_back(std::move(command));
    queued_.fetch_add(1, std::memory_order_release);
    wake = sleeping_;
  }
  if (wake) wake_.notify_one();
}

void Queue::wait_idle() const {
  for (int spins = 1; !idle(); spins++) {
    DSA_QUEUE_PAUSE();
    if (spins % 256 == 0) std::this_thread::yield();
  }
}

std::string Queue::take_error() {
  std::lock_guard<std::mutex> lock(mutex_);
  return take_error_locked();
}

std::string Queue::take_error_locked() {
  std::string error = std::move(error_);
  if (!error.empty() && more_errors_ > 0)
    error += " (and " + std::to_string(more_errors_) + " more failed kernel call" + (more_errors_ > 1 ? "s" : "") + ")";
  error_.clear();
  more_errors_ = 0;
  return error;
}

Napi::Promise Queue::fence(Napi::Env env, Command&& command, Napi::Value keep) {
  Waiter waiter{Napi::Promise::Deferred::New(env), {}};
  if (!keep.IsEmpty() && !keep.IsUndefined()) waiter.keep = Napi::Persistent(keep);
  Napi::Promise promise = waiter.deferred.Promise();
  int64_t id = next_fence_++;
  command.fence = id;
  if (waiters_.empty()) tsfn_.Ref(env);
  waiters_.emplace(id, std::move(waiter));
  enqueue(std::move(command));
  return promise;
}

void Queue::close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing_ = true;
  }
  wake_.notify_one();
}

void Queue::executor_main() {
  Profile profile;
  const char* env = std::getenv("DSA_CPU_PROFILE");
  profile.on = env != nullptr && env[0] != '\0' && env[0] != '0';
  for (;;) {
    // Poll briefly, then sleep until a command arrives.
    if (queued_.load(std::memory_order_acquire) == 0) {
      auto start = std::chrono::steady_clock::now();
      for (int spins = 1; queued_.load(std::memory_order_acquire) == 0; spins++) {
        DSA_QUEUE_PAUSE();
        if (spins % 64 == 0 && std::chrono::steady_clock::now() - start > kSpin) break;
      }
    }
    Command command;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (commands_.empty()) {
        sleeping_ = true;
        wake_.wait(lock, [&] { return !commands_.empty() || closing_; });
        sleeping_ = false;
      }
      if (abandon_ || commands_.empty()) {
        // Closed (and drained, unless abandoned): release what is left and stop.
        for (Command& left : commands_) buffer_release(left.buffers.data(), left.buffers.size());
        commands_.clear();
        profile.print();
        if (tsfn_alive_) {
          tsfn_alive_ = false;
          tsfn_.Release();
        }
        return;
      }
      command = std::move(commands_.front());
      commands_.pop_front();
      queued_.fetch_sub(1, std::memory_order_relaxed);
    }
    if (!profile.on) {
      execute(command);
      continue;
    }
    auto start = std::chrono::steady_clock::now();
    profile.wait_ns += std::chrono::duration<double, std::nano>(start - profile.last).count();
    const char* name = command.name;
    double cpu = Profile::thread_cpu_ns();
    execute(command);
    cpu = Profile::thread_cpu_ns() - cpu;
    profile.last = std::chrono::steady_clock::now();
    auto& entry = profile.kernels[name];
    entry.calls++;
    entry.cpu_ns += cpu;
    entry.ns += std::chrono::duration<double, std::nano>(profile.last - start).count();
  }
}

void Queue::reset_kernel_times() {
  std::lock_guard<std::mutex> lock(mutex_);
  body_times_.clear();
  timing_.store(true, std::memory_order_relaxed);
}

std::vector<Queue::KernelTime> Queue::kernel_times() {
  wait_idle();
  std::map<std::string, KernelTime> merged;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& entry : body_times_) {
      KernelTime& time = merged[entry.first];
      time.name = entry.first;
      time.calls += entry.second.calls;
      time.ns += entry.second.ns;
    }
  }
  std::vector<KernelTime> times;
  for (auto& entry : merged) times.push_back(std::move(entry.second));
  return times;
}

void Queue::add_body_times(const Program& program, const std::vector<double>& op_ns) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (size_t i = 0; i < op_ns.size(); i++) {
    BodyTime& time = body_times_[program.name(i)];
    time.calls++;
    time.ns += op_ns[i];
  }
}

bool Queue::begin_capture() {
  if (capture_) return false;
  capture_ = std::make_shared<Program>();
  return true;
}

void Queue::execute(Command& command) {
  std::string failure;
  // Body time only: the queue hand-off, the fence and the JavaScript side (argument checks and
  // packing) count as host time. Pool threads woken inside a body count as body time. A replay
  // times each of its ops (the steps between them are host time).
  const bool timed = command.run && !command.replay && timing_.load(std::memory_order_relaxed);
  std::chrono::steady_clock::time_point started;
  if (timed) started = std::chrono::steady_clock::now();
  try {
    if (command.run) command.run(command.context);
  } catch (const std::bad_alloc&) {
    failure = "out of memory";
  } catch (const KernelError& error) {
    failure = error.what();
  } catch (const std::exception& error) {
    failure = std::string("internal error: ") + error.what();
  } catch (...) {
    failure = "unknown internal error";
  }
  buffer_release(command.buffers.data(), command.buffers.size());
  command.run = nullptr;  // drop the captures before the fence is settled
  double body_ns = 0;
  if (timed) body_ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - started).count();
  std::lock_guard<std::mutex> lock(mutex_);
  if (timed) {
    BodyTime& time = body_times_[command.name];
    time.calls++;
    time.ns += body_ns;
  }
  if (!failure.empty()) {
    if (error_.empty())
      error_ = command.replay ? failure : std::string(command.name) + ": " + failure;
    else
      more_errors_++;
  }
  if (command.fence > 0) completions_.push_back({command.fence, take_error_locked()});
  // Counted done only now: idle() must not see the queue empty before a failure is recorded, and a
  // settled fence must find it idle.
  done_.fetch_add(1, std::memory_order_release);
  if (command.fence > 0 && tsfn_alive_)
    tsfn_.NonBlockingCall(this, [](Napi::Env env, Napi::Function, Queue* queue) { queue->settle(env); });
}

void Queue::settle(Napi::Env env) {
  std::vector<Completion> done;
  bool alive;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done.swap(completions_);
    alive = tsfn_alive_;
  }
  if (done.empty()) return;
  Napi::HandleScope scope(env);
  for (Completion& completion : done) {
    auto it = waiters_.find(completion.fence);
    if (it == waiters_.end()) continue;
    if (completion.error.empty()) {
      it->second.deferred.Resolve(env.Undefined());
    } else {
      it->second.deferred.Reject(queue_error(env, completion.error).Value());
    }
    waiters_.erase(it);
  }
  if (waiters_.empty() && alive) tsfn_.Unref(env);
}

void Queue::finalize(Napi::Env, void*, Queue* queue) {
  // Either the executor released the function after draining a closed queue (every fence is
  // settled by then), or the environment is being torn down: stop the executor after its current
  // command before anything is freed; promises still pending can no longer be settled.
  {
    std::lock_guard<std::mutex> lock(queue->mutex_);
    queue->tsfn_alive_ = false;
    queue->closing_ = true;
    queue->abandon_ = true;
  }
  queue->wake_.notify_one();
  if (queue->executor_.joinable()) queue->executor_.join();
  for (auto& entry : queue->waiters_) entry.second.keep.SuppressDestruct();
  queue->waiters_.clear();
  delete queue;
}

}  // namespace dsa
