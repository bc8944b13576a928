// A persistent thread pool: workers are started once and reused by every kernel call (no thread per
// call). The calling thread takes part in every job; workers spin briefly after a job (kernels come
// back to back during a forward pass) and then sleep on a condition variable. While a ThreadPool::Hot
// is alive (a recorded program's replay) they never sleep: each job is picked up by spinning workers,
// with no wake-up call per kernel.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "tensor.h"

namespace dsa {

class ThreadPool {
 public:
  // The process-wide pool (never destroyed: workers sleep until the process exits).
  static ThreadPool& get();
  // Starts workers until the pool can run `threads` threads at once (the caller included).
  void reserve(int threads);
  // Threads the pool can run at once (the caller included).
  int capacity() const;
  // Runs call(context, task) for every task in [0, tasks) on up to `threads` threads; returns when all
  // are done. Runs serially when threads <= 1, tasks <= 1 or when called from a pool worker.
  void run(int threads, int64_t tasks, void (*call)(void*, int64_t), void* context);

  // Keeps the workers spinning between jobs for its lifetime (no sleep, no wake-up per job); wakes
  // sleeping workers when it starts. Nestable; for stretches of back-to-back jobs only (they burn
  // their cores while waiting).
  class Hot {
   public:
    Hot();
    ~Hot();
    Hot(const Hot&) = delete;
    Hot& operator=(const Hot&) = delete;
  };

 private:
  ThreadPool() = default;
  struct State;
  State* state_ = nullptr;
};

// Hardware threads of this machine (at least 1).
int hardware_threads();

// Splits [0, n) into contiguous chunks of at least `grain` items and runs body(begin, end) for each
// on the pool, using up to ctx.threads threads.
template <class Body>
void parallel_for(const Context& ctx, int64_t n, int64_t grain, Body&& body, int64_t chunks_per_thread = 4) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  int64_t max_chunks = (n + grain - 1) / grain;
  int threads = static_cast<int>(std::min<int64_t>(ctx.threads, max_chunks));
  if (threads <= 1) {
    body(int64_t{0}, n);
    return;
  }
  // A few chunks per thread (claimed in turn) balance the load when one thread is late (the caller returns to JS);
  // one per thread gives each a single contiguous range (see parallel_for_aligned).
  int64_t chunks =
      std::min<int64_t>(max_chunks, static_cast<int64_t>(threads) * std::max<int64_t>(1, chunks_per_thread));
  struct Job {
    Body* body;
    int64_t n, chunks;
  } job{&body, n, chunks};
  ThreadPool::get().run(
      threads, chunks,
      [](void* context, int64_t chunk) {
        Job* j = static_cast<Job*>(context);
        int64_t begin = j->n * chunk / j->chunks;
        int64_t end = j->n * (chunk + 1) / j->chunks;
        if (begin < end) (*j->body)(begin, end);
      },
      &job);
}

// Runs body(order[i]) for every i in [0, n), one task each, claimed in the order given (list the
// costliest first: a worker that finishes early takes the next, so uneven tasks balance, as causal
// prefill queries do).
template <class Body>
void parallel_each(const Context& ctx, int64_t n, const int64_t* order, Body&& body) {
  if (n <= 0) return;
  struct Job {
    Body* body;
    const int64_t* order;
  } job{&body, order};
  ThreadPool::get().run(
      static_cast<int>(std::min<int64_t>(ctx.threads, n)), n,
      [](void* context, int64_t task) {
        Job* j = static_cast<Job*>(context);
        (*j->body)(j->order[task]);
      },
      &job);
}

// query(ctx_q, s) for every query s in [0, S) of a batch at these positions: with two or more threads
// and at least as many queries, one single-threaded task per query, the latest positions (the most
// rows in a causal prefill) first; else the queries in order, each with the whole pool.
template <class Query>
void for_each_query(const Context& ctx, int64_t S, const int32_t* positions, Query&& query) {
  if (S >= 2 && ctx.threads > 1 && S >= ctx.threads) {
    Context serial = ctx;
    serial.threads = 1;
    std::vector<int64_t> order(static_cast<size_t>(S));
    for (int64_t s = 0; s < S; s++) order[s] = s;
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return positions[a] > positions[b]; });
    parallel_each(ctx, S, order.data(), [&](int64_t s) { query(serial, s); });
  } else {
    for (int64_t s = 0; s < S; s++) query(ctx, s);
  }
}

// each(i) for every i in [0, n) on the pool, each task catching its items' errors so that none stops half-way;
// then the lowest item that threw runs again on this thread to throw its error, the one a loop in order would
// meet first whatever the thread split (validating a batch's queries, resolving a MoE layer's experts).
template <class Each>
void parallel_each_checked(const Context& ctx, int64_t n, int64_t grain, Each&& each) {
  std::vector<char> bad(static_cast<size_t>(std::max<int64_t>(0, n)), 0);
  parallel_for(ctx, n, grain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) {
      try {
        each(i);
      } catch (...) {
        bad[static_cast<size_t>(i)] = 1;
      }
    }
  });
  for (int64_t i = 0; i < n; i++)
    if (bad[static_cast<size_t>(i)]) each(i);
}

// parallel_for, for items that must be split on multiples of `align` (GEMM tiles): body(begin, end) gets
// begin a multiple of align. chunks_per_thread = 1 gives each thread one contiguous range: for a stream at one row
// of x (decode GEMV) each thread's weights are then one sequential run, which the hardware prefetchers follow without
// restarting at every chunk end; no balancing, so a thread that starts late holds the call up.
template <class Body>
void parallel_for_aligned(const Context& ctx, int64_t n, int64_t align, int64_t grain, Body&& body,
                          int64_t chunks_per_thread = 4) {
  int64_t units = (n + align - 1) / align;
  parallel_for(
      ctx, units, std::max<int64_t>(1, grain / align),
      [&](int64_t b, int64_t e) { body(b * align, std::min(n, e * align)); }, chunks_per_thread);
}

}  // namespace dsa
