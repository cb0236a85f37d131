// clipembed/runtime.h: the process's one compute thread pool.
//
//   clipembed::configure_runtime({.threads = 4});            // optional, before first use
//   clipembed::Runtime& rt = clipembed::shared_runtime();     // created on first use
//   auto f = rt.submit([] { return 6 * 7; });                 // std::future<int>
//   rt.parallel_for(0, n, [&](int64_t begin, int64_t end) { /* [begin, end) */ });
//
// Threading rule: all compute in clipembed runs on this runtime. Nothing in the library creates
// another pool, and the matrix library runs single-threaded inside each runtime thread. A call
// that blocks on runtime work is safe from any thread: from a runtime thread, parallel_for runs
// every chunk nobody else has claimed, and wait() runs queued tasks while it waits, so neither
// waits on work that only it could do.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <type_traits>

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

  int num_threads() const;

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

  // Runs fn over [begin, end) split into chunks of at least `grain` elements (up to four per
  // thread, claimed one at a time), on runtime threads, and returns when all are done. The first
  // exception thrown by a chunk is rethrown here. From outside the runtime the caller blocks while
  // runtime threads do the work (so busy compute threads never exceed num_threads()); from
  // inside, the calling thread takes part.
  void parallel_for(int64_t begin, int64_t end, const std::function<void(int64_t, int64_t)>& fn,
                    int64_t grain = 1);

  // Waits for a future. On a runtime thread it runs queued tasks while it waits instead of
  // blocking, so a task may wait on work queued behind it without deadlocking the pool. Any other
  // thread blocks on the future itself, so it wakes as soon as the result is set (the CLI's
  // pipeline submits the next batch's forward pass at that moment).
  template <typename T>
  T wait(std::future<T>& future) {
    if (!in_runtime_thread()) return future.get();
    help_until(
        [&] { return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready; });
    return future.get();
  }

  // Returns when ready() is true; from a runtime thread, runs queued tasks meanwhile.
  void help_until(const std::function<bool()>& ready);

 private:
  void enqueue(std::function<void()> task);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Sets the options of the process-wide runtime. Call it before anything computes (the CLI does so
// at start-up); the runtime then starts with them. Once the runtime has started, a call with
// options that resolve to the same thread count is accepted and any other throws
// Error(kInvalidArgument), so a caller never silently gets a runtime other than the one it asked
// for.
void configure_runtime(const RuntimeOptions& options);

// The process-wide runtime, started on first use with the options of configure_runtime() (or the
// defaults) and joined at exit.
Runtime& shared_runtime();

}  // namespace clipembed
