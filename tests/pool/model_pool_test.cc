// The model pool: embedding through it, texts beside images, what it reads from configs, and
// concurrent mixed requests.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
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
using testing::thread_count;

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

}  // namespace
}  // namespace clipembed
