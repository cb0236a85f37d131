#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "clipembed/model.h"
#include "clipembed/pool.h"
#include "clipembed/runtime.h"
#include "io/file.h"
#include "support/fixtures.h"
#include "support/http_test_server.h"

namespace clipembed {
namespace {

using testing::fixture_path;
namespace fs = std::filesystem;

int thread_count() {
  int n = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator("/proc/self/task")) ++n;
  return n;
}

std::string base64_of_file(const std::string& path) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto bytes = io::read_file(path);
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t group = bytes[i] << 16;
    if (i + 1 < bytes.size()) group |= bytes[i + 1] << 8;
    if (i + 2 < bytes.size()) group |= bytes[i + 2];
    out += kAlphabet[(group >> 18) & 63];
    out += kAlphabet[(group >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(group >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[group & 63] : '=';
  }
  return out;
}

ErrorCode code_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::kInternal;
}

PoolOptions small_pool() {
  PoolOptions options;
  options.model_directories["tiny"] = fixture_path("models/tiny");
  options.model_directories["tiny-p16"] = fixture_path("models/tiny-p16");
  options.model_directories["tiny-gelu"] = fixture_path("models/tiny-gelu");
  options.model_directories["tiny-clip"] = fixture_path("models/tiny-clip");
  // The URL tests serve images from 127.0.0.1, which the default guard refuses.
  options.input.url.allow_private_addresses = true;
  return options;
}

TEST(ModelPoolTest, EmbedsPathsBase64AndBatchesLikeTheModel) {
  ModelPool pool(small_pool());
  auto embedder = pool.embedder("tiny");
  auto model = ClipModel::load(fixture_path("models/tiny"));
  const std::string jpg = fixture_path("images/square.jpg"), png = fixture_path("images/gray.png");
  const auto expected_jpg = model->embed_image(jpg), expected_png = model->embed_image(png);
  EXPECT_EQ(embedder->dimension(), 16);
  EXPECT_EQ(embedder->embed_image(jpg), expected_jpg);
  const auto from_base64 =
      embedder->embed_image(ImageInput::base64("data:image/png;base64," + base64_of_file(png)));
  EXPECT_EQ(from_base64, expected_png);

  const auto results = embedder->embed_images({jpg, fixture_path("images/truncated.jpg"), png});
  ASSERT_EQ(results.size(), 3u);
  ASSERT_TRUE(results[0].ok());
  EXPECT_EQ(results[0].embedding, expected_jpg);
  ASSERT_FALSE(results[1].ok());
  EXPECT_EQ(results[1].error->code(), ErrorCode::kImageDecode);
  ASSERT_TRUE(results[2].ok());
  EXPECT_EQ(results[2].embedding, expected_png);
}

TEST(ModelPoolTest, Int8PrecisionReachesTheModel) {
  PoolOptions options = small_pool();
  options.precision = Precision::kInt8;
  ModelPool pool(options);
  auto model = ClipModel::load(fixture_path("models/tiny"),
                               LoadOptions{.input = {}, .precision = Precision::kInt8});
  const std::string jpg = fixture_path("images/square.jpg");
  EXPECT_EQ(pool.embedder("tiny")->embed_image(jpg), model->embed_image(jpg));
}

TEST(ModelPoolTest, BadInputsGetTypedErrorsAndDoNotOpenTheBreaker) {
  PoolOptions options = small_pool();
  options.breaker_threshold = 2;
  ModelPool pool(options);
  auto embedder = pool.embedder("tiny");
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(code_of([&] { embedder->embed_image(ImageInput::base64("not base64!")); }),
              ErrorCode::kInvalidBase64);
    EXPECT_EQ(code_of([&] { embedder->embed_image(fixture_path("images/not_an_image.jpg")); }),
              ErrorCode::kImageDecode);
    EXPECT_EQ(code_of([&] { embedder->embed_image("/nonexistent.png"); }), ErrorCode::kIo);
  }
  EXPECT_EQ(embedder->embed_image(fixture_path("images/square.jpg")).size(), 16u);
}

// 200 runtime tasks each make a blocking call: the waits help the runtime instead of blocking it.
TEST(ModelPoolTest, BlockingCallsFromRuntimeTasksComplete) {
  PoolOptions options = small_pool();
  options.request_deadline = std::chrono::minutes(10);  // Sanitizer builds run this slowly.
  ModelPool pool(options);
  auto embedder = pool.embedder("tiny");
  const std::string path = fixture_path("images/palette.png");
  const auto expected = ClipModel::load(fixture_path("models/tiny"))->embed_image(path);
  std::vector<std::future<std::vector<float>>> tasks;
  for (int i = 0; i < 200; ++i) {
    tasks.push_back(shared_runtime().submit([&] { return embedder->embed_image(path); }));
  }
  for (auto& task : tasks) ASSERT_EQ(task.get(), expected);
  EXPECT_LT(pool.stats("tiny").batches, 200u) << "requests were not coalesced";
}

