#include "clipembed/runtime.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "clipembed/error.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace clipembed {
namespace {

// Identifies the runtime (if any) whose thread is running; used only to detect re-entrant calls,
// never to hold per-thread resources.
thread_local const void* current_runtime = nullptr;

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
// of microseconds, which left a core idle for a noticeable part of each batch (docs/perf.md).
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

struct Runtime::Impl {
  explicit Impl(int threads);
  ~Impl();

  void enqueue(std::function<void()> task);
  void notify_if_sleeping(std::unique_lock<std::mutex>& lock);
  // Idle threads take the oldest task (fairness); a thread waiting on work it queued takes the
  // newest, which is most likely its own, so blocking calls mostly serve themselves instead of
  // nesting other callers' blocking tasks on their stack.
  bool run_one_queued_task(std::unique_lock<std::mutex>& lock, bool newest);
  void worker_loop();
  void parallel_for_inside(int64_t begin, int64_t end,
                           const std::function<void(int64_t, int64_t)>& fn, int64_t grain);
  void help_until(const std::function<bool()>& ready);
  bool in_runtime_thread() const { return current_runtime == this; }
  int num_threads() const { return static_cast<int>(threads.size()); }

  std::mutex mutex;
  std::condition_variable wake;  // Signalled on new tasks, finished chunks and shutdown.
  std::deque<std::function<void()>> queue;
  bool stopping = false;
  int sleepers = 0;  // Threads blocked on wake; guarded by mutex.
  // Mirrors of queue.size() and stopping that spinning threads read without the lock.
  std::atomic<size_t> queued{0};
  std::atomic<bool> stopping_flag{false};
  std::vector<std::thread> threads;
};

Runtime::Impl::Impl(int n) {
  threads.reserve(n);
  for (int i = 0; i < n; ++i) threads.emplace_back([this] { worker_loop(); });
}

Runtime::Impl::~Impl() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stopping = true;
    stopping_flag.store(true, std::memory_order_relaxed);
  }
  wake.notify_all();
  for (std::thread& t : threads) t.join();
}

Runtime::Runtime(const RuntimeOptions& options)
    : impl_(std::make_unique<Impl>(resolve_thread_count(options))) {}

Runtime::~Runtime() = default;

int Runtime::num_threads() const { return impl_->num_threads(); }

bool Runtime::in_runtime_thread() const { return impl_->in_runtime_thread(); }

void Runtime::enqueue(std::function<void()> task) { impl_->enqueue(std::move(task)); }

void Runtime::help_until(const std::function<bool()>& ready) { impl_->help_until(ready); }

void Runtime::parallel_for(int64_t begin, int64_t end,
                           const std::function<void(int64_t, int64_t)>& fn, int64_t grain) {
  if (end <= begin) return;
  if (impl_->in_runtime_thread()) {
    impl_->parallel_for_inside(begin, end, fn, grain);
    return;
  }
  submit([&] { impl_->parallel_for_inside(begin, end, fn, grain); }).get();
}

void Runtime::Impl::enqueue(std::function<void()> task) {
  bool any_sleeping = false;
  {
    std::lock_guard<std::mutex> lock(mutex);
    queue.push_back(std::move(task));
    queued.store(queue.size(), std::memory_order_relaxed);
    any_sleeping = sleepers > 0;
  }
  if (any_sleeping) wake.notify_all();
}

void Runtime::Impl::notify_if_sleeping(std::unique_lock<std::mutex>& lock) {
  const bool any_sleeping = sleepers > 0;
  lock.unlock();
  if (any_sleeping) wake.notify_all();
  lock.lock();
}

// Pops and runs one task with the lock released; returns false when the queue is empty.
bool Runtime::Impl::run_one_queued_task(std::unique_lock<std::mutex>& lock, bool newest) {
  if (queue.empty()) return false;
  std::function<void()> task;
  if (newest) {
    task = std::move(queue.back());
    queue.pop_back();
  } else {
    task = std::move(queue.front());
    queue.pop_front();
  }
  queued.store(queue.size(), std::memory_order_relaxed);
  lock.unlock();
  task();          // Tasks made by submit() and parallel_for() never throw: they store exceptions.
  task = nullptr;  // Release what the task captured before retaking the lock.
  lock.lock();
  return true;
}

void Runtime::Impl::worker_loop() {
  current_runtime = this;
  std::unique_lock<std::mutex> lock(mutex);
  while (true) {
    if (run_one_queued_task(lock, /*newest=*/false)) continue;
    if (stopping) return;
    lock.unlock();
    spin_until([this] {
      return queued.load(std::memory_order_relaxed) > 0 ||
             stopping_flag.load(std::memory_order_relaxed);
    });
    lock.lock();
    if (!queue.empty() || stopping) continue;
    ++sleepers;
    wake.wait(lock, [this] { return !queue.empty() || stopping; });
    --sleepers;
  }
}

