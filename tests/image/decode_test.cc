#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "clipembed/error.h"
#include "clipembed/image.h"
#include "image/decoders.h"
#include "io/file.h"
#include "support/fixtures.h"

namespace clipembed {
namespace {

using testing::fixture_path;

ErrorCode decode_error_code(std::span<const uint8_t> bytes, const DecodeOptions& options = {}) {
  try {
    decode_image(bytes, options);
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "decoded without error";
  return ErrorCode::kInternal;
}

TEST(DecodeTest, EveryBadFixtureGivesATypedError) {
  for (const std::string& name : testing::bad_image_names()) {
    SCOPED_TRACE(name);
    auto bytes = io::read_file(fixture_path("images/" + name));
    EXPECT_EQ(decode_error_code(bytes), ErrorCode::kImageDecode);
  }
}

TEST(DecodeTest, EveryValidFixtureDecodes) {
  for (const std::string& name : testing::valid_image_names()) {
    SCOPED_TRACE(name);
    Image img = read_image_file(fixture_path("images/" + name));
    EXPECT_GT(img.width, 0);
    EXPECT_EQ(img.rgb.size(), static_cast<size_t>(img.width) * img.height * 3);
  }
}

TEST(DecodeTest, SniffsByContentNotName) {
  auto png = io::read_file(fixture_path("images/gray.png"));
  auto jpg = io::read_file(fixture_path("images/gray.jpg"));
  EXPECT_EQ(image::sniff_format(png), image::Format::kPng);
  EXPECT_EQ(image::sniff_format(jpg), image::Format::kJpeg);
  // not_an_image.jpg has a .jpg name but is not a JPEG.
  EXPECT_EQ(image::sniff_format(io::read_file(fixture_path("images/not_an_image.jpg"))),
            image::Format::kUnknown);
}

TEST(DecodeTest, PixelLimitIsEnforcedBeforeDecoding) {
  DecodeOptions small;
  small.max_pixels = 1000;
  for (const char* name : {"square.jpg", "gray.png", "lossy.webp", "anim.gif", "plain.bmp"}) {
    SCOPED_TRACE(name);
    auto bytes = io::read_file(fixture_path(std::string("images/") + name));
    EXPECT_EQ(decode_error_code(bytes, small), ErrorCode::kImageTooLarge);
  }
}

TEST(DecodeTest, HugeDeclaredDimensionsAreRefusedNotAllocated) {
  // A BMP header claiming 100000 x 100000 pixels with no data behind it.
  std::vector<uint8_t> bmp(54, 0);
  bmp[0] = 'B', bmp[1] = 'M';
  bmp[10] = 54;
  bmp[14] = 40;
  const uint32_t side = 100000;
  std::memcpy(&bmp[18], &side, 4);
  std::memcpy(&bmp[22], &side, 4);
  bmp[26] = 1;
  bmp[28] = 24;
  EXPECT_EQ(decode_error_code(bmp), ErrorCode::kImageTooLarge);
}

TEST(DecodeTest, MissingFileIsAnIoError) {
  try {
    read_image_file(fixture_path("images/does_not_exist.jpg"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find("does_not_exist.jpg"), std::string::npos);
  }
}

TEST(DecodeTest, TruncatedPngIsAnError) {
  auto bytes = io::read_file(fixture_path("images/portrait.png"));
  bytes.resize(bytes.size() / 2);
  EXPECT_EQ(decode_error_code(bytes), ErrorCode::kImageDecode);
}

}  // namespace
}  // namespace clipembed
