#include "clipembed/runtime.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "clipembed/error.h"

namespace clipembed {
namespace {

TEST(RuntimeTest, ParallelForCoversTheRangeOnce) {
  Runtime runtime(RuntimeOptions{.threads = 3});
  std::vector<std::atomic<int>> hits(1000);
  runtime.parallel_for(0, 1000, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) hits[i]++;
  });
  for (auto& h : hits) ASSERT_EQ(h.load(), 1);
}

TEST(RuntimeTest, ExceptionsReachTheCaller) {
  Runtime runtime(RuntimeOptions{.threads = 2});
  EXPECT_THROW(runtime.parallel_for(0, 100,
                                    [](int64_t b, int64_t) {
                                      if (b > 0) throw std::runtime_error("chunk failed");
                                    }),
               std::runtime_error);
  auto f = runtime.submit([]() -> int { throw std::logic_error("task failed"); });
  EXPECT_THROW(f.get(), std::logic_error);
}

// Every task blocks on nested parallel work while all threads are busy with such tasks: the
// helping wait must keep this from deadlocking.
TEST(RuntimeTest, BlockingInsideTheRuntimeDoesNotDeadlock) {
  Runtime runtime(RuntimeOptions{.threads = 2});
  std::vector<std::future<int64_t>> results;
  for (int t = 0; t < 200; ++t) {
    results.push_back(runtime.submit([&runtime, t] {
      std::atomic<int64_t> sum{0};
      runtime.parallel_for(0, 64, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) sum += i + t;
      });
      return sum.load();
    }));
  }
  for (int t = 0; t < 200; ++t) EXPECT_EQ(results[t].get(), 64 * 63 / 2 + 64 * t);
}

TEST(RuntimeTest, ThreadCountComesFromOptions) {
  Runtime runtime(RuntimeOptions{.threads = 3});
  EXPECT_EQ(runtime.num_threads(), 3);
  EXPECT_FALSE(runtime.in_runtime_thread());
  EXPECT_TRUE(runtime.submit([&] { return runtime.in_runtime_thread(); }).get());
}

}  // namespace
}  // namespace clipembed

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

namespace clipembed {
namespace {

// A child process uses the shared runtime, leaves work queued and returns from "main" (exit()):
// static destruction must join the threads and exit cleanly, not crash or hang.
TEST(RuntimeTest, SharedRuntimeShutsDownCleanlyAtExit) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "ThreadSanitizer cannot start threads in a child of a threaded process";
#endif
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    configure_runtime(RuntimeOptions{.threads = 2});
    Runtime& rt = shared_runtime();
    for (int i = 0; i < 100; ++i)
      rt.submit([] { std::this_thread::sleep_for(std::chrono::microseconds(100)); });
    rt.parallel_for(0, 1000, [](int64_t, int64_t) {});
    std::exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "child crashed (signal " << WTERMSIG(status) << ")";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// The shared runtime is configured once: asking again for what it runs is fine, asking for
// something else after it started is refused instead of silently ignored.
TEST(RuntimeTest, ConfiguringTheStartedRuntimeDifferentlyIsRefused) {
  const int running = shared_runtime().num_threads();
  EXPECT_NO_THROW(configure_runtime(RuntimeOptions{.threads = running}));
  try {
    configure_runtime(RuntimeOptions{.threads = running + 1});
    ADD_FAILURE() << "a second thread count was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("before anything computes"), std::string::npos);
  }
  EXPECT_EQ(shared_runtime().num_threads(), running);
}

}  // namespace
}  // namespace clipembed
