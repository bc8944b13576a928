// The persistent thread pool (see pool.h).
#include "pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DSA_PAUSE() _mm_pause()
#else
#define DSA_PAUSE() std::this_thread::yield()
#endif

namespace dsa {

namespace {
thread_local bool in_pool_worker = false;
// ThreadPool::Hot guards alive on this thread: its jobs may skip the wake-up (see ThreadPool::run).
thread_local int hot_here = 0;
constexpr auto kSpin = std::chrono::microseconds(100);
}  // namespace

struct ThreadPool::State {
  std::mutex dispatch;  // one job at a time (several JS threads may share the pool)
  std::mutex sleep;
  std::condition_variable wake;
  std::vector<std::thread> workers;
  // generation << 16 | participating workers: read in one load so a worker never mixes two jobs.
  std::atomic<uint64_t> state{0};
  std::atomic<int64_t> next{0};
  // Who helps with the current job: generation << 17 | closed << 16 | workers joined. A worker joins
  // (one CAS) only while the generation is its job's and the job is open; the caller closes the job
  // once every task is claimed and waits for the joined workers alone (`finished`), so a worker the
  // OS has descheduled before it joined never holds the caller up (oversubscribed machines).
  std::atomic<uint64_t> joined{0};
  std::atomic<int> finished{0};
  // Live ThreadPool::Hot guards: workers do not sleep while it is above 0 (changed under `sleep`).
  std::atomic<int> hot{0};
  void (*call)(void*, int64_t) = nullptr;
  void* context = nullptr;
  int64_t tasks = 0;

  // The first exception a task throws; the caller rethrows it once every thread has stopped.
  std::mutex error_mutex;
  std::exception_ptr error;

  void work() {
    int64_t t;
    while ((t = next.fetch_add(1, std::memory_order_relaxed)) < tasks) {
      try {
        call(context, t);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next.store(tasks, std::memory_order_relaxed);  // skip the remaining tasks
      }
    }
  }

  void worker_main(int index) {
    in_pool_worker = true;
    uint64_t seen = state.load(std::memory_order_acquire);
    for (;;) {
      uint64_t current;
      auto start = std::chrono::steady_clock::now();
      int spins = 0;
      while ((current = state.load(std::memory_order_acquire)) == seen) {
        DSA_PAUSE();
        if (++spins % 256 != 0) continue;
        if (hot.load(std::memory_order_relaxed) > 0) {
          // Hot: never sleep, but let a thread waiting for this core run (the executor, when the
          // machine is oversubscribed); on an idle core yield returns at once.
          std::this_thread::yield();
        } else if (std::chrono::steady_clock::now() - start > kSpin) {
          std::unique_lock<std::mutex> lock(sleep);
          wake.wait(lock, [&] {
            return state.load(std::memory_order_acquire) != seen || hot.load(std::memory_order_relaxed) > 0;
          });
          start = std::chrono::steady_clock::now();
        }
      }
      seen = current;
      int participants = static_cast<int>(current & 0xffff);
      if (index >= participants || !join(current >> 16)) continue;
      work();
      finished.fetch_add(1, std::memory_order_release);
    }
  }

  static constexpr uint64_t kClosed = uint64_t{1} << 16;

  // Joins job `generation` if it is still the current one and open.
  bool join(uint64_t generation) {
    uint64_t j = joined.load(std::memory_order_acquire);
    for (;;) {
      if ((j >> 17) != (generation & (~uint64_t{0} >> 17)) || (j & kClosed) != 0) return false;
      if (joined.compare_exchange_weak(j, j + 1, std::memory_order_acq_rel, std::memory_order_acquire)) return true;
    }
  }
};

ThreadPool& ThreadPool::get() {
  static ThreadPool* pool = [] {
    auto* p = new ThreadPool();
    p->state_ = new State();
    return p;
  }();
  return *pool;
}

int hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

void ThreadPool::reserve(int threads) {
  std::lock_guard<std::mutex> guard(state_->dispatch);
  threads = std::min(threads, 256);
  while (static_cast<int>(state_->workers.size()) + 1 < threads) {
    int index = static_cast<int>(state_->workers.size());
    state_->workers.emplace_back([this, index] { state_->worker_main(index); });
    state_->workers.back().detach();
  }
}

int ThreadPool::capacity() const {
  std::lock_guard<std::mutex> guard(state_->dispatch);
  return static_cast<int>(state_->workers.size()) + 1;
}

void ThreadPool::run(int threads, int64_t tasks, void (*call)(void*, int64_t), void* context) {
  if (threads <= 1 || tasks <= 1 || in_pool_worker) {
    for (int64_t t = 0; t < tasks; t++) call(context, t);
    return;
  }
  State& s = *state_;
  std::lock_guard<std::mutex> guard(s.dispatch);
  int participants = static_cast<int>(
      std::min<int64_t>({static_cast<int64_t>(threads) - 1, static_cast<int64_t>(s.workers.size()), tasks - 1}));
  if (participants <= 0) {
    for (int64_t t = 0; t < tasks; t++) call(context, t);
    return;
  }
  s.call = call;
  s.context = context;
  s.error = nullptr;
  s.tasks = tasks;
  s.next.store(0, std::memory_order_relaxed);
  uint64_t generation = (s.state.load(std::memory_order_relaxed) >> 16) + 1;
  s.finished.store(0, std::memory_order_relaxed);
  s.joined.store((generation & (~uint64_t{0} >> 17)) << 17, std::memory_order_relaxed);
  const uint64_t next_state = (generation << 16) | static_cast<uint64_t>(participants);
  if (hot_here > 0) {
    // This thread holds a Hot guard, so no worker sleeps until it ends (the guard raised the count
    // under `sleep` and woke them): the store alone hands out the job.
    s.state.store(next_state, std::memory_order_release);
  } else {
    {
      std::lock_guard<std::mutex> lock(s.sleep);
      s.state.store(next_state, std::memory_order_release);
    }
    s.wake.notify_all();
  }
  in_pool_worker = true;  // nested parallel_for inside the caller's tasks runs serially
  s.work();
  in_pool_worker = false;
  // Every task is claimed: close the job and wait for the workers that joined it (those that did not
  // never will); yield now and then so a preempted worker sharing our core can finish its task.
  const int helpers = static_cast<int>(s.joined.fetch_or(State::kClosed, std::memory_order_acq_rel) & 0xffff);
  for (int spins = 1; s.finished.load(std::memory_order_acquire) != helpers; spins++) {
    DSA_PAUSE();
    if (spins % 1024 == 0) std::this_thread::yield();
  }
  if (s.error) {
    std::exception_ptr error = s.error;
    s.error = nullptr;
    std::rethrow_exception(error);
  }
}

ThreadPool::Hot::Hot() {
  ThreadPool::State& s = *ThreadPool::get().state_;
  {
    std::lock_guard<std::mutex> lock(s.sleep);
    s.hot.fetch_add(1, std::memory_order_relaxed);
  }
  s.wake.notify_all();
  hot_here++;
}

ThreadPool::Hot::~Hot() {
  hot_here--;
  ThreadPool::State& s = *ThreadPool::get().state_;
  std::lock_guard<std::mutex> lock(s.sleep);
  s.hot.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace dsa
