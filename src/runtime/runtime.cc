#include "clipembed/runtime.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace clipembed {
namespace {

// Identifies the runtime (if any) whose thread is running; used only to detect re-entrant calls,
// never to hold per-thread resources.
thread_local const Runtime* current_runtime = nullptr;

int resolve_thread_count(const RuntimeOptions& options) {
  if (options.threads > 0) return options.threads;
  if (const char* env = std::getenv("CLIPEMBED_THREADS")) {
    char* end = nullptr;
    long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n > 0 && n <= 1024) return static_cast<int>(n);
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

// Spins for a short while (tens of microseconds) until `ready()` before a thread falls back to
// sleeping: a forward pass wakes the pool a hundred times, and on a VM a futex wake-up costs tens
// of microseconds, which left a core idle for about 15% of a ViT-B/32 batch.
template <typename Pred>
bool spin_until(Pred ready) {
  constexpr int kSpins = 4000;
  for (int i = 0; i < kSpins; ++i) {
    if (ready()) return true;
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#else
    std::this_thread::yield();
#endif
  }
  return false;
}

}  // namespace

Runtime::Runtime(const RuntimeOptions& options) {
  const int n = resolve_thread_count(options);
  threads_.reserve(n);
  for (int i = 0; i < n; ++i) threads_.emplace_back([this] { worker_loop(); });
}

Runtime::~Runtime() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    stopping_flag_.store(true, std::memory_order_relaxed);
  }
  wake_.notify_all();
  for (std::thread& t : threads_) t.join();
}

bool Runtime::in_runtime_thread() const { return current_runtime == this; }

void Runtime::enqueue(std::function<void()> task) {
  bool sleepers = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(task));
    queued_.store(queue_.size(), std::memory_order_relaxed);
    sleepers = sleepers_ > 0;
  }
  if (sleepers) wake_.notify_all();
}

void Runtime::notify_if_sleeping(std::unique_lock<std::mutex>& lock) {
  const bool sleepers = sleepers_ > 0;
  lock.unlock();
  if (sleepers) wake_.notify_all();
  lock.lock();
}

// Pops and runs one task with the lock released; returns false when the queue is empty.
bool Runtime::run_one_queued_task(std::unique_lock<std::mutex>& lock, bool newest) {
  if (queue_.empty()) return false;
  std::function<void()> task;
  if (newest) {
    task = std::move(queue_.back());
    queue_.pop_back();
  } else {
    task = std::move(queue_.front());
    queue_.pop_front();
  }
  queued_.store(queue_.size(), std::memory_order_relaxed);
  lock.unlock();
  task();          // Tasks made by submit() and parallel_for() never throw: they store exceptions.
  task = nullptr;  // Release what the task captured before retaking the lock.
  lock.lock();
  return true;
}

void Runtime::worker_loop() {
  current_runtime = this;
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    if (run_one_queued_task(lock, /*newest=*/false)) continue;
    if (stopping_) return;
    lock.unlock();
    spin_until([this] {
      return queued_.load(std::memory_order_relaxed) > 0 ||
             stopping_flag_.load(std::memory_order_relaxed);
    });
    lock.lock();
    if (!queue_.empty() || stopping_) continue;
    ++sleepers_;
    wake_.wait(lock, [this] { return !queue_.empty() || stopping_; });
    --sleepers_;
  }
}

void Runtime::parallel_for(int64_t begin, int64_t end,
                           const std::function<void(int64_t, int64_t)>& fn, int64_t grain) {
  if (end <= begin) return;
  if (in_runtime_thread()) {
    parallel_for_inside(begin, end, fn, grain);
    return;
  }
  submit([&] { parallel_for_inside(begin, end, fn, grain); }).get();
}

