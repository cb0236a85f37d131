// The model pool under failure and load: budgets, failed loads and the breaker, a full queue,
// deadlines, idle workers and models, shutdown, URL inputs, and memory with sixteen workers.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "clipembed/model.h"
#include "clipembed/pool.h"
#include "clipembed/runtime.h"
#include "pool/pool_test_support.h"
#include "support/fixtures.h"
#include "support/http_test_server.h"

namespace clipembed {
namespace {

using testing::base64_of_file;
using testing::code_of;
using testing::fixture_path;
using testing::small_pool;
namespace fs = std::filesystem;

TEST(ModelPoolTest, TinyBudgetGivesMemoryExhausted) {
  PoolOptions options = small_pool();
  options.memory_budget_bytes = 1000;
  ModelPool pool(options);
  EXPECT_EQ(code_of([&] { pool.embedder("tiny")->embed_image(fixture_path("images/square.jpg")); }),
            ErrorCode::kMemoryExhausted);
}

TEST(ModelPoolTest, FailedLoadFailsRequestsAndTheNextRequestRetries) {
  const fs::path dir = testing::temp_path("clipembed_pool_retry");
  fs::remove_all(dir);
  PoolOptions options;
  options.model_directories["late"] = dir.string();
  ModelPool pool(options);
  auto embedder = pool.embedder("late");
  EXPECT_EQ(code_of([&] { embedder->embed_image(fixture_path("images/square.jpg")); }),
            ErrorCode::kModelInvalid);
  fs::copy(fixture_path("models/tiny"), dir);
  EXPECT_EQ(embedder->embed_image(fixture_path("images/square.jpg")).size(), 16u);
  fs::remove_all(dir);
}

TEST(ModelPoolTest, RepeatedLoadFailuresOpenTheBreakerForAWhile) {
  PoolOptions options;
  options.model_directories["broken"] = "/nonexistent/model";
  options.breaker_threshold = 2;
  // Long enough that slow sanitizer builds still see the breaker open on the next request.
  options.breaker_cooldown = std::chrono::seconds(3);
  ModelPool pool(options);
  auto embedder = pool.embedder("broken");
  const std::string image = fixture_path("images/square.jpg");
  EXPECT_EQ(code_of([&] { embedder->embed_image(image); }), ErrorCode::kModelInvalid);
  EXPECT_EQ(code_of([&] { embedder->embed_image(image); }), ErrorCode::kModelInvalid);
  EXPECT_EQ(code_of([&] { embedder->embed_image(image); }), ErrorCode::kUnavailable);
  std::this_thread::sleep_for(std::chrono::milliseconds(3100));
  EXPECT_EQ(code_of([&] { embedder->embed_image(image); }), ErrorCode::kModelInvalid);
}

TEST(ModelPoolTest, FullQueueAnswersOverloadedAtOnce) {
  PoolOptions options = small_pool();
  options.max_queued_inputs = 4;
  ModelPool pool(options);
  auto embedder = pool.embedder("tiny");
  pool.load("tiny");
  std::vector<std::future<Embedding>> pending;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 64; ++i) {
    pending.push_back(embedder->embed_image_async(fixture_path("images/hd.jpg")));
  }
  // "At once": a refused request is answered inside its submit call, before any queued image is
  // decoded, so its future is ready right after the loop, which itself takes no compute time.
  int refused_at_once = 0;
  for (auto& f : pending) {
    refused_at_once += f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
  EXPECT_GE(refused_at_once, 64 - 4 - 8) << "refusals waited for the queue";
  int overloaded = 0, ok = 0;
  for (auto& f : pending) {
    try {
      f.get();
      ++ok;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kOverloaded);
      ++overloaded;
    }
  }
  EXPECT_GT(overloaded, 0);
  EXPECT_GE(ok, 4);
}

// A group is admitted whole: one larger than the queue fails at once (every input with
// kRequestTooLarge), and one that does not fit now waits for room and then completes.
TEST(ModelPoolTest, GroupsAreAdmittedWholeOrWaitForRoom) {
  testing::HttpTestServer server;
  PoolOptions options = small_pool();
  options.max_queued_inputs = 3;
  ModelPool pool(options);
  auto embedder = pool.embedder("tiny");
  pool.load("tiny");
  const std::string image = fixture_path("images/square.jpg");
  const auto too_large = embedder->embed_images({image, image, image, image});
  ASSERT_EQ(too_large.size(), 4u);
  for (const EmbeddingResult& r : too_large) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error->code(), ErrorCode::kRequestTooLarge);
  }
  // Two slow downloads (/slow answers after a second) hold two of the three places; a group of
  // two waits for them.
  auto slow = embedder->embed_images_async(
      {ImageInput::url(server.url("/slow")), ImageInput::url(server.url("/slow"))});
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto waiting = embedder->embed_images_async({image, image});
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(pool.stats("tiny").queued, 2u);
  EXPECT_EQ(pool.stats("tiny").waiting, 2u);
  EXPECT_EQ(waiting.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  // A second waiting group of two does not fit the waiting line (another queue's worth, 3).
  const auto refused = embedder->embed_images({image, image});
  EXPECT_EQ(refused[0].error->code(), ErrorCode::kOverloaded);
  const Embedding expected = ClipModel::load(fixture_path("models/tiny"))->embed_image(image);
  slow.get();  // /slow answers text after a second: those two fail, and make room.
  for (const EmbeddingResult& r : waiting.get()) {
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.embedding, expected);
  }
  EXPECT_EQ(pool.stats("tiny").waiting, 0u);
}

