#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "clipembed/error.h"
#include "clipembed/model.h"
#include "clipembed/version.h"
#include "support/fixtures.h"
#include "support/npy.h"

namespace clipembed {
namespace {

using testing::fixture_path;

// Embeds every valid fixture image with `model_dir` and compares with the reference.
void expect_reference_embeddings(const std::string& model_dir, const std::string& npy) {
  auto model = ClipModel::load(model_dir);
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

// An image's vector is the same bit for bit alone and at any place in batches of 2 to 16 (the
// kernels fix the order of every sum).
void expect_batch_invariant(const std::string& dir, Precision precision,
                            std::initializer_list<size_t> batch_sizes) {
  auto model = ClipModel::load(dir, {.input = {}, .precision = precision});
  std::vector<Image> crops;
  for (const Image& image : testing::valid_images()) crops.push_back(model->preprocess(image));
  const auto dim = static_cast<size_t>(model->dimension());
  std::vector<Embedding> alone;
  for (const Image& crop : crops) {
    const Image* one[] = {&crop};
    Embedding v(dim);
    model->embed_crops(one, v.data());
    alone.push_back(v);
  }
  Workspace workspace;
  for (size_t size : batch_sizes) {
    std::vector<const Image*> batch;
    for (size_t i = 0; i < size; ++i) batch.push_back(&crops[(i * 7 + size) % crops.size()]);
    std::vector<float> out(size * dim);
    model->embed_crops(batch, out.data(), {}, &workspace);
    for (size_t i = 0; i < size; ++i) {
      const size_t which = (i * 7 + size) % crops.size();
      ASSERT_EQ(std::vector<float>(out.begin() + i * dim, out.begin() + (i + 1) * dim),
                alone[which])
          << "image " << which << " at " << i << " of a batch of " << size;
    }
  }
}

TEST(ClipModelTest, AnImageIsTheSameAloneAndInBatchesOfTwoToSixteen) {
  for (const char* name : {"tiny", "tiny-p16", "tiny-336"}) {
    for (Precision precision : {Precision::kF32, Precision::kInt8, Precision::kBf16}) {
      expect_batch_invariant(fixture_path(std::string("models/") + name), precision,
                             {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
    }
  }
}

TEST(FullSizeModelTest, VitB32IsTheSameAloneAndInBatches) {
  const std::string dir = testing::full_size_model_directory("vit-b-32");
  ASSERT_FALSE(dir.empty()) << testing::kNoFullSizeModel;
  expect_batch_invariant(dir, Precision::kF32, {2, 16});
}

TEST(ClipModelTest, NormalizeGivesUnitVectors) {
  auto model = ClipModel::load(fixture_path("models/tiny"));
  const auto v = model->embed_image(fixture_path("images/square.jpg"), {.normalize = true});
  double norm = 0;
  for (float x : v) norm += x * x;
  EXPECT_NEAR(norm, 1.0, 1e-5);
  EXPECT_EQ(model->dimension(), 16);
}

ErrorCode load_error(const std::string& dir) {
  try {
    ClipModel::load(dir);
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::kInternal;
}

TEST(ClipModelTest, WrongDirectoriesGiveModelInvalid) {
  EXPECT_EQ(load_error(fixture_path("no_such_model")), ErrorCode::kModelInvalid);
  EXPECT_EQ(load_error(fixture_path("images")), ErrorCode::kModelInvalid);
  // A directory with a config but no weights.
  EXPECT_EQ(load_error(fixture_path("configs/defaults-omitted")), ErrorCode::kModelInvalid);
}

TEST(ClipModelTest, BadImageBytesGiveTypedError) {
  auto model = ClipModel::load(fixture_path("models/tiny"));
  const std::vector<uint8_t> junk = {'h', 'e', 'l', 'l', 'o'};
  try {
    model->embed_image(ImageInput::bytes(junk));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kImageDecode);
  }
}

// Vectors saved when the kernels were written (tests/fixtures/regression, by
// clipembed_write_saved_outputs; the same on every CPU and ISA path): a change to the encoder, the
// kernels, the batch path or the loaders that moves a single bit of a user's index fails here.
// (The saved vectors before them, from oneDNN, held bit for bit through the one-path refactor.)
// With `prefix`, the vectors are the first rows of the file's.
void expect_saved_rows(const std::vector<Embedding>& vectors, const std::string& file,
                       bool prefix = false) {
  const auto saved = testing::read_npy(fixture_path("regression/" + file));
  if (prefix) {
    ASSERT_GE(saved.shape[0], static_cast<int64_t>(vectors.size())) << file;
  } else {
    ASSERT_EQ(saved.shape[0], static_cast<int64_t>(vectors.size())) << file;
  }
  const auto dim = static_cast<size_t>(saved.shape[1]);
  for (size_t i = 0; i < vectors.size(); ++i) {
    EXPECT_EQ(vectors[i],
              std::vector<float>(saved.as<float>() + i * dim, saved.as<float>() + (i + 1) * dim))
        << file << " row " << i;
  }
}

// Where bf16 runs on the scalar path (no AVX512_BF16: the same bits, many times slower), a
// full-size model checks its first `slow_limit` images and texts in bf16.
void expect_saved_outputs(const std::string& name, const std::string& dir,
                          size_t slow_limit = SIZE_MAX) {
  const std::vector<ImageInput> images = testing::valid_inputs();
  std::vector<std::string> texts;
  const auto strings = nlohmann::json::parse(std::ifstream(fixture_path("text/strings.json")));
  for (const auto& s : strings["strings"]) texts.push_back(s["text"]);
  for (Precision precision : {Precision::kF32, Precision::kInt8, Precision::kBf16}) {
    auto model = ClipModel::load(dir, {.input = {}, .precision = precision});
    const std::string stem = name + "_" + precision_name(precision);
    const bool slow = precision == Precision::kBf16 && std::string(bf16_kernel()) == "scalar" &&
                      slow_limit < images.size();
    const size_t count = slow ? slow_limit : SIZE_MAX;
    const std::vector<ImageInput> some(
        images.begin(),
        images.begin() + static_cast<std::ptrdiff_t>(std::min(count, images.size())));
    const std::vector<std::string> few(
        texts.begin(), texts.begin() + static_cast<std::ptrdiff_t>(std::min(count, texts.size())));
    expect_saved_rows(model->embed_images(some), stem + ".npy", slow);
    if (model->has_text()) expect_saved_rows(model->embed_texts(few), stem + "_text.npy", slow);
  }
}

class SavedOutputsTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SavedOutputsTest, BitIdenticalToTheSavedVectors) {
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

TEST(SavedOutputsFullSizeTest, VitB32BitIdenticalToTheSavedVectors) {
  for (const char* name : {"vit-b-32", "vit-b-32-clip"}) {
    const std::string dir = testing::full_size_model_directory(name);
    ASSERT_FALSE(dir.empty()) << testing::kNoFullSizeModel;
    expect_saved_outputs(name, dir, /*slow_limit=*/2);
  }
}

}  // namespace
}  // namespace clipembed
