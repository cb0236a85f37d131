// The corners of BMP, GIF and WebP where decoders disagree, read as Pillow 9.4 reads them
// (tests/fixtures/pillow, written by tools/make_pillow_cases.py): every image Pillow opens decodes
// to its pixels exactly and gives its CLIP crop byte for byte; every file Pillow refuses is
// refused with a typed error.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "clipembed/error.h"
#include "clipembed/image.h"
#include "clipembed/preprocess.h"
#include "io/file.h"
#include "support/fixtures.h"
#include "support/npy.h"

namespace clipembed {
namespace {

using testing::fixture_path;

struct Case {
  std::string name, note, pillow_error;  // pillow_error: "" when Pillow opens it.
};

std::vector<Case> cases() {
  std::ifstream in(fixture_path("pillow/cases.json"));
  const nlohmann::json all = nlohmann::json::parse(in);
  std::vector<Case> out;
  for (auto it = all.begin(); it != all.end(); ++it) {
    out.push_back({it.key(), it.value().at("note").get<std::string>(),
                   it.value().value("pillow_error", std::string())});
  }
  return out;
}

size_t differing_bytes(const std::vector<uint8_t>& a, const uint8_t* b, size_t n) {
  size_t count = 0;
  for (size_t i = 0; i < n; ++i) count += a[i] != b[i];
  return count;
}

TEST(PillowCasesTest, EveryImagePillowOpensDecodesToItsPixels) {
  int decoded = 0;
  for (const Case& c : cases()) {
    if (!c.pillow_error.empty()) continue;
    SCOPED_TRACE(c.name + " (" + c.note + ")");
    const std::string& name = c.name;
    const Image image = read_image_file(fixture_path("pillow/" + name));
    const testing::NpyArray expected =
        testing::read_npy(fixture_path("pillow/" + name + ".rgb.npy"));
    ASSERT_EQ(image.height, expected.shape[0]);
    ASSERT_EQ(image.width, expected.shape[1]);
    EXPECT_EQ(differing_bytes(image.rgb, expected.as<uint8_t>(), image.rgb.size()), 0u);
    ++decoded;
  }
  EXPECT_EQ(decoded, 10);
}

TEST(PillowCasesTest, EveryCropIsPillowsByteForByte) {
  for (const Case& c : cases()) {
    if (!c.pillow_error.empty()) continue;
    SCOPED_TRACE(c.name);
    const std::string& name = c.name;
    const Image crop = resize_and_crop(read_image_file(fixture_path("pillow/" + name)), {});
    const Image expected = read_image_file(fixture_path("pillow/" + name + ".crop.png"));
    ASSERT_EQ(crop.width, expected.width);
    ASSERT_EQ(crop.height, expected.height);
    EXPECT_EQ(differing_bytes(crop.rgb, expected.rgb.data(), crop.rgb.size()), 0u);
  }
}

// What Pillow 9.4 refuses, we refuse: a header size no BMP version has, and RLE data that ends
// before the bitmap does.
TEST(PillowCasesTest, EveryFilePillowRefusesIsATypedError) {
  int refused = 0;
  for (const Case& c : cases()) {
    if (c.pillow_error.empty()) continue;
    SCOPED_TRACE(c.name + ": Pillow says " + c.pillow_error);
    try {
      read_image_file(fixture_path("pillow/" + c.name));
      ADD_FAILURE() << "decoded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kImageDecode) << e.what();
      ++refused;
    }
  }
  EXPECT_EQ(refused, 2);
}

// A GIF whose LZW minimum code size is above 8 (giflib decodes none such; Pillow reads the codes
// into 8-bit indices) is a decode error that names the cause, not an I/O error.
TEST(PillowCasesTest, GifLzwCodeSizeAboveEightIsNamed) {
  std::vector<uint8_t> gif = {'G', 'I', 'F', '8', '9', 'a', 4, 0, 4, 0, 0x80, 0, 0};
  for (int i = 0; i < 6; ++i) gif.push_back(static_cast<uint8_t>(i * 40));  // Two colours.
  const uint8_t descriptor[] = {0x2C, 0, 0, 0, 0, 4, 0, 4, 0, 0};
  gif.insert(gif.end(), std::begin(descriptor), std::end(descriptor));
  gif.insert(gif.end(), {10, 3, 0x00, 0x04, 0x01, 0, 0x3B});  // Code size 10, one block, end.
  try {
    decode_image(gif);
    ADD_FAILURE() << "decoded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kImageDecode);
    EXPECT_NE(std::string(e.what()).find("LZW code size 10"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace clipembed
