#include "cli/embed_pipeline.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "support/fixtures.h"

namespace clipembed::cli {
namespace {

using testing::fixture_path;

struct Collected {
  std::vector<std::string> inputs;
  std::vector<std::vector<float>> vectors;  // Empty for failures.
  std::vector<ErrorCode> codes;
  int batches = 0;
};

Collected run(const ClipModel& model, const std::vector<std::string>& inputs, size_t batch_size) {
  Collected c;
  size_t i = 0;
  auto next = [&]() -> std::optional<std::string> {
    if (i == inputs.size()) return std::nullopt;
    return inputs[i++];
  };
  auto emit = [&](const PipelineResult& r) {
    c.inputs.push_back(r.input);
    c.vectors.emplace_back();
    if (r.embedding != nullptr) {
      c.vectors.back().assign(r.embedding, r.embedding + model.dimension());
    }
    c.codes.push_back(r.code);
  };
  run_pipeline(model, next, {.batch_size = batch_size, .normalize = false}, emit,
               [&] { ++c.batches; });
  return c;
}

std::vector<std::string> mixed_inputs() {
  std::vector<std::string> inputs;
  for (const char* name : {"square.jpg", "truncated.jpg", "wide.png", "lossy.webp", "plain.bmp",
                           "not_an_image.jpg", "gray.png"}) {
    inputs.push_back(fixture_path(std::string("images/") + name));
  }
  inputs.push_back(fixture_path("images/does-not-exist.png"));
  return inputs;
}

TEST(EmbedPipelineTest, ResultsComeInInputOrderAndEqualSingleImageVectors) {
  auto model = ClipModel::load(fixture_path("models/tiny"));
  const std::vector<std::string> inputs = mixed_inputs();
  for (size_t batch : {1, 3, 16}) {
    const Collected c = run(*model, inputs, batch);
    ASSERT_EQ(c.inputs, inputs) << "batch " << batch;
    EXPECT_EQ(c.batches, static_cast<int>((inputs.size() + batch - 1) / batch));
    for (size_t k = 0; k < inputs.size(); ++k) {
      try {
        EXPECT_EQ(c.vectors[k], model->embed_image(inputs[k])) << inputs[k] << " batch " << batch;
      } catch (const Error& e) {
        EXPECT_TRUE(c.vectors[k].empty()) << inputs[k];
        EXPECT_EQ(c.codes[k], e.code()) << inputs[k];
      }
    }
  }
}

TEST(EmbedPipelineTest, NoInputsMeansNoBatches) {
  auto model = ClipModel::load(fixture_path("models/tiny"));
  EXPECT_EQ(run(*model, {}, 4).batches, 0);
}

TEST(EmbedPipelineTest, AnExceptionFromTheCallerUnwindsWhileTheNextBatchIsDecoding) {
  auto model = ClipModel::load(fixture_path("models/tiny"));
  std::vector<std::string> inputs;
  for (int k = 0; k < 12; ++k) inputs.push_back(fixture_path("images/hd.jpg"));
  size_t i = 0;
  auto next = [&]() -> std::optional<std::string> {
    if (i == inputs.size()) return std::nullopt;
    return inputs[i++];
  };
  // The first result throws while the second batch's decode tasks are queued or running; they
  // must finish before their slots are freed (ASan would catch a use after free).
  auto emit = [](const PipelineResult&) { throw std::runtime_error("disk full"); };
  EXPECT_THROW(run_pipeline(*model, next, {.batch_size = 4, .normalize = false}, emit, [] {}),
               std::runtime_error);
}

}  // namespace
}  // namespace clipembed::cli