void Runtime::Impl::parallel_for_inside(int64_t begin, int64_t end,
                                        const std::function<void(int64_t, int64_t)>& fn,
                                        int64_t grain) {
  const int64_t total = end - begin;
  const int64_t max_chunks = std::max<int64_t>(1, total / std::max<int64_t>(1, grain));
  // Several chunks per thread, claimed one at a time: a thread that was busy elsewhere when the
  // call began (decoding the next batch, in the CLI's pipeline) joins in for the chunks left when
  // it is free, instead of idling until the next call. The results never depend on the split.
  constexpr int64_t kChunksPerThread = 4;
  const int64_t chunks = std::min<int64_t>(num_threads() * kChunksPerThread, max_chunks);
  if (chunks <= 1 || num_threads() <= 1) {
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
    std::atomic<int64_t> remaining;  // Chunks other than 0 not finished; helpers subtract theirs
                                     // under mutex.
    std::exception_ptr error;        // Guarded by mutex.
  };
  auto shared = std::make_shared<Shared>();
  shared->remaining.store(chunks - 1);
  const auto* body = &fn;
  auto run_chunk = [begin, total, chunks, body](int64_t i) {
    (*body)(begin + total * i / chunks, begin + total * (i + 1) / chunks);
  };
  {
    std::unique_lock<std::mutex> lock(mutex);
    const int64_t helpers = std::min<int64_t>(num_threads(), chunks) - 1;
    for (int64_t h = 0; h < helpers; ++h) {
      queue.push_back([this, shared, run_chunk, chunks] {
        int64_t done = 0;
        std::exception_ptr error;
        for (int64_t i = shared->next.fetch_add(1); i < chunks; i = shared->next.fetch_add(1)) {
          try {
            run_chunk(i);
          } catch (...) {
            if (!error) error = std::current_exception();
          }
          ++done;
        }
        if (done == 0) return;
        std::unique_lock<std::mutex> finished(mutex);
        if (error && !shared->error) shared->error = error;
        shared->remaining.fetch_sub(done);
        notify_if_sleeping(finished);
      });
    }
    queued.store(queue.size(), std::memory_order_relaxed);
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
    std::unique_lock<std::mutex> lock(mutex);
    ++sleepers;
    wake.wait(lock, finished);
    --sleepers;
  }
  std::exception_ptr helper_error;
  {
    std::lock_guard<std::mutex> lock(mutex);
    helper_error = shared->error;
  }
  if (own_error) std::rethrow_exception(own_error);
  if (helper_error) std::rethrow_exception(helper_error);
}

void Runtime::Impl::help_until(const std::function<bool()>& ready) {
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
  std::unique_lock<std::mutex> lock(mutex);
  while (!ready()) {
    if (run_one_queued_task(lock, /*newest=*/true)) continue;
    lock.unlock();
    spin_until([&] { return queued.load(std::memory_order_relaxed) > 0 || ready(); });
    lock.lock();
    if (!queue.empty() || ready()) continue;
    // The awaited work runs elsewhere (another runtime thread, an I/O thread or a timer):
    // sleep briefly, waking early for new tasks.
    ++sleepers;
    wake.wait_for(lock, std::chrono::microseconds(500));
    --sleepers;
  }
}

namespace {

// The options the process-wide runtime starts with, and whether it has started.
struct SharedRuntimeConfig {
  std::mutex mutex;
  RuntimeOptions options;
  bool started = false;
};

SharedRuntimeConfig& shared_config() {
  static SharedRuntimeConfig config;
  return config;
}

}  // namespace

Runtime& shared_runtime() {
  // Destroyed at exit like any function-local static (after nothing: shared_config() completed
  // first, so it is destroyed later): the destructor runs what is still queued and joins every
  // thread, so no runtime thread outlives main's static destruction.
  static Runtime runtime([] {
    SharedRuntimeConfig& config = shared_config();
    std::lock_guard<std::mutex> lock(config.mutex);
    config.started = true;
    return config.options;
  }());
  return runtime;
}

void configure_runtime(const RuntimeOptions& options) {
  SharedRuntimeConfig& config = shared_config();
  {
    std::lock_guard<std::mutex> lock(config.mutex);
    if (!config.started) config.options = options;
  }
  const int wanted = resolve_thread_count(options);
  const int running = shared_runtime().num_threads();
  if (running != wanted) {
    throw Error(ErrorCode::kInvalidArgument,
                "the compute runtime already runs " + std::to_string(running) +
                    " threads; configure_runtime() asked for " + std::to_string(wanted) +
                    " after the runtime had started (call it before anything computes)");
  }
}

}  // namespace clipembed
