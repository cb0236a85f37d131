// The text half of ClipModel against transformers' get_text_features and zero-shot logits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "clipembed/error.h"
#include "clipembed/model.h"
#include "support/fixtures.h"
#include "support/npy.h"

namespace clipembed {
namespace {

using testing::fixture_path;

std::vector<std::string> shared_strings() {
  std::ifstream in(fixture_path("text/strings.json"));
  const nlohmann::json root = nlohmann::json::parse(in);
  std::vector<std::string> texts;
  for (const auto& s : root["strings"]) texts.push_back(s["text"]);
  return texts;
}

// Every shared string, embedded in one call (batched) and alone, against the reference rows.
void expect_reference_text_embeddings(const std::string& dir, const std::string& npy,
                                      Precision precision, double min_cosine) {
  auto model = ClipModel::load(dir, {.input = {}, .precision = precision});
  ASSERT_TRUE(model->has_text());
  const auto expected = testing::read_npy(npy);
  const std::vector<std::string> texts = shared_strings();
  ASSERT_EQ(expected.shape[0], static_cast<int64_t>(texts.size()));
  const int dim = model->dimension();
  ASSERT_EQ(expected.shape[1], dim);
  const std::vector<Embedding> batched = model->embed_texts(texts);
  double lowest = 1;
  for (size_t i = 0; i < texts.size(); ++i) {
    const float* want = expected.as<float>() + i * dim;
    if (precision == Precision::kF32) {
      EXPECT_TRUE(testing::embeddings_match(batched[i].data(), want, dim)) << "text " << i;
    }
    const double c = testing::cosine(batched[i].data(), want, dim);
    EXPECT_GE(c, min_cosine) << "text " << i;
    lowest = std::min(lowest, c);
    // A text's vector does not depend on its batch.
    EXPECT_EQ(model->embed_text(texts[i]), batched[i]) << "text " << i;
  }
  std::printf("%s %s: lowest cosine to transformers over %zu texts %.7f\n", dir.c_str(),
              precision_name(precision), texts.size(), lowest);
}

TEST(ClipModelTextTest, TinyClipMatchesTransformers) {
  expect_reference_text_embeddings(fixture_path("models/tiny-clip"),
                                   fixture_path("text/embeds_text_tiny-clip.npy"), Precision::kF32,
                                   0.99999);
}

TEST(ClipModelTextTest, TinyClipInt8CosineAtLeast0999) {
  expect_reference_text_embeddings(fixture_path("models/tiny-clip"),
                                   fixture_path("text/embeds_text_tiny-clip.npy"), Precision::kInt8,
                                   0.999);
}

TEST(ClipModelTextFullSizeTest, VitB32ClipMatchesTransformers) {
  const std::string dir = testing::full_size_model_directory("vit-b-32-clip");
  ASSERT_FALSE(dir.empty()) << testing::kNoFullSizeModel;
  expect_reference_text_embeddings(dir, fixture_path("text/embeds_text_vit-b-32-clip.npy"),
                                   Precision::kF32, 0.99999);
}

TEST(ClipModelTextFullSizeTest, VitB32ClipInt8CosineAtLeast0999) {
  const std::string dir = testing::full_size_model_directory("vit-b-32-clip");
  ASSERT_FALSE(dir.empty()) << testing::kNoFullSizeModel;
  expect_reference_text_embeddings(dir, fixture_path("text/embeds_text_vit-b-32-clip.npy"),
                                   Precision::kInt8, 0.999);
}

// The image tower of the CLIPModel matches get_image_features, and the zero-shot scores are the
// softmax of transformers' logits_per_image.
TEST(ClipModelTextTest, ZeroShotScoresAreTheSoftmaxOfTransformersLogits) {
  auto model = ClipModel::load(fixture_path("models/tiny-clip"));
  EXPECT_NEAR(model->logit_scale(), 100.0f, 1e-3);
  const auto logits = testing::read_npy(fixture_path("text/logits_tiny-clip.npy"));
  const auto image_refs = testing::read_npy(fixture_path("text/embeds_image_tiny-clip.npy"));
  const std::vector<std::string> texts = shared_strings();
  const std::vector<std::string> labels(texts.begin(), texts.begin() + 5);
  const std::vector<Embedding> label_vectors = model->embed_texts(labels);
  const std::vector<Embedding> images = model->embed_images(testing::valid_inputs());
  const int dim = model->dimension();
  for (size_t i = 0; i < images.size(); ++i) {
    EXPECT_TRUE(testing::embeddings_match(images[i].data(), image_refs.as<float>() + i * dim, dim));
    const std::vector<float> scores = model->label_probabilities(images[i], label_vectors);
    const float* row = logits.as<float>() + i * 5;
    const float max = *std::max_element(row, row + 5);
    double sum = 0;
    for (int j = 0; j < 5; ++j) sum += std::exp(double{row[j]} - max);
    for (int j = 0; j < 5; ++j) {
      EXPECT_NEAR(scores[j], std::exp(double{row[j]} - max) / sum, 1e-5) << i << " " << j;
    }
  }
}

TEST(ClipModelTextTest, ModelsWithoutATextSideSaySo) {
  auto code_of = [](const std::function<void()>& fn) {
    try {
      fn();
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::kInternal;
  };
  // A CLIPModel checkpoint without tokenizer files: its text tower cannot be used.
  auto no_tokenizer = ClipModel::load(fixture_path("models/tiny"));
  EXPECT_TRUE(no_tokenizer->has_vision());
  EXPECT_FALSE(no_tokenizer->has_text());
  EXPECT_EQ(code_of([&] { no_tokenizer->embed_text("a cat"); }), ErrorCode::kModelInvalid);
  try {
    no_tokenizer->tokenize("a cat");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.json, or vocab.json and merges.txt"),
              std::string::npos);
  }
  // Loaded without its text tower on purpose.
  auto images_only =
      ClipModel::load(fixture_path("models/tiny-clip"),
                      {.input = {}, .precision = Precision::kF32, .vision = true, .text = false});
  EXPECT_FALSE(images_only->has_text());
  EXPECT_EQ(code_of([&] { images_only->embed_text("a cat"); }), ErrorCode::kInvalidArgument);
  auto texts_only =
      ClipModel::load(fixture_path("models/tiny-clip"),
                      {.input = {}, .precision = Precision::kF32, .vision = false, .text = true});
  EXPECT_EQ(code_of([&] { texts_only->embed_image(fixture_path("images/square.jpg")); }),
            ErrorCode::kUnsupportedModality);
  EXPECT_EQ(texts_only->embed_text("a cat"),
            ClipModel::load(fixture_path("models/tiny-clip"))->embed_text("a cat"));
}

TEST(ClipModelTextTest, EmptyInvalidAndHugeTexts) {
  auto model = ClipModel::load(fixture_path("models/tiny-clip"));
  EXPECT_EQ(model->tokenize(""), (std::vector<int32_t>{49406, 49407}));
  EXPECT_EQ(model->embed_text("").size(), 16u);
  try {
    model->embed_text("bad \xff utf-8");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidText);
  }
  std::string huge;
  while (huge.size() < (1u << 20)) huge += "a photo of a cat ";
  std::string prefix;
  for (int i = 0; i < 19; ++i) prefix += "a photo of a cat ";  // 95 tokens: past 75.
  EXPECT_EQ(model->embed_text(huge), model->embed_text(prefix));
}

}  // namespace
}  // namespace clipembed
