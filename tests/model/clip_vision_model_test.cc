#include <gtest/gtest.h>

#include <cmath>

#include "clipembed/error.h"
#include "clipembed/model.h"
#include "support/fixtures.h"
#include "support/npy.h"

namespace clipembed {
namespace {

using testing::fixture_path;

// Embeds every valid fixture image with `model_dir` and compares with the reference.
void expect_reference_embeddings(const std::string& model_dir, const std::string& npy) {
  auto model = ClipVisionModel::load(model_dir);
  const auto expected = testing::read_npy(npy);
  const auto names = testing::valid_image_names();
  ASSERT_EQ(expected.shape[0], static_cast<int64_t>(names.size()));
  ASSERT_EQ(expected.shape[1], model->dimension());
  const auto vectors = model->embed_images(testing::valid_inputs());
  ASSERT_EQ(vectors.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_TRUE(testing::embeddings_match(
        vectors[i].data(), expected.as<float>() + i * model->dimension(), model->dimension()))
        << names[i];
  }
}

class ReferenceEmbeddingTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ReferenceEmbeddingTest, MatchesTransformers) {
  expect_reference_embeddings(fixture_path("models/" + GetParam()),
                              fixture_path("embeds_" + GetParam() + ".npy"));
}

INSTANTIATE_TEST_SUITE_P(TinyModels, ReferenceEmbeddingTest,
                         ::testing::Values("tiny", "tiny-gelu", "tiny-p16", "tiny-336", "tiny-f16"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) c = c == '-' ? '_' : c;
                           return name;
                         });

// The full-size ViT-B/32 (see testing::full_size_model_directory).
TEST(FullSizeModelTest, VitB32MatchesTransformers) {
  const std::string dir = testing::full_size_model_directory("vit-b-32");
  ASSERT_FALSE(dir.empty()) << testing::kNoFullSizeModel;
  expect_reference_embeddings(dir, fixture_path("embeds_vit-b-32.npy"));
}

TEST(ClipVisionModelTest, BatchEqualsOneAtATime) {
  auto model = ClipVisionModel::load(fixture_path("models/tiny-p16"));
  std::vector<ImageInput> images;
  for (const char* name : {"square.jpg", "wide.png", "palette.png"}) {
    images.push_back(read_image_file(fixture_path(std::string("images/") + name)));
  }
  // Batch-invariant mode (the default): bit-identical. Shared products: equal within float32
  // rounding.
  const EmbedOptions invariant{.normalize = false, .batch_invariant = true};
  const auto exact = model->embed_images(images);
  const auto fast = model->embed_images(images, {.normalize = false, .batch_invariant = false});
  for (size_t i = 0; i < images.size(); ++i) {
    const auto single = model->embed_image(images[i]);
    EXPECT_EQ(model->embed_image(images[i], invariant), exact[i]);
    EXPECT_TRUE(
        testing::embeddings_match(fast[i].data(), single.data(), static_cast<int>(single.size())));
  }
}

TEST(ClipVisionModelTest, NormalizeGivesUnitVectors) {
  auto model = ClipVisionModel::load(fixture_path("models/tiny"));
  const auto v = model->embed_image(fixture_path("images/square.jpg"), {.normalize = true});
  double norm = 0;
  for (float x : v) norm += x * x;
  EXPECT_NEAR(norm, 1.0, 1e-5);
  EXPECT_EQ(model->dimension(), 16);
}

ErrorCode load_error(const std::string& dir) {
  try {
    ClipVisionModel::load(dir);
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::kInternal;
}

TEST(ClipVisionModelTest, WrongDirectoriesGiveModelInvalid) {
  EXPECT_EQ(load_error(fixture_path("no_such_model")), ErrorCode::kModelInvalid);
  EXPECT_EQ(load_error(fixture_path("images")), ErrorCode::kModelInvalid);
  // A directory with a config but no weights.
  EXPECT_EQ(load_error(fixture_path("configs/defaults-omitted")), ErrorCode::kModelInvalid);
}

TEST(ClipVisionModelTest, BadImageBytesGiveTypedError) {
  auto model = ClipVisionModel::load(fixture_path("models/tiny"));
  const std::vector<uint8_t> junk = {'h', 'e', 'l', 'l', 'o'};
  try {
    model->embed_image(ImageInput::bytes(junk));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kImageDecode);
  }
}

// Vectors saved from main before the one-path refactor (tests/fixtures/regression, written by the
// library at commit 6a3e060 on this project's machine): every mode must stay bit-identical, so a
// refactor of the encoder, the batch path or the loaders cannot change a user's index.
void expect_saved_outputs(const std::string& name, const std::string& dir) {
  const std::vector<ImageInput> images = testing::valid_inputs();
  struct Mode {
    const char* file;
    Precision precision;
    bool invariant;
  };
  for (const Mode& mode :
       {Mode{"fp32_fast", Precision::kF32, false}, Mode{"fp32_inv", Precision::kF32, true},
        Mode{"int8", Precision::kInt8, true}}) {
    auto model = ClipVisionModel::load(dir, {.input = {}, .precision = mode.precision});
    const auto saved =
        testing::read_npy(fixture_path("regression/" + name + "_" + mode.file + ".npy"));
    const auto vectors =
        model->embed_images(images, {.normalize = false, .batch_invariant = mode.invariant});
    ASSERT_EQ(saved.shape[0], static_cast<int64_t>(vectors.size()));
    const int dim = model->dimension();
    for (size_t i = 0; i < vectors.size(); ++i) {
      EXPECT_EQ(vectors[i],
                std::vector<float>(saved.as<float>() + i * dim, saved.as<float>() + (i + 1) * dim))
          << name << " " << mode.file << " image " << i;
    }
  }
}

class SavedOutputsTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SavedOutputsTest, BitIdenticalToMainBeforeTheRefactor) {
  expect_saved_outputs(GetParam(), fixture_path("models/" + GetParam()));
}

INSTANTIATE_TEST_SUITE_P(TinyModels, SavedOutputsTest,
                         ::testing::Values("tiny", "tiny-gelu", "tiny-p16", "tiny-336", "tiny-f16",
                                           "tiny-clip"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) c = c == '-' ? '_' : c;
                           return name;
                         });

TEST(SavedOutputsFullSizeTest, VitB32BitIdenticalToMainBeforeTheRefactor) {
  const std::string dir = testing::full_size_model_directory("vit-b-32");
  ASSERT_FALSE(dir.empty()) << testing::kNoFullSizeModel;
  expect_saved_outputs("vit-b-32", dir);
}

}  // namespace
}  // namespace clipembed