void Runtime::parallel_for_inside(int64_t begin, int64_t end,
                                  const std::function<void(int64_t, int64_t)>& fn, int64_t grain) {
  const int64_t total = end - begin;
  const int64_t max_chunks = std::max<int64_t>(1, total / std::max<int64_t>(1, grain));
  const int64_t chunks = std::min<int64_t>(num_threads(), max_chunks);
  if (chunks <= 1) {
    fn(begin, end);
    return;
  }
  // Chunks are claimed, not assigned: queued helper tasks and the caller take the next unclaimed
  // index, so the caller never waits for a chunk nobody has started, and never runs unrelated
  // tasks while it waits (a forward pass must not nest a blocking request inside itself, which
  // could hold the worker slot that request needs). Helper tasks that find nothing left return at
  // once; the shared state outlives the call for them.
  struct Shared {
    std::atomic<int64_t> next{1};    // Chunk 0 is the caller's.
    std::atomic<int64_t> remaining;  // Chunks other than 0 not finished; written under mutex_
                                     // by helpers.
    std::exception_ptr error;        // Guarded by mutex_.
  };
  auto shared = std::make_shared<Shared>();
  shared->remaining.store(chunks - 1);
  const auto* body = &fn;
  auto run_chunk = [begin, total, chunks, body](int64_t i) {
    (*body)(begin + total * i / chunks, begin + total * (i + 1) / chunks);
  };
  {
    std::unique_lock<std::mutex> lock(mutex_);
    for (int64_t i = 1; i < chunks; ++i) {
      queue_.push_back([this, shared, run_chunk, chunks] {
        const int64_t i = shared->next.fetch_add(1);
        if (i >= chunks) return;
        std::exception_ptr error;
        try {
          run_chunk(i);
        } catch (...) {
          error = std::current_exception();
        }
        std::unique_lock<std::mutex> done(mutex_);
        if (error && !shared->error) shared->error = error;
        shared->remaining.fetch_sub(1);
        notify_if_sleeping(done);
      });
    }
    queued_.store(queue_.size(), std::memory_order_relaxed);
    notify_if_sleeping(lock);
  }

  std::exception_ptr own_error;
  auto run_own = [&](int64_t i) {
    try {
      run_chunk(i);
    } catch (...) {
      if (!own_error) own_error = std::current_exception();
    }
  };
  run_own(0);
  for (int64_t i = shared->next.fetch_add(1); i < chunks; i = shared->next.fetch_add(1)) {
    run_own(i);
    shared->remaining.fetch_sub(1);
  }
  // Every chunk is claimed; wait for those running on other threads.
  auto finished = [&] { return shared->remaining.load() == 0; };
  if (!spin_until(finished)) {
    std::unique_lock<std::mutex> lock(mutex_);
    ++sleepers_;
    wake_.wait(lock, finished);
    --sleepers_;
  }
  std::exception_ptr helper_error;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    helper_error = shared->error;
  }
  if (own_error) std::rethrow_exception(own_error);
  if (helper_error) std::rethrow_exception(helper_error);
}

void Runtime::help_until(const std::function<bool()>& ready) {
  if (!in_runtime_thread()) {
    // Outside the runtime nothing needs our help; poll with growing sleeps (futures give no
    // shared wake-up to block on).
    auto pause = std::chrono::microseconds(20);
    while (!ready()) {
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds(2000));
    }
    return;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  while (!ready()) {
    if (run_one_queued_task(lock, /*newest=*/true)) continue;
    lock.unlock();
    spin_until([&] { return queued_.load(std::memory_order_relaxed) > 0 || ready(); });
    lock.lock();
    if (!queue_.empty() || ready()) continue;
    // The awaited work runs elsewhere (another runtime thread, an I/O thread or a timer):
    // sleep briefly, waking early for new tasks.
    ++sleepers_;
    wake_.wait_for(lock, std::chrono::microseconds(500));
    --sleepers_;
  }
}

Runtime& shared_runtime(const RuntimeOptions& options) {
  // Destroyed at exit like any function-local static: the destructor runs what is still queued and
  // joins every thread, so no runtime thread outlives main's static destruction.
  static Runtime runtime(options);
  return runtime;
}

}  // namespace clipembed