TEST(ModelPoolTest, ThreadCountDoesNotDependOnWorkersOrModels) {
  shared_runtime();  // Started once per process, whatever the pool does.
  struct Observed {
    int threads;
    int workers;  // Most workers seen on one model.
  };
  auto run = [](int max_workers, const std::vector<std::string>& keys) {
    PoolOptions options = small_pool();
    options.max_workers_per_model = max_workers;
    options.max_batch_size = 1;  // Many batches in flight: workers scale up to the maximum.
    ModelPool pool(options);
    std::vector<std::future<Embedding>> pending;
    for (const std::string& key : keys) {
      auto embedder = pool.embedder(key);
      for (int i = 0; i < 48; ++i) {
        pending.push_back(embedder->embed_image_async(fixture_path("images/square.jpg")));
      }
    }
    Observed seen{0, 0};
    for (auto& f : pending) {
      f.get();
      seen.threads = std::max(seen.threads, thread_count());
      for (const std::string& key : keys)
        seen.workers = std::max(seen.workers, pool.stats(key).workers);
    }
    return seen;
  };
  const Observed one_worker = run(1, {"tiny"});
  EXPECT_EQ(one_worker.workers, 1);
  const Observed many_workers = run(16, {"tiny"});
  EXPECT_GT(many_workers.workers, 2) << "workers did not scale up";
  EXPECT_EQ(many_workers.threads, one_worker.threads);
  EXPECT_EQ(run(16, {"tiny", "tiny-p16", "tiny-gelu"}).threads, one_worker.threads);
}

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
  options.max_queued_requests = 4;
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

// Texts are queued, batched (apart from images) and embedded like images, with the same vectors
// as the model's; a model without a usable text side says why.
TEST(ModelPoolTest, TextsAndImagesShareTheQueueAndGiveTheModelsVectors) {
  ModelPool pool(small_pool());
  auto embedder = pool.embedder("tiny-clip");
  auto model = ClipModel::load(fixture_path("models/tiny-clip"));
  const std::vector<std::string> texts = {"a photo of a cat", "", "a diagram", "bad \xff text"};
  std::vector<std::future<Embedding>> text_futures, image_futures;
  for (int round = 0; round < 5; ++round) {
    for (const std::string& t : texts) text_futures.push_back(embedder->embed_text_async(t));
    image_futures.push_back(embedder->embed_image_async(fixture_path("images/square.jpg")));
  }
  const Embedding square = model->embed_image(fixture_path("images/square.jpg"));
  for (size_t i = 0; i < text_futures.size(); ++i) {
    const std::string& t = texts[i % texts.size()];
    if (t == "bad \xff text") {
      EXPECT_EQ(code_of([&] { text_futures[i].get(); }), ErrorCode::kInvalidText);
    } else {
      EXPECT_EQ(text_futures[i].get(), model->embed_text(t)) << t;
    }
  }
  for (auto& f : image_futures) EXPECT_EQ(f.get(), square);
  EXPECT_EQ(pool.stats("tiny-clip").texts, 15u);
  const auto normalized = embedder->embed_text("a photo of a cat", {.normalize = true});
  EXPECT_EQ(normalized, model->embed_text("a photo of a cat", {.normalize = true}));
  const auto results = embedder->embed_texts({"a cat", "\xc3"});
  EXPECT_TRUE(results[0].ok());
  EXPECT_FALSE(results[1].ok());
  // A CLIPModel checkpoint without tokenizer files.
  EXPECT_EQ(code_of([&] { pool.embedder("tiny")->embed_text("a cat"); }), ErrorCode::kModelInvalid);
}

// A model missing from the hub cache fails with locate_model()'s own message, which says how to
// download it; the pool does not swallow it into a generic "not found".
TEST(ModelPoolTest, AMissingModelSaysHowToDownloadIt) {
  setenv("HF_HUB_CACHE", testing::temp_path("clipembed_empty_hub").c_str(), 1);
  ModelPool pool(small_pool());
  auto embedder = pool.embedder("no-such-org/no-such-model");
  for (const auto& attempt : std::vector<std::function<void()>>{
           [&] { embedder->embed_image(fixture_path("images/square.jpg")); },
           [&] { pool.load("no-such-org/no-such-model"); }, [&] { embedder->dimension(); }}) {
    try {
      attempt();
      ADD_FAILURE() << "a missing model loaded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kModelInvalid);
      EXPECT_NE(std::string(e.what()).find("clipembed download no-such-org/no-such-model"),
                std::string::npos)
          << e.what();
    }
  }
  unsetenv("HF_HUB_CACHE");
}

