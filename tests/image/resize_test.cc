#include "image/resize.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "support/fixtures.h"

namespace clipembed {
namespace {

using testing::fixture_path;

// Expected outputs are Pillow 9.4's Image.resize(..., BICUBIC) of the same source
// (tools/make_test_images.py), stored as lossless PNG.
class ResizeTest : public ::testing::TestWithParam<std::pair<int, int>> {};

TEST_P(ResizeTest, MatchesPillowByteForByte) {
  const auto [w, h] = GetParam();
  const Image src = read_image_file(fixture_path("resize/src_37x23.png"));
  const Image expected = read_image_file(
      fixture_path("resize/bicubic_" + std::to_string(w) + "x" + std::to_string(h) + ".png"));
  const Image actual = image::resize(src, w, h, image::Filter::kBicubic);
  ASSERT_EQ(actual.width, w);
  ASSERT_EQ(actual.height, h);
  EXPECT_EQ(actual.rgb, expected.rgb);
}

INSTANTIATE_TEST_SUITE_P(Sizes, ResizeTest,
                         ::testing::Values(std::pair{224, 139}, std::pair{11, 7}, std::pair{37, 5},
                                           std::pair{13, 23}, std::pair{100, 23}, std::pair{1, 1},
                                           std::pair{36, 22}));

// A window of a resize is that part of the whole resize, byte for byte, whichever passes run
// (both, one, or neither when the size does not change).
TEST(ResizeTest, AWindowIsThatPartOfTheWholeResize) {
  const Image src = read_image_file(fixture_path("resize/src_37x23.png"));
  for (const auto& [w, h] : {std::pair{224, 139}, std::pair{11, 7}, std::pair{37, 5},
                             std::pair{13, 23}, std::pair{37, 23}}) {
    const Image whole = image::resize(src, w, h, image::Filter::kBicubic);
    for (const image::Window window :
         {image::Window{0, 0, w, h}, image::Window{w / 3, h / 4, w / 2 + 1, h / 2 + 1},
          image::Window{w - 1, h - 1, 1, 1}, image::Window{0, h / 2, w, 1}}) {
      const Image part = image::resize(src, w, h, image::Filter::kBicubic, window);
      ASSERT_EQ(part.width, window.width);
      ASSERT_EQ(part.height, window.height);
      for (int y = 0; y < window.height; ++y) {
        const auto row = whole.rgb.begin() + ((window.y + y) * w + window.x) * 3;
        ASSERT_TRUE(
            std::equal(row, row + window.width * 3, part.rgb.begin() + y * window.width * 3))
            << w << "x" << h << " window at " << window.x << "," << window.y << " row " << y;
      }
    }
  }
}

TEST(ResizeTest, SameSizeIsACopy) {
  const Image src = read_image_file(fixture_path("resize/src_37x23.png"));
  EXPECT_EQ(image::resize(src, 37, 23, image::Filter::kBicubic).rgb, src.rgb);
}

}  // namespace
}  // namespace clipembed