// Cancelling a group that waits for room ends its inputs at once.
TEST(ModelPoolTest, AWaitingGroupCanBeCancelled) {
  testing::HttpTestServer server;
  PoolOptions options = small_pool();
  options.max_queued_inputs = 1;
  ModelPool pool(options);
  auto embedder = pool.embedder("tiny");
  pool.load("tiny");
  auto slow = embedder->embed_image_async(ImageInput::url(server.url("/slow")));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto cancellation = std::make_shared<Cancellation>();
  std::promise<ErrorCode> outcome;
  embedder->submit_image(
      fixture_path("images/square.jpg"), {},
      [&](Embedding*, const Error* error, const EmbedTiming&) {
        outcome.set_value(error != nullptr ? error->code() : ErrorCode::kInternal);
      },
      cancellation);
  EXPECT_EQ(pool.stats("tiny").waiting, 1u);
  cancellation->cancel();
  auto f = outcome.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(1)), std::future_status::ready);
  EXPECT_EQ(f.get(), ErrorCode::kCancelled);
  EXPECT_EQ(pool.stats("tiny").waiting, 0u);
  EXPECT_EQ(code_of([&] { slow.get(); }), ErrorCode::kImageDecode);  // /slow answers text.
}

TEST(ModelPoolTest, RequestsPastTheirDeadlineFail) {
  PoolOptions options = small_pool();
  options.request_deadline = std::chrono::milliseconds(1);
  options.maintenance_interval = std::chrono::milliseconds(1);
  ModelPool pool(options);
  auto embedder = pool.embedder("tiny");
  std::vector<std::future<Embedding>> pending;
  for (int i = 0; i < 50; ++i) {
    pending.push_back(embedder->embed_image_async(fixture_path("images/hd.jpg")));
  }
  int expired = 0;
  for (auto& f : pending) {
    try {
      f.get();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kDeadlineExceeded);
      ++expired;
    }
  }
  EXPECT_GT(expired, 0);
}

TEST(ModelPoolTest, IdleWorkersRetireAndIdleModelsUnload) {
  PoolOptions options = small_pool();
  // Long enough that a slow (sanitizer) build still sees both workers before one retires.
  options.idle_worker_timeout = std::chrono::milliseconds(500);
  options.idle_model_timeout = std::chrono::milliseconds(1500);
  options.maintenance_interval = std::chrono::milliseconds(5);
  ModelPool pool(options);
  auto embedder = pool.embedder("tiny");
  embedder->embed_image(fixture_path("images/square.jpg"));
  EXPECT_TRUE(pool.stats("tiny").loaded);
  EXPECT_EQ(pool.stats("tiny").workers, 2);
  const auto start = std::chrono::steady_clock::now();
  while (pool.stats("tiny").loaded &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(20)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(pool.stats("tiny").loaded);
  EXPECT_EQ(pool.stats("tiny").workers, 0);
  // The next request cold-starts it again.
  EXPECT_EQ(embedder->embed_image(fixture_path("images/square.jpg")).size(), 16u);
  EXPECT_EQ(pool.stats("tiny").loads, 2u);
}

TEST(ModelPoolTest, ShutdownWithAThousandQueuedRequestsCompletesEveryFuture) {
  PoolOptions options = small_pool();
  options.max_queued_inputs = 2000;
  ModelPool pool(options);
  auto embedder = pool.embedder("tiny");
  std::vector<std::future<Embedding>> pending;
  for (int i = 0; i < 1000; ++i) {
    pending.push_back(embedder->embed_image_async(fixture_path("images/hd.jpg")));
  }
  const auto start = std::chrono::steady_clock::now();
  pool.shutdown();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  int cancelled = 0;
  for (auto& f : pending) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
    try {
      f.get();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kCancelled);
      ++cancelled;
    }
  }
  EXPECT_GT(cancelled, 0);
  EXPECT_EQ(code_of([&] { embedder->embed_image(fixture_path("images/square.jpg")); }),
            ErrorCode::kCancelled);
}

