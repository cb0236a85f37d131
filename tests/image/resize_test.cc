#include "image/resize.h"

#include <gtest/gtest.h>

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
  const Image actual = image::resize_bicubic(src, w, h);
  ASSERT_EQ(actual.width, w);
  ASSERT_EQ(actual.height, h);
  EXPECT_EQ(actual.rgb, expected.rgb);
}

INSTANTIATE_TEST_SUITE_P(Sizes, ResizeTest,
                         ::testing::Values(std::pair{224, 139}, std::pair{11, 7}, std::pair{37, 5},
                                           std::pair{13, 23}, std::pair{100, 23}, std::pair{1, 1},
                                           std::pair{36, 22}));

TEST(ResizeTest, SameSizeIsACopy) {
  const Image src = read_image_file(fixture_path("resize/src_37x23.png"));
  EXPECT_EQ(image::resize_bicubic(src, 37, 23).rgb, src.rgb);
}

}  // namespace
}  // namespace clipembed
