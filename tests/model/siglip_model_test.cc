// SigLIP and SigLIP 2 (SiglipModel) against transformers 4.40.2: the resized images byte for
// byte, get_image_features and get_text_features within the fixtures' bounds, and the
// sigmoid zero-shot scores of logits_per_image.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "clipembed/error.h"
#include "clipembed/model.h"
#include "clipembed/preprocess.h"
#include "support/fixtures.h"
#include "support/npy.h"

namespace clipembed {
namespace {

using testing::fixture_path;

struct Case {
  const char* name;     // tiny-siglip, tiny-siglip2
  const char* resized;  // The reference's resized images.
  int size;
};

const Case kCases[] = {{"tiny-siglip", "siglip/resized_u8_224_resample3.npy", 224},
                       {"tiny-siglip2", "siglip/resized_u8_64_resample2.npy", 64}};

std::string model_dir(const Case& c) {
  return fixture_path(std::string("siglip/models/") + c.name);
}

TEST(SiglipModelTest, ConfigNamesTheFamilyAndItsRules) {
  for (const Case& c : kCases) {
    const ModelConfig config = ModelConfig::read(model_dir(c));
    EXPECT_EQ(config.family, ModelFamily::kSiglip) << c.name;
    EXPECT_EQ(config.vision->hidden_act, HiddenAct::kGeluTanh);
    EXPECT_FLOAT_EQ(config.vision->layer_norm_eps, 1e-6f);
    EXPECT_EQ(config.vision->num_positions(),
              (c.size / config.vision->patch_size) * (c.size / config.vision->patch_size));
    EXPECT_EQ(config.text->max_position_embeddings, 64);
    EXPECT_EQ(config.dimension(), 32);
    EXPECT_FALSE(config.preprocess->do_center_crop);
    auto model = ClipModel::load(config);
    const ModelCapabilities caps = model->capabilities();
    EXPECT_EQ(caps.family, "siglip");
    EXPECT_EQ(caps.zero_shot, ZeroShotRule::kSigmoid);
    EXPECT_NEAR(caps.logit_scale, 10.0f, 1e-5);
    EXPECT_NEAR(caps.logit_bias, -10.0f, 1e-6);
  }
}

TEST(SiglipModelTest, ResizedImagesAreByteExact) {
  for (const Case& c : kCases) {
    const PreprocessConfig pre =
        PreprocessConfig::parse_file(model_dir(c) + "/preprocessor_config.json");
    const auto expected = testing::read_npy(fixture_path(c.resized));
    const std::vector<Image> images = testing::valid_images();
    ASSERT_EQ(expected.shape[0], static_cast<int64_t>(images.size()));
    const size_t bytes = size_t{3} * c.size * c.size;
    for (size_t i = 0; i < images.size(); ++i) {
      const Image resized = resize_and_crop(images[i], pre);
      ASSERT_EQ(resized.width, c.size);
      ASSERT_EQ(resized.height, c.size);
      EXPECT_EQ(0, std::memcmp(resized.rgb.data(), expected.as<uint8_t>() + i * bytes, bytes))
          << c.name << " image " << i;
    }
  }
}

void expect_image_embeddings(const Case& c, Precision precision, double min_cosine) {
  auto model = ClipModel::load(model_dir(c), {.input = {}, .precision = precision});
  const auto expected =
      testing::read_npy(fixture_path(std::string("siglip/image_embeds_") + c.name + ".npy"));
  const std::vector<Embedding> batched = model->embed_images(testing::valid_inputs());
  const int dim = model->dimension();
  for (size_t i = 0; i < batched.size(); ++i) {
    const float* want = expected.as<float>() + i * dim;
    if (precision == Precision::kF32) {
      EXPECT_TRUE(testing::embeddings_match(batched[i].data(), want, dim)) << c.name << " " << i;
    }
    EXPECT_GE(testing::cosine(batched[i].data(), want, dim), min_cosine) << c.name << " " << i;
    EXPECT_EQ(model->embed_image(testing::valid_inputs()[i]), batched[i]) << "batch invariance";
  }
}

void expect_text_embeddings(const Case& c, Precision precision, double min_cosine) {
  auto model = ClipModel::load(model_dir(c), {.input = {}, .precision = precision});
  const auto expected =
      testing::read_npy(fixture_path(std::string("siglip/text_embeds_") + c.name + ".npy"));
  const std::vector<std::string> texts = testing::siglip_reference_strings();
  ASSERT_EQ(expected.shape[0], static_cast<int64_t>(texts.size()));
  const std::vector<Embedding> batched = model->embed_texts(texts);
  const int dim = model->dimension();
  for (size_t i = 0; i < texts.size(); ++i) {
    const float* want = expected.as<float>() + i * dim;
    if (precision == Precision::kF32) {
      EXPECT_TRUE(testing::embeddings_match(batched[i].data(), want, dim)) << c.name << " " << i;
    }
    EXPECT_GE(testing::cosine(batched[i].data(), want, dim), min_cosine) << c.name << " " << i;
    EXPECT_EQ(model->embed_text(texts[i]), batched[i]) << "batch invariance";
  }
}

TEST(SiglipModelTest, ImageEmbeddingsMatchTransformers) {
  for (const Case& c : kCases) expect_image_embeddings(c, Precision::kF32, 0.99999);
}

TEST(SiglipModelTest, TextEmbeddingsMatchTransformers) {
  for (const Case& c : kCases) expect_text_embeddings(c, Precision::kF32, 0.99999);
}

TEST(SiglipModelTest, Int8StaysCloseToTheReference) {
  for (const Case& c : kCases) {
    expect_image_embeddings(c, Precision::kInt8, 0.99);
    expect_text_embeddings(c, Precision::kInt8, 0.99);
  }
}

// The zero-shot scores are sigmoid(logits_per_image), one per label, not a softmax.
TEST(SiglipModelTest, ZeroShotScoresAreTheSigmoidOfTransformersLogits) {
  const std::vector<std::string> texts = testing::siglip_reference_strings();
  const std::vector<std::string> labels(texts.begin(), texts.begin() + 5);
  for (const Case& c : kCases) {
    auto model = ClipModel::load(model_dir(c));
    const auto logits =
        testing::read_npy(fixture_path(std::string("siglip/logits_per_image_") + c.name + ".npy"));
    const std::vector<Embedding> label_vectors = model->embed_texts(labels);
    const std::vector<Embedding> images = model->embed_images(testing::valid_inputs());
    for (size_t i = 0; i < images.size(); ++i) {
      const std::vector<float> scores = model->label_probabilities(images[i], label_vectors);
      for (size_t j = 0; j < 5; ++j) {
        const double want = 1.0 / (1.0 + std::exp(-double{logits.as<float>()[i * 5 + j]}));
        EXPECT_NEAR(scores[j], want, 1e-5) << c.name << " image " << i << " label " << j;
      }
    }
  }
}

TEST(SiglipModelTest, TowersOfDifferentWidthsAreRefusedWithTheReason) {
  const std::string dir = testing::temp_path("siglip-widths");
  std::filesystem::create_directories(dir);
  std::filesystem::copy(
      model_dir(kCases[0]), dir,
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing);
  std::ifstream in(dir + "/config.json");
  nlohmann::json config = nlohmann::json::parse(in);
  in.close();
  config["text_config"]["hidden_size"] = 64;
  std::filesystem::remove(dir + "/config.json");
  std::ofstream(dir + "/config.json") << config.dump();
  try {
    ModelConfig::read(dir);
    FAIL() << "towers of different widths accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("hidden_size"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace clipembed
