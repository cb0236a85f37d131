#include "clipembed/runtime.h"

#include <algorithm>
#include <cstdlib>
#include <string>

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
  }
  wake_.notify_all();
  for (std::thread& t : threads_) t.join();
}

bool Runtime::in_runtime_thread() const { return current_runtime == this; }

void Runtime::enqueue(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(task));
  }
  wake_.notify_all();
}

// Pops and runs one task with the lock released; returns false when the queue is empty.
bool Runtime::run_one_queued_task(std::unique_lock<std::mutex>& lock) {
  if (queue_.empty()) return false;
  std::function<void()> task = std::move(queue_.front());
  queue_.pop_front();
  lock.unlock();
  task();  // Tasks made by submit() and parallel_for() never throw: they store exceptions.
  lock.lock();
  return true;
}

void Runtime::worker_loop() {
  current_runtime = this;
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    if (run_one_queued_task(lock)) continue;
    if (stopping_) return;
    wake_.wait(lock);
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
  struct Shared {
    int64_t remaining;
    std::exception_ptr error;
  } shared{chunks - 1, nullptr};
  auto chunk_range = [&](int64_t i) {
    return std::pair<int64_t, int64_t>{begin + total * i / chunks,
                                       begin + total * (i + 1) / chunks};
  };
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (int64_t i = 1; i < chunks; ++i) {
      queue_.push_back([&, i] {
        std::exception_ptr error;
        try {
          auto [b, e] = chunk_range(i);
          fn(b, e);
        } catch (...) {
          error = std::current_exception();
        }
        std::lock_guard<std::mutex> done(mutex_);
        if (error && !shared.error) shared.error = error;
        --shared.remaining;
        wake_.notify_all();
      });
    }
  }
  wake_.notify_all();

  std::exception_ptr own_error;
  try {
    auto [b, e] = chunk_range(0);
    fn(b, e);
  } catch (...) {
    own_error = std::current_exception();
  }
  // Help with queued work (our own chunks or anyone's) until every chunk has finished; waiting
  // only when the queue is empty means the remaining chunks are running on other threads.
  std::unique_lock<std::mutex> lock(mutex_);
  while (shared.remaining > 0) {
    if (!run_one_queued_task(lock)) wake_.wait(lock);
  }
  lock.unlock();
  if (own_error) std::rethrow_exception(own_error);
  if (shared.error) std::rethrow_exception(shared.error);
}

Runtime& shared_runtime(const RuntimeOptions& options) {
  // Intentionally leaked: joining threads from static destructors races with other static
  // destruction; a leaked runtime's threads sleep until the process exits.
  static Runtime* runtime = new Runtime(options);
  return *runtime;
}

}  // namespace clipembed