TEST(ModelPoolTest, UrlInputsAreFetchedAndCheckedByContent) {
  testing::HttpTestServer server;
  ModelPool pool(small_pool());
  auto embedder = pool.embedder("tiny");
  const auto expected = embedder->embed_image(fixture_path("images/gray.png"));
  const auto v = embedder->embed_image(ImageInput::url(server.url("/image.png")));
  EXPECT_EQ(v, expected);
  EXPECT_EQ(code_of([&] { embedder->embed_image(ImageInput::url(server.url("/text"))); }),
            ErrorCode::kImageDecode);
  EXPECT_EQ(code_of([&] { embedder->embed_image(ImageInput::url(server.url("/missing"))); }),
            ErrorCode::kUrlStatus);
  EXPECT_EQ(code_of([&] { embedder->embed_image(ImageInput::url("gopher://127.0.0.1/x")); }),
            ErrorCode::kUrlInvalid);
}

TEST(ModelPoolTest, EmbeddersAndDownloadsMayOutliveThePool) {
  testing::HttpTestServer server;
  std::shared_ptr<Embedder> embedder;
  std::future<Embedding> download;
  {
    ModelPool pool(small_pool());
    embedder = pool.embedder("tiny");
    embedder->embed_image(fixture_path("images/gray.png"));  // Loaded.
    download = embedder->embed_image_async(ImageInput::url(server.url("/slow")));
  }  // The pool is gone while the download is still running (/slow answers after 1 s).
  EXPECT_EQ(code_of([&] { download.get(); }), ErrorCode::kCancelled);
  EXPECT_EQ(code_of([&] { embedder->embed_image(fixture_path("images/gray.png")); }),
            ErrorCode::kCancelled);
}

long resident_peak_kib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// 16 workers of the full-size ViT-B/32 share one copy of the weights: the process's peak resident
// memory stays within weights + 16 x one worker's activations (the pool's own estimate) above
// what it held before loading, with all 16 workers busy at once.
TEST(ModelPoolTest, SixteenWorkersHoldTheWeightsOnce) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "resident memory is meaningless under a sanitizer's shadow memory";
#endif
  const std::string dir = testing::full_size_model_directory("vit-b-32");
  ASSERT_FALSE(dir.empty()) << testing::kNoFullSizeModel;
  PoolOptions options;
  options.model_directories["b32"] = dir;
  options.max_workers_per_model = 16;
  options.max_batch_size = 2;
  options.max_queued_inputs = 1024;
  options.request_deadline = std::chrono::minutes(10);
  const long before_kib = resident_peak_kib();
  ModelPool pool(options);
  auto embedder = pool.embedder("b32");
  const std::string image = fixture_path("images/square.jpg");
  const std::vector<float> expected = embedder->embed_image(image);
  std::vector<std::future<Embedding>> futures;
  for (int i = 0; i < 96; ++i) futures.push_back(embedder->embed_image_async(image));
  int most_workers = 0;
  for (auto& f : futures) {
    most_workers = std::max(most_workers, pool.stats("b32").workers);
    EXPECT_EQ(f.get(), expected);
  }
  const long grown_kib = resident_peak_kib() - before_kib;
  const VisionConfig config = ClipModel::load(dir)->vision_config();
  const MemoryEstimate estimate = estimate_memory(config, options.max_batch_size);
  // Each worker keeps its activations between batches (its workspace), and every queued request
  // holds its crop until its batch runs; 16 MiB are left for the allocator's per-thread arenas
  // and decoding (a second copy of the weights would be 335 MiB).
  const double crops = 96.0 * 3 * config.image_size * config.image_size;
  const double bound_kib =
      (static_cast<double>(fs::file_size(dir + "/model.safetensors")) +
       16.0 * static_cast<double>(estimate.activation_bytes_per_worker) + crops + 16.0 * 1048576) /
      1024.0;
  std::printf(
      "16 workers (most seen at once: %d): peak grew %.1f MiB; weights %.1f MiB + 16 x %.1f "
      "MiB activations + %.1f MiB of queued crops + 16 MiB = %.1f MiB\n",
      most_workers, grown_kib / 1024.0, fs::file_size(dir + "/model.safetensors") / 1048576.0,
      estimate.activation_bytes_per_worker / 1048576.0, crops / 1048576.0, bound_kib / 1024.0);
  EXPECT_EQ(most_workers, 16);
  EXPECT_LT(static_cast<double>(grown_kib), bound_kib);
}

}  // namespace
}  // namespace clipembed