// dimension() reads the config, never the weights.
TEST(ModelPoolTest, DimensionComesFromTheConfigWithoutLoading) {
  ModelPool pool(small_pool());
  EXPECT_EQ(pool.embedder("tiny-p16")->dimension(), 24);
  EXPECT_FALSE(pool.stats("tiny-p16").loaded);
  EXPECT_EQ(pool.stats("tiny-p16").loads, 0u);
}

// The memory reserved for an int8 model counts its codes, not float32 weights.
TEST(ModelPoolTest, Int8EstimateCountsTheBytesItHolds) {
  const VisionConfig vit_b_32;  // CLIPVisionConfig's defaults are ViT-B/32.
  const MemoryEstimate f32 = estimate_memory(vit_b_32, 8, Precision::kF32);
  const MemoryEstimate int8 = estimate_memory(vit_b_32, 8, Precision::kInt8);
  EXPECT_LT(static_cast<double>(int8.weight_bytes), 0.35 * static_cast<double>(f32.weight_bytes));
  EXPECT_GT(int8.weight_bytes, 85'000'000u);  // At least one byte per encoder weight.
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
  options.max_queued_requests = 2000;
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

// 8 threads x 100 mixed requests: each good input gets the vector a sequential call gives, each
// bad one its error code, and the good ones keep succeeding around the bad ones.
TEST(ModelPoolTest, ConcurrentMixedRequestsMatchSequentialResults) {
  testing::HttpTestServer server;
  PoolOptions options = small_pool();
  options.request_deadline = std::chrono::minutes(10);  // Sanitizer builds run this slowly.
  ModelPool pool(options);
  auto embedder = pool.embedder("tiny");
  const std::string jpg = fixture_path("images/square.jpg");
  const std::string png = fixture_path("images/gray.png");
  const std::string png64 = "data:image/png;base64," + base64_of_file(png);
  const auto want_jpg = embedder->embed_image(jpg), want_png = embedder->embed_image(png);
  std::atomic<int> good{0}, bad{0}, wrong{0};
  auto check = [&](const Embedding& v, const Embedding& want) {
    if (v == want) {  // Identical, whatever batch the request landed in.
      ++good;
    } else {
      ++wrong;
    }
  };
  auto expect_error = [&](const std::function<void()>& fn, ErrorCode code) {
    if (code_of(fn) == code) {
      ++bad;
    } else {
      ++wrong;
    }
  };
  std::vector<std::thread> callers;
  for (int t = 0; t < 8; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        switch ((t + i) % 6) {
          case 0:
            check(embedder->embed_image(jpg), want_jpg);
            break;
          case 1:
            check(embedder->embed_image(ImageInput::base64(png64)), want_png);
            break;
          case 2:
            check(embedder->embed_image(ImageInput::url(server.url("/image.png"))), want_png);
            break;
          case 3: {
            const auto r = embedder->embed_images({png, "/nonexistent.jpg", jpg});
            check(r[0].embedding, want_png);
            check(r[2].embedding, want_jpg);
            expect_error([&] { throw *r[1].error; }, ErrorCode::kIo);
            break;
          }
          case 4:
            expect_error([&] { embedder->embed_image(ImageInput::base64("%%%")); },
                         ErrorCode::kInvalidBase64);
            break;
          default:
            expect_error([&] { embedder->embed_image(fixture_path("images/truncated.jpg")); },
                         ErrorCode::kImageDecode);
            break;
        }
      }
    });
  }
  for (auto& c : callers) c.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(good.load(), 400);
  EXPECT_GT(bad.load(), 200);
}

TEST(ModelPoolTest, KnownModelEstimatesComeFromTheirConfigs) {
  const auto models = known_models();
  ASSERT_EQ(models.size(), 4u);
  EXPECT_EQ(models[0].key, "openai/clip-vit-base-patch32");
  // ViT-B/32's vision tower holds about 88M parameters: about 350 MB in fp32.
  EXPECT_NEAR(models[0].estimate.weight_bytes / 1e6, 351, 5);
  EXPECT_NEAR(models[3].estimate.weight_bytes / 1e9, 1.22, 0.02);
  EXPECT_EQ(supported_dimensions(), (std::vector<int>{512, 768}));
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
  options.max_queued_requests = 1024;
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
