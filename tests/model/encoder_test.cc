// The one encoder (model/encoder.cc) in both precisions: the int8 path against the reference
// embeddings, and what each precision holds.
#include "model/encoder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>

#include "clipembed/error.h"
#include "clipembed/model.h"
#include "clipembed/version.h"
#include "support/fixtures.h"
#include "support/npy.h"

namespace clipembed {
namespace {

using testing::fixture_path;

const LoadOptions kInt8{.input = {}, .precision = Precision::kInt8};

// Every valid fixture image embedded at int8 must keep cosine >= 0.99 to the reference (the
// issue's bar); the lowest is printed, as docs/perf.md reports it per model.
void expect_int8_close(const std::string& model_dir, const std::string& npy) {
  auto model = ClipModel::load(model_dir, kInt8);
  ASSERT_EQ(model->precision(), Precision::kInt8);
  const auto expected = testing::read_npy(npy);
  const auto names = testing::valid_image_names();
  ASSERT_EQ(expected.shape[0], static_cast<int64_t>(names.size()));
  const auto vectors = model->embed_images(testing::valid_inputs());
  const int dim = model->dimension();
  double lowest = 1.0, highest = -1.0;
  for (size_t i = 0; i < names.size(); ++i) {
    const double c = testing::cosine(vectors[i].data(), expected.as<float>() + i * dim, dim);
    EXPECT_GE(c, 0.99) << names[i];
    lowest = std::min(lowest, c);
    highest = std::max(highest, c);
  }
  // Quantization must change something: equal vectors would mean the int8 path did not run.
  EXPECT_LT(highest, 1.0 - 1e-9);
  std::cout << "int8 cosine to the reference over " << names.size() << " images: min " << lowest
            << ", max " << highest << "\n";
}

class QuantizedReferenceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(QuantizedReferenceTest, CosineToTransformersAtLeast099) {
  expect_int8_close(fixture_path("models/" + GetParam()),
                    fixture_path("embeds_" + GetParam() + ".npy"));
}

INSTANTIATE_TEST_SUITE_P(TinyModels, QuantizedReferenceTest,
                         ::testing::Values("tiny", "tiny-gelu", "tiny-p16", "tiny-336", "tiny-f16"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) c = c == '-' ? '_' : c;
                           return name;
                         });

TEST(QuantizedFullSizeTest, VitB32CosineAtLeast099) {
  const std::string dir = testing::full_size_model_directory("vit-b-32");
  ASSERT_FALSE(dir.empty()) << testing::kNoFullSizeModel;
  expect_int8_close(dir, fixture_path("embeds_vit-b-32.npy"));
}

// The lowest cosine between `precision`'s vectors and clipembed's float32 vectors (which match
// transformers on every model that has references) of the first `count` valid fixture images.
double lowest_cosine_to_float32(const std::string& dir, Precision precision, size_t count) {
  auto f32 = ClipModel::load(dir);
  auto other = ClipModel::load(dir, {.input = {}, .precision = precision});
  std::vector<ImageInput> images = testing::valid_inputs();
  images.erase(images.begin() + static_cast<std::ptrdiff_t>(std::min(count, images.size())),
               images.end());
  const auto expected = f32->embed_images(images);
  const auto actual = other->embed_images(images);
  double lowest = 1.0;
  for (size_t i = 0; i < images.size(); ++i) {
    lowest =
        std::min(lowest, testing::cosine(actual[i].data(), expected[i].data(), f32->dimension()));
  }
  std::cout << dir << " " << precision_name(precision) << " cosine to fp32 over " << images.size()
            << " images: min " << lowest << "\n";
  return lowest;
}

// No reference embeddings exist for ViT-L/14 (1.2 GB of random weights, written by `make bench`),
// so int8 is compared with clipembed's float32 vectors.
TEST(QuantizedFullSizeTest, VitL14CosineToFloat32AtLeast099) {
  const std::string dir = testing::full_size_model_directory("vit-l-14");
  if (dir.empty()) GTEST_SKIP() << testing::kNoFullSizeModel;
  EXPECT_GE(lowest_cosine_to_float32(dir, Precision::kInt8, 100), 0.99);
}

// bf16 keeps cosine >= 0.9999 to float32 on the full-size models. Where the CPU lacks
// AVX512_BF16 the scalar path gives the same bits many times slower, so it checks two images.
size_t bf16_images() { return std::string(bf16_kernel()) == "scalar" ? 2 : 100; }

TEST(Bf16FullSizeTest, VitB32CosineToFloat32AtLeast09999) {
  const std::string dir = testing::full_size_model_directory("vit-b-32");
  ASSERT_FALSE(dir.empty()) << testing::kNoFullSizeModel;
  const double lowest = lowest_cosine_to_float32(dir, Precision::kBf16, bf16_images());
  EXPECT_GE(lowest, 0.9999);
  EXPECT_LT(lowest, 1.0 - 1e-9);  // Equal vectors would mean bf16 did not run.
}

TEST(Bf16FullSizeTest, VitL14CosineToFloat32AtLeast09999) {
  const std::string dir = testing::full_size_model_directory("vit-l-14");
  if (dir.empty()) GTEST_SKIP() << testing::kNoFullSizeModel;
  EXPECT_GE(lowest_cosine_to_float32(dir, Precision::kBf16, bf16_images()), 0.9999);
}

TEST(QuantizedEncoderTest, BatchedEqualsAloneBitForBit) {
  // The integer products are exact and quantization is per row, and the float32 kernels fix the
  // order of every sum, so the encoder never mixes images.
  auto model = ClipModel::load(fixture_path("models/tiny-p16"), kInt8);
  std::vector<ImageInput> images;
  for (const char* name : {"square.jpg", "wide.png", "palette.png"}) {
    images.push_back(read_image_file(fixture_path(std::string("images/") + name)));
  }
  const auto batched = model->embed_images(images);
  for (size_t i = 0; i < images.size(); ++i) {
    EXPECT_EQ(model->embed_image(images[i]), batched[i]);
  }
}

// Every precision holds its products packed (the mapped float32 weights are released): int8 one
// byte per weight plus per-channel data, bf16 two bytes, float32 four.
TEST(EncoderTest, EachPrecisionHoldsWhatItShould) {
  const VisionConfig c = *ModelConfig::read(fixture_path("models/tiny")).vision;
  const int64_t d = c.hidden_size, f = c.intermediate_size;
  const int64_t codes = c.num_hidden_layers * (4 * d * d + 2 * d * f);
  const int64_t floats = codes * int64_t{sizeof(float)};
  auto open = [] {
    return model::WeightFile(
        std::make_unique<model::SafetensorsFile>(fixture_path("models/tiny/model.safetensors")));
  };
  const model::EncoderShape shape{
      d, f, c.num_attention_heads, c.num_hidden_layers, c.hidden_act, c.layer_norm_eps};
  model::WeightFile int8_weights = open(), f32_weights = open(), bf16_weights = open();
  const model::Encoder int8(shared_runtime(), int8_weights, "vision_model.encoder.", shape,
                            Precision::kInt8);
  const model::Encoder f32(shared_runtime(), f32_weights, "vision_model.encoder.", shape,
                           Precision::kF32);
  EXPECT_GE(int8.owned_bytes(), static_cast<size_t>(codes));
  EXPECT_LT(int8.owned_bytes(), static_cast<size_t>(codes) * 2);
  EXPECT_GE(f32.owned_bytes(), static_cast<size_t>(floats));
  EXPECT_LT(f32.owned_bytes(), static_cast<size_t>(floats) * 5 / 4);
  const model::Encoder bf16(shared_runtime(), bf16_weights, "vision_model.encoder.", shape,
                            Precision::kBf16);
  EXPECT_GE(bf16.owned_bytes(), static_cast<size_t>(codes) * 2);
  EXPECT_LT(bf16.owned_bytes(), static_cast<size_t>(floats) * 5 / 8);
}

// With pooled rows the last layer computes only those rows past its keys and values: they must be
// the same bits as in a pass over every row, in both precisions, with and without the mask.
TEST(EncoderTest, PooledRowsAreTheSameBitsAsAWholePass) {
  const VisionConfig c = *ModelConfig::read(fixture_path("models/tiny")).vision;
  const int64_t d = c.hidden_size;
  const model::EncoderShape shape{d,
                                  c.intermediate_size,
                                  c.num_attention_heads,
                                  c.num_hidden_layers,
                                  c.hidden_act,
                                  c.layer_norm_eps};
  const std::vector<int64_t> starts{0, 7, 8, 20, 33}, pooled{0, 7, 15, 32};
  std::vector<float> input(static_cast<size_t>(starts.back() * d));
  for (size_t i = 0; i < input.size(); ++i) input[i] = std::sin(static_cast<float>(i) * 0.37f);
  for (Precision precision : {Precision::kF32, Precision::kInt8, Precision::kBf16}) {
    model::WeightFile weights(
        std::make_unique<model::SafetensorsFile>(fixture_path("models/tiny/model.safetensors")));
    const model::Encoder encoder(shared_runtime(), weights, "vision_model.encoder.", shape,
                                 precision);
    for (ops::AttentionMask mask : {ops::AttentionMask::kNone, ops::AttentionMask::kCausal}) {
      model::EncoderActivations buffers;
      std::vector<float> whole = input, some = input;
      encoder.run(shared_runtime(), whole.data(), starts, mask, {}, buffers);
      encoder.run(shared_runtime(), some.data(), starts, mask, pooled, buffers);
      for (int64_t row : pooled) {
        for (int64_t i = 0; i < d; ++i) {
          ASSERT_EQ(some[row * d + i], whole[row * d + i])
              << precision_name(precision) << " row " << row << " column " << i;
        }
      }
      // The rows not pooled stopped before the last layer.
      EXPECT_NE(some[1 * d], whole[1 * d]);
    }
  }
}

TEST(PrecisionTest, NamesParseAndFloat16IsRefused) {
  EXPECT_EQ(parse_precision("fp32"), Precision::kF32);
  EXPECT_EQ(parse_precision("f32"), Precision::kF32);
  EXPECT_EQ(parse_precision("int8"), Precision::kInt8);
  EXPECT_EQ(parse_precision("bf16"), Precision::kBf16);
  EXPECT_EQ(parse_precision("bfloat16"), Precision::kBf16);
  EXPECT_STREQ(precision_name(Precision::kInt8), "int8");
  EXPECT_STREQ(precision_name(Precision::kF32), "fp32");
  EXPECT_STREQ(precision_name(Precision::kBf16), "bf16");
  for (const char* name : {"f16", "float16", "fp16"}) {
    try {
      parse_precision(name);
      ADD_FAILURE() << name;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUnsupported) << name;
    }
  }
  try {
    parse_precision("int4");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace clipembed
