// The one input loader: every kind of input gives the same pixels, under one set of limits.
#include "image/image_loader.h"

#include <gtest/gtest.h>

#include "io/base64.h"
#include "io/file.h"
#include "support/fixtures.h"

namespace clipembed {
namespace {

using testing::fixture_path;

TEST(ImageInputTest, GuessTellsUrlsDataUrisAndPathsApart) {
  EXPECT_EQ(ImageInput::guess("https://x/y.jpg").kind(), ImageInput::Kind::kUrl);
  EXPECT_EQ(ImageInput::guess("http://x/y.jpg").kind(), ImageInput::Kind::kUrl);
  EXPECT_EQ(ImageInput::guess("data:image/png;base64,AAAA").kind(), ImageInput::Kind::kBase64);
  EXPECT_EQ(ImageInput::guess("photos/cat.jpg").kind(), ImageInput::Kind::kFile);
  EXPECT_EQ(ImageInput::guess("ftp://x/y.jpg").kind(), ImageInput::Kind::kFile);
  EXPECT_TRUE(is_url("https://a"));
  EXPECT_FALSE(is_url("HTTPS://a"));  // As libcurl's scheme check: lower case only.
  EXPECT_FALSE(is_url("file:///etc/passwd"));
  const ImageInput path = "cat.jpg";  // A string is a file path.
  EXPECT_EQ(path.kind(), ImageInput::Kind::kFile);
  EXPECT_EQ(path.text(), "cat.jpg");
}

TEST(ImageInputTest, EveryKindLoadsTheSamePixels) {
  const std::string path = fixture_path("images/palette.png");
  const std::vector<uint8_t> bytes = io::read_file(path);
  const Image expected = read_image_file(path);
  const InputLimits limits;
  const std::string b64 = io::encode_base64(bytes.data(), bytes.size());
  for (const ImageInput& input :
       {ImageInput::file(path), ImageInput::bytes(bytes), ImageInput::base64(b64),
        ImageInput::base64("data:image/png;base64," + b64), ImageInput::pixels(expected)}) {
    const Image image = image::load_image(input, limits);
    EXPECT_EQ(image.width, expected.width) << input.describe();
    EXPECT_EQ(image.rgb, expected.rgb) << input.describe();
  }
}

TEST(ImageInputTest, LimitsApplyToEveryKind) {
  const std::string path = fixture_path("images/palette.png");
  const std::vector<uint8_t> bytes = io::read_file(path);
  InputLimits limits;
  limits.decode.max_pixels = 10;
  limits.max_base64_bytes = 16;
  auto code_of = [&](const ImageInput& input) {
    try {
      image::load_image(input, limits);
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::kInternal;
  };
  EXPECT_EQ(code_of(ImageInput::file(path)), ErrorCode::kImageTooLarge);
  EXPECT_EQ(code_of(ImageInput::bytes(bytes)), ErrorCode::kImageTooLarge);
  EXPECT_EQ(code_of(ImageInput::base64(io::encode_base64(bytes.data(), bytes.size()))),
            ErrorCode::kInvalidBase64);
  EXPECT_EQ(code_of(ImageInput::file(fixture_path("images/none.png"))), ErrorCode::kIo);
}

// The private-address guard is the default for library users, not only for the server.
TEST(ImageInputTest, UrlsToPrivateAddressesAreRefusedByDefault) {
  EXPECT_FALSE(UrlLimits{}.allow_private_addresses);
  try {
    image::load_image(ImageInput::url("http://127.0.0.1:9/x.png"), InputLimits{});
    ADD_FAILURE() << "a loopback URL was fetched";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUrlForbidden) << e.what();
  }
}

}  // namespace
}  // namespace clipembed
