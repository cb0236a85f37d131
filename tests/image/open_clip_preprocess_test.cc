// open_clip's preprocessing order against Pillow 9.4 (tests/fixtures/open_clip_modes, written by
// tools/make_open_clip_cases.py): every mode Pillow opens an image in, per format, resized as
// Pillow resizes that mode, then cropped and converted, byte for byte.
#include "image/open_clip_preprocess.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "image/image_loader.h"
#include "support/fixtures.h"

namespace clipembed::image {
namespace {

using clipembed::testing::fixture_path;

PilMode mode_named(const std::string& name) {
  static const std::map<std::string, PilMode> kModes = {
      {"RGB", PilMode::kRgb},   {"L", PilMode::kL},   {"P", PilMode::kP},
      {"1", PilMode::k1},       {"LA", PilMode::kLa}, {"RGBA", PilMode::kRgba},
      {"CMYK", PilMode::kCmyk}, {"I", PilMode::kI}};
  return kModes.at(name);
}

TEST(OpenClipPreprocessTest, EveryModeIsResizedAsPillowResizesIt) {
  std::ifstream in(fixture_path("open_clip_modes/modes.json"));
  const nlohmann::json cases = nlohmann::json::parse(in);
  const int size = cases["size"];
  PreprocessConfig config;
  config.style = PreprocessStyle::kOpenClip;
  config.shortest_edge = config.crop_width = config.crop_height = size;
  ASSERT_GE(cases["modes"].size(), 14u);
  for (const auto& [name, mode] : cases["modes"].items()) {
    const std::string path = fixture_path("open_clip_modes/" + name);
    SourcePixels source;
    const Image rgb = load_image(ImageInput::file(path), {}, nullptr, &source);
    EXPECT_EQ(source.mode, mode_named(mode)) << name;
    const Image crop = resize_and_crop_as_opened(rgb, source, config);
    const Image want = read_image_file(path + ".crop.png");
    ASSERT_EQ(crop.width, want.width) << name;
    ASSERT_EQ(crop.height, want.height) << name;
    size_t differing = 0;
    for (size_t i = 0; i < want.rgb.size(); ++i) differing += crop.rgb[i] != want.rgb[i];
    EXPECT_EQ(differing, 0u) << name << " (" << mode.get<std::string>() << ")";
  }
}

// An RGB image handed over as pixels is resized as an "RGB" image: only the crop offset differs
// from transformers' order (half to even instead of floor).
TEST(OpenClipPreprocessTest, CropOffsetsRoundHalfToEven) {
  PreprocessConfig config;
  config.style = PreprocessStyle::kOpenClip;
  config.shortest_edge = config.crop_width = config.crop_height = 4;
  Image image;
  image.width = 7, image.height = 4;  // (7 - 4) / 2 = 1.5: round() gives 2, floor 1.
  image.rgb.resize(7 * 4 * 3);
  for (size_t i = 0; i < image.rgb.size(); ++i) image.rgb[i] = static_cast<uint8_t>(i / 3 % 7);
  const Image crop = resize_and_crop(image, config);
  EXPECT_EQ(crop.rgb[0], 2);
  config.style = PreprocessStyle::kTransformers;
  EXPECT_EQ(resize_and_crop(image, config).rgb[0], 1);
}

}  // namespace
}  // namespace clipembed::image
