// A checkpoint in OpenCLIP's own format (open_clip_config.json + open_clip_model.safetensors)
// against open_clip v2.24's own outputs (tests/fixtures/open_clip): its crops byte for byte
// (resized as Pillow opened each file, before the RGB conversion), its token ids (ftfy and HTML
// cleaning, padded with 0), encode_image / encode_text, and the zero-shot logits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

#include "clipembed/error.h"
#include "clipembed/model.h"
#include "image/image_loader.h"
#include "image/open_clip_preprocess.h"
#include "support/fixtures.h"
#include "support/npy.h"
#include "text/clip_tokenizer.h"

namespace clipembed {
namespace {

using testing::fixture_path;

const std::string kModel = "open_clip/models/tiny-open-clip";

nlohmann::json manifest() {
  std::ifstream in(fixture_path("open_clip/manifest.json"));
  return nlohmann::json::parse(in);
}

// The reference's images, read from their files (the decoder keeps what open_clip needs).
std::vector<ImageInput> image_files() {
  std::vector<ImageInput> inputs;
  const nlohmann::json m = manifest();
  for (const auto& name : m["images"]) {
    inputs.push_back(ImageInput::file(fixture_path("images/" + name.get<std::string>())));
  }
  return inputs;
}

std::vector<std::string> reference_texts() {
  std::ifstream in(fixture_path("text/strings.json"));
  std::vector<std::string> texts;
  const nlohmann::json root = nlohmann::json::parse(in);
  for (const auto& s : root["strings"]) texts.push_back(s["text"]);
  return texts;
}

TEST(OpenClipModelTest, ConfigIsReadFromOpenClipConfigJson) {
  const ModelConfig config = ModelConfig::read(fixture_path(kModel));
  EXPECT_EQ(config.format, CheckpointFormat::kOpenClip);
  EXPECT_EQ(config.family, ModelFamily::kClip);
  EXPECT_EQ(config.vision->hidden_size, 32);
  EXPECT_EQ(config.vision->num_attention_heads, 4);        // width / head_width.
  EXPECT_EQ(config.vision->intermediate_size, 128);        // int(width * 4.0).
  EXPECT_EQ(config.vision->hidden_act, HiddenAct::kGelu);  // nn.GELU: no quick_gelu key.
  EXPECT_EQ(config.text->num_attention_heads, 2);
  EXPECT_EQ(config.text->max_position_embeddings, 77);
  EXPECT_EQ(config.dimension(), 16);
  EXPECT_EQ(config.preprocess->style, PreprocessStyle::kOpenClip);
  EXPECT_EQ(config.preprocess->crop_width, 64);
  const auto model = ClipModel::load(config);
  EXPECT_EQ(model->capabilities().format, "open_clip");
  EXPECT_NEAR(model->capabilities().logit_scale, 100.0f, 1e-3);
}

TEST(OpenClipModelTest, CropsAreByteExact) {
  const ModelConfig config = ModelConfig::read(fixture_path(kModel));
  const auto expected = testing::read_npy(fixture_path("open_clip/crops_u8_64.npy"));
  const std::vector<ImageInput> inputs = image_files();
  ASSERT_EQ(expected.shape[0], static_cast<int64_t>(inputs.size()));
  const size_t bytes = size_t{64} * 64 * 3;
  for (size_t i = 0; i < inputs.size(); ++i) {
    image::SourcePixels source;
    const Image rgb = image::load_image(inputs[i], {}, nullptr, &source);
    const Image crop = image::resize_and_crop_as_opened(rgb, source, *config.preprocess);
    ASSERT_EQ(crop.width, 64);
    ASSERT_EQ(crop.height, 64);
    const uint8_t* want = expected.as<uint8_t>() + i * bytes;
    size_t differing = 0;
    for (size_t b = 0; b < bytes; ++b) differing += crop.rgb[b] != want[b];
    EXPECT_EQ(differing, 0u) << inputs[i].text();
  }
}

TEST(OpenClipModelTest, TokenIdsEqualOpenClips) {
  const auto tokenizer =
      text::ClipTokenizer::load(fixture_path(kModel), CheckpointFormat::kOpenClip);
  std::ifstream in(fixture_path("open_clip/tokens.json"));
  const nlohmann::json entries = nlohmann::json::parse(in)["entries"];
  const std::vector<std::string> texts = reference_texts();
  ASSERT_EQ(entries.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto length = entries[i]["length"].get<size_t>();
    const std::vector<int32_t> want(
        entries[i]["ids"].begin(), entries[i]["ids"].begin() + static_cast<std::ptrdiff_t>(length));
    EXPECT_EQ(tokenizer->encode(texts[i], 77), want) << entries[i]["name"];
  }
}

void expect_embeddings(const std::vector<Embedding>& got, const testing::NpyArray& want,
                       double min_cosine, bool exact) {
  const int dim = static_cast<int>(want.shape[1]);
  ASSERT_EQ(static_cast<int64_t>(got.size()), want.shape[0]);
  for (size_t i = 0; i < got.size(); ++i) {
    const float* w = want.as<float>() + i * dim;
    if (exact) {
      EXPECT_TRUE(testing::embeddings_match(got[i].data(), w, dim)) << i;
    }
    EXPECT_GE(testing::cosine(got[i].data(), w, dim), min_cosine) << i;
  }
}

TEST(OpenClipModelTest, EmbeddingsMatchOpenClip) {
  const auto model = ClipModel::load(fixture_path(kModel));
  const std::vector<ImageInput> inputs = image_files();
  const std::vector<Embedding> images = model->embed_images(inputs);
  expect_embeddings(images,
                    testing::read_npy(fixture_path("open_clip/image_embeds_tiny-open-clip.npy")),
                    0.99999, true);
  for (size_t i = 0; i < inputs.size(); ++i) {
    EXPECT_EQ(model->embed_image(inputs[i]), images[i]) << "batch invariance, image " << i;
  }
  const std::vector<Embedding> texts = model->embed_texts(reference_texts());
  expect_embeddings(texts,
                    testing::read_npy(fixture_path("open_clip/text_embeds_tiny-open-clip.npy")),
                    0.99999, true);
}

TEST(OpenClipModelTest, Int8StaysCloseToTheReference) {
  const auto model =
      ClipModel::load(fixture_path(kModel), {.input = {}, .precision = Precision::kInt8});
  expect_embeddings(model->embed_images(image_files()),
                    testing::read_npy(fixture_path("open_clip/image_embeds_tiny-open-clip.npy")),
                    0.99, false);
  expect_embeddings(model->embed_texts(reference_texts()),
                    testing::read_npy(fixture_path("open_clip/text_embeds_tiny-open-clip.npy")),
                    0.99, false);
}

// Zero-shot scores are the softmax of open_clip's logits_per_image over the first five strings.
TEST(OpenClipModelTest, ZeroShotScoresAreTheSoftmaxOfOpenClipLogits) {
  const auto model = ClipModel::load(fixture_path(kModel));
  const auto logits =
      testing::read_npy(fixture_path("open_clip/logits_per_image_tiny-open-clip.npy"));
  const std::vector<std::string> texts = reference_texts();
  const std::vector<Embedding> labels =
      model->embed_texts(std::vector<std::string>(texts.begin(), texts.begin() + 5));
  const std::vector<Embedding> images = model->embed_images(image_files());
  for (size_t i = 0; i < images.size(); ++i) {
    const float* row = logits.as<float>() + i * 5;
    double total = 0;
    for (int j = 0; j < 5; ++j) total += std::exp(double{row[j]} - double{row[0]});
    const std::vector<float> scores = model->label_probabilities(images[i], labels);
    for (int j = 0; j < 5; ++j) {
      EXPECT_NEAR(scores[j], std::exp(double{row[j]} - double{row[0]}) / total, 1e-4)
          << "image " << i << " label " << j;
    }
  }
}

// A copy of the fixture model with its config changed by `edit`, or its files replaced.
std::string edited_copy(const std::string& name, const std::function<void(nlohmann::json&)>& edit) {
  namespace fs = std::filesystem;
  const std::string dir = testing::temp_path(name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ifstream in(fixture_path(kModel + "/open_clip_config.json"));
  nlohmann::json config = nlohmann::json::parse(in);
  edit(config);
  std::ofstream(dir + "/open_clip_config.json") << config.dump();
  fs::copy_file(fixture_path(kModel + "/open_clip_model.safetensors"),
                dir + "/open_clip_model.safetensors");
  return dir;
}

std::optional<ErrorCode> read_error(const std::string& dir, std::string* message) {
  try {
    ModelConfig::read(dir);
  } catch (const Error& e) {
    *message = e.what();
    return e.code();
  }
  return std::nullopt;
}

TEST(OpenClipModelTest, SettingsThatWouldChangeTheVectorsAreRefusedByName) {
  const std::vector<std::pair<std::string, std::function<void(nlohmann::json&)>>> cases = {
      {"timm_model_name",
       [](nlohmann::json& j) {
         j["model_cfg"]["vision_cfg"]["timm_model_name"] = "vit_base_patch16_siglip_224";
       }},
      {"hf_model_name",
       [](nlohmann::json& j) { j["model_cfg"]["text_cfg"]["hf_model_name"] = "xlm-roberta-base"; }},
      {"attentional_pool",
       [](nlohmann::json& j) { j["model_cfg"]["vision_cfg"]["attentional_pool"] = true; }},
      {"resize_mode", [](nlohmann::json& j) { j["preprocess_cfg"]["resize_mode"] = "longest"; }},
      {"interpolation", [](nlohmann::json& j) { j["preprocess_cfg"]["interpolation"] = "random"; }},
  };
  for (const auto& [key, edit] : cases) {
    const std::string dir = edited_copy("open-clip-" + key, edit);
    std::string message;
    EXPECT_EQ(read_error(dir, &message), ErrorCode::kUnsupported) << key;
    EXPECT_NE(message.find(key), std::string::npos) << message;
    std::filesystem::remove_all(dir);
  }
}

TEST(OpenClipModelTest, QuickGeluIsRead) {
  const std::string dir = edited_copy(
      "open-clip-quick", [](nlohmann::json& j) { j["model_cfg"]["quick_gelu"] = true; });
  const ModelConfig config = ModelConfig::read(dir);
  EXPECT_EQ(config.vision->hidden_act, HiddenAct::kQuickGelu);
  EXPECT_EQ(config.text->hidden_act, HiddenAct::kQuickGelu);
  std::filesystem::remove_all(dir);
}

TEST(OpenClipModelTest, APickleOnlyDirectoryIsUnsupportedWithTheWayOut) {
  namespace fs = std::filesystem;
  const std::string dir = testing::temp_path("open-clip-bin");
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(fixture_path(kModel + "/open_clip_config.json"), dir + "/open_clip_config.json");
  std::ofstream(dir + "/open_clip_pytorch_model.bin") << "not a pickle";
  std::string message;
  EXPECT_EQ(read_error(dir, &message), ErrorCode::kUnsupported);
  EXPECT_NE(message.find("open_clip_model.safetensors"), std::string::npos) << message;
  fs::remove(dir + "/open_clip_pytorch_model.bin");
  EXPECT_EQ(read_error(dir, &message), ErrorCode::kModelInvalid);
  fs::remove_all(dir);
}

// Without tokenizer files, OpenAI's vocabulary built into the library serves (open_clip bundles
// it the same way): the same vectors as with the files.
TEST(OpenClipModelTest, WithoutTokenizerFilesTheBundledVocabularyServes) {
  const std::string dir = edited_copy("open-clip-notok", [](nlohmann::json&) {});
  const auto bundled = ClipModel::load(dir);
  ASSERT_TRUE(bundled->has_text());
  const std::vector<std::string> texts = reference_texts();
  expect_embeddings(bundled->embed_texts(texts),
                    testing::read_npy(fixture_path("open_clip/text_embeds_tiny-open-clip.npy")),
                    0.99999, true);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace clipembed
