#include "clipembed/preprocess.h"

#include <gtest/gtest.h>

#include <cstring>

#include "clipembed/error.h"
#include "support/fixtures.h"
#include "support/npy.h"

namespace clipembed {
namespace {

using testing::fixture_path;

PreprocessConfig tiny_config() {
  return PreprocessConfig::parse_file(fixture_path("models/tiny/preprocessor_config.json"));
}

// The reference crops (Pillow convert + resize + center crop) must be reproduced byte for byte,
// for every format, lossy ones included (same libjpeg-turbo / libwebp decoding as Pillow).
TEST(PreprocessTest, CropsEqualReferenceBytes) {
  const auto crops = testing::read_npy(fixture_path("crops_u8.npy"));
  const auto names = testing::valid_image_names();
  ASSERT_EQ(crops.shape[0], static_cast<int64_t>(names.size()));
  const size_t crop_bytes = 224 * 224 * 3;
  const PreprocessConfig config = tiny_config();
  for (size_t i = 0; i < names.size(); ++i) {
    SCOPED_TRACE(names[i]);
    Image crop = resize_and_crop(read_image_file(fixture_path("images/" + names[i])), config);
    ASSERT_EQ(crop.width, 224);
    ASSERT_EQ(crop.height, 224);
    const uint8_t* expected = crops.as<uint8_t>() + i * crop_bytes;
    size_t mismatches = 0, first = 0;
    for (size_t k = 0; k < crop_bytes; ++k) {
      if (crop.rgb[k] != expected[k] && mismatches++ == 0) first = k;
    }
    EXPECT_EQ(mismatches, 0u) << "first at byte " << first << ": got " << int{crop.rgb[first]}
                              << ", expected " << int{expected[first]};
  }
}

TEST(PreprocessTest, PixelValuesAreRescaledAndNormalisedChannelsFirst) {
  const PreprocessConfig config = tiny_config();
  Image crop;
  crop.width = 224;
  crop.height = 224;
  crop.rgb.assign(224 * 224 * 3, 0);
  crop.rgb[0] = 255;          // Red of pixel (0, 0).
  crop.rgb[3 * 5 + 2] = 128;  // Blue of pixel (5, 0).
  std::vector<float> pixels(3 * 224 * 224);
  to_pixel_values(crop, config, pixels.data());
  const size_t plane = 224 * 224;
  EXPECT_NEAR(pixels[0], (1.0f - config.mean[0]) / config.std[0], 1e-6);
  EXPECT_NEAR(pixels[plane], (0.0f - config.mean[1]) / config.std[1], 1e-6);
  EXPECT_NEAR(pixels[2 * plane + 5], (128 / 255.0f - config.mean[2]) / config.std[2], 1e-6);
}

TEST(PreprocessTest, ShortestEdgeUsesTruncatedLongEdgeAndFloorCenterCrop) {
  // 300x227: the long edge becomes int(224 * 300 / 227) = 296, cropped from x = (296-224)//2.
  Image img;
  img.width = 300;
  img.height = 227;
  img.rgb.assign(300 * 227 * 3, 0);
  for (int y = 0; y < img.height; ++y) {
    for (int x = 0; x < img.width; ++x) img.rgb[(y * img.width + x) * 3] = x % 256;
  }
  PreprocessConfig config = tiny_config();
  config.do_center_crop = false;
  Image resized = resize_and_crop(img, config);
  EXPECT_EQ(resized.width, 296);
  EXPECT_EQ(resized.height, 224);
}

TEST(PreprocessTest, CropLargerThanImagePadsWithBlackLikeTransformers) {
  Image img;
  img.width = 3;
  img.height = 2;
  img.rgb.assign(3 * 2 * 3, 200);
  PreprocessConfig config;
  config.do_resize = false;
  config.crop_width = 6;
  config.crop_height = 4;
  Image crop = resize_and_crop(img, config);
  // Padding: top ceil((4-2)/2) = 1, left ceil((6-3)/2) = 2.
  EXPECT_EQ(crop.rgb[(0 * 6 + 2) * 3], 0);
  EXPECT_EQ(crop.rgb[(1 * 6 + 1) * 3], 0);
  EXPECT_EQ(crop.rgb[(1 * 6 + 2) * 3], 200);
  EXPECT_EQ(crop.rgb[(2 * 6 + 4) * 3], 200);
  EXPECT_EQ(crop.rgb[(2 * 6 + 5) * 3], 0);
  EXPECT_EQ(crop.rgb[(3 * 6 + 2) * 3], 0);
}

TEST(PreprocessTest, ParsesSizeFormsAndRejectsOtherResampling) {
  PreprocessConfig c = PreprocessConfig::parse(R"({"size": 336, "crop_size": 336})", "x.json");
  EXPECT_EQ(c.shortest_edge, 336);
  EXPECT_EQ(c.crop_width, 336);
  c = PreprocessConfig::parse(R"({"size": {"height": 10, "width": 20}})", "x.json");
  EXPECT_EQ(c.shortest_edge, 0);
  EXPECT_EQ(c.resize_width, 20);
  EXPECT_EQ(PreprocessConfig::parse(R"({"resample": 2})", "x.json").resample, 2);
  try {
    PreprocessConfig::parse(R"({"resample": 0})", "x.json");
    FAIL() << "nearest accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
  }
  EXPECT_THROW(PreprocessConfig::parse("{not json", "x.json"), Error);
  EXPECT_THROW(PreprocessConfig::parse(R"({"image_std": [1, 0, 1]})", "x.json"), Error);
}

}  // namespace
}  // namespace clipembed
