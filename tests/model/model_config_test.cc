#include <gtest/gtest.h>

#include "clipembed/error.h"
#include "clipembed/model.h"
#include "io/file.h"
#include "support/fixtures.h"

namespace clipembed {
namespace {

VisionConfig parse_fixture(const std::string& relative) {
  auto bytes = io::read_file(testing::fixture_path(relative));
  return VisionConfig::parse(std::string(bytes.begin(), bytes.end()), relative);
}

TEST(VisionConfigTest, OmittedValuesTakeTransformersDefaults) {
  const VisionConfig c = parse_fixture("configs/defaults-omitted/config.json");
  EXPECT_EQ(c.hidden_size, 768);
  EXPECT_EQ(c.intermediate_size, 3072);
  EXPECT_EQ(c.num_hidden_layers, 12);
  EXPECT_EQ(c.num_attention_heads, 12);
  EXPECT_EQ(c.image_size, 224);
  EXPECT_EQ(c.patch_size, 32);
  EXPECT_EQ(c.hidden_act, HiddenAct::kQuickGelu);
  EXPECT_FLOAT_EQ(c.layer_norm_eps, 1e-5f);
  EXPECT_EQ(c.projection_dim, 512);
  EXPECT_FALSE(c.vision_only);
  EXPECT_EQ(c.num_positions(), 50);
}

TEST(VisionConfigTest, ReadsNestedAndVisionOnlyConfigs) {
  const VisionConfig tiny = parse_fixture("models/tiny-336/config.json");
  EXPECT_EQ(tiny.hidden_size, 32);
  EXPECT_EQ(tiny.patch_size, 14);
  EXPECT_EQ(tiny.image_size, 336);
  EXPECT_EQ(tiny.projection_dim, 16);
  EXPECT_EQ(tiny.num_positions(), 577);
  const VisionConfig gelu = parse_fixture("models/tiny-gelu/config.json");
  EXPECT_EQ(gelu.hidden_act, HiddenAct::kGelu);
  const VisionConfig vision = VisionConfig::parse(
      R"({"model_type": "clip_vision_model", "hidden_size": 64, "num_attention_heads": 4,
          "projection_dim": 32, "architectures": ["CLIPVisionModelWithProjection"]})",
      "v.json");
  EXPECT_TRUE(vision.vision_only);
  EXPECT_EQ(vision.hidden_size, 64);
  EXPECT_EQ(vision.projection_dim, 32);
}

TEST(VisionConfigTest, RejectsBadConfigsWithTypedErrors) {
  auto code = [](const std::string& text) {
    try {
      VisionConfig::parse(text, "config.json");
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::kInternal;
  };
  EXPECT_EQ(code("[1, 2"), ErrorCode::kModelInvalid);
  EXPECT_EQ(code(R"({"vision_config": {"hidden_size": "big"}})"), ErrorCode::kModelInvalid);
  EXPECT_EQ(code(R"({"vision_config": {"hidden_size": 100, "num_attention_heads": 12}})"),
            ErrorCode::kModelInvalid);
  EXPECT_EQ(code(R"({"vision_config": {"hidden_act": "relu"}})"), ErrorCode::kUnsupported);
  EXPECT_EQ(code(R"({"model_type": "bert"})"), ErrorCode::kModelInvalid);
}

}  // namespace
}  // namespace clipembed
