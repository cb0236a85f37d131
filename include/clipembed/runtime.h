// clipembed/runtime.h: the process's one compute thread pool.
//
//   clipembed::Runtime& rt = clipembed::shared_runtime();   // created on first use
//   auto f = rt.submit([] { return 6 * 7; });                // std::future<int>
//   rt.parallel_for(0, n, [&](int64_t begin, int64_t end) { /* [begin, end) */ });
//
// Threading rule: all compute in clipembed runs on this runtime. Nothing in the library creates
// another pool, and the matrix library runs single-threaded inside each runtime thread. A call
// that blocks on runtime work is safe from any thread: from a runtime thread, parallel_for runs
// every chunk nobody else has claimed, and wait() runs queued tasks while it waits, so neither
// waits on work that only it could do.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace clipembed {

struct RuntimeOptions {
  int threads = 0;  // 0: the CLIPEMBED_THREADS environment variable, else one per core.
};

class Runtime {
 public:
  explicit Runtime(const RuntimeOptions& options = {});
  ~Runtime();  // Runs the tasks still queued, then joins every thread.
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  int num_threads() const { return static_cast<int>(threads_.size()); }

  // True when called from one of this runtime's threads.
  bool in_runtime_thread() const;

  // Queues `fn`; its result or exception arrives through the future.
  template <typename F>
  auto submit(F&& fn) -> std::future<std::invoke_result_t<F>> {
    using R = std::invoke_result_t<F>;
    auto task = std::make_shared<std::packaged_task<R()>>(std::forward<F>(fn));
    std::future<R> result = task->get_future();
    enqueue([task] { (*task)(); });
    return result;
  }

  // Runs fn over [begin, end) split into at most num_threads() chunks of at least `grain`
  // elements, on runtime threads, and returns when all are done. The first exception thrown by a
  // chunk is rethrown here. From outside the runtime the caller blocks while runtime threads do
  // the work (so busy compute threads never exceed num_threads()); from inside, the calling
  // thread takes part.
  void parallel_for(int64_t begin, int64_t end, const std::function<void(int64_t, int64_t)>& fn,
                    int64_t grain = 1);

  // Waits for a future. On a runtime thread it runs queued tasks while it waits instead of
  // blocking, so a task may wait on work queued behind it without deadlocking the pool.
  template <typename T>
  T wait(std::future<T>& future) {
    help_until(
        [&] { return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready; });
    return future.get();
  }

  // Returns when ready() is true; from a runtime thread, runs queued tasks meanwhile.
  void help_until(const std::function<bool()>& ready);

 private:
  void enqueue(std::function<void()> task);
  void notify_if_sleeping(std::unique_lock<std::mutex>& lock);
  // Idle threads take the oldest task (fairness); a thread waiting on work it queued takes the
  // newest, which is most likely its own, so blocking calls mostly serve themselves instead of
  // nesting other callers' blocking tasks on their stack.
  bool run_one_queued_task(std::unique_lock<std::mutex>& lock, bool newest);
  void worker_loop();
  void parallel_for_inside(int64_t begin, int64_t end,
                           const std::function<void(int64_t, int64_t)>& fn, int64_t grain);

  std::mutex mutex_;
  std::condition_variable wake_;  // Signalled on new tasks, finished chunks and shutdown.
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  int sleepers_ = 0;  // Threads blocked on wake_; guarded by mutex_.
  // Mirrors of queue_.size() and stopping_ that spinning threads read without the lock.
  std::atomic<size_t> queued_{0};
  std::atomic<bool> stopping_flag_{false};
  std::vector<std::thread> threads_;
};

// The process-wide runtime, created on first use with `options` (later options are ignored).
Runtime& shared_runtime(const RuntimeOptions& options = {});

}  // namespace clipembed
