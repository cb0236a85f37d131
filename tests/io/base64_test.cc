#include "io/base64.h"

#include <gtest/gtest.h>

#include "clipembed/error.h"

namespace clipembed::io {
namespace {

std::string decode(std::string_view text) {
  const auto bytes = decode_base64(text, 1 << 20);
  return std::string(bytes.begin(), bytes.end());
}

ErrorCode error_code(std::string_view text, size_t limit = 1 << 20) {
  try {
    decode_base64(text, limit);
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::kInternal;
}

TEST(Base64Test, DecodesPlainAndDataUris) {
  EXPECT_EQ(decode("aGVsbG8="), "hello");
  EXPECT_EQ(decode("aGVsbG8h"), "hello!");
  EXPECT_EQ(decode("aGk="), "hi");
  EXPECT_EQ(decode("aA=="), "h");
  EXPECT_EQ(decode("data:image/png;base64,aGVsbG8="), "hello");
  EXPECT_EQ(decode("+/+/"), std::string("\xfb\xff\xbf"));
}

TEST(Base64Test, EncodesWithPaddingAndRoundTrips) {
  auto enc = [](const std::string& s) {
    return encode_base64(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };
  EXPECT_EQ(enc(""), "");
  EXPECT_EQ(enc("f"), "Zg==");
  EXPECT_EQ(enc("fo"), "Zm8=");
  EXPECT_EQ(enc("foo"), "Zm9v");
  EXPECT_EQ(enc("foobar"), "Zm9vYmFy");
  std::vector<uint8_t> all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<uint8_t>(i);
  for (size_t n : {254, 255, 256}) {
    const std::vector<uint8_t> part(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_EQ(decode_base64(encode_base64(part.data(), part.size()), 1024), part);
  }
}

TEST(Base64Test, RejectsMalformedInput) {
  for (const char* bad :
       {"", "aGVsbG8", "aGVs bG8=", "aGVsbG8*", "a===", "aGk=aGk=", "aGl=", "data:image/png,aGk=",
        "data:text/plain;base64,aGk=", "data:image/png", "data:image/png;base64,", "aGVsbG8=\n"}) {
    EXPECT_EQ(error_code(bad), ErrorCode::kInvalidBase64) << bad;
  }
}

// check_base64 accepts what decode_base64 decodes and refuses what it refuses, with the same code.
TEST(Base64Test, CheckingAloneAgreesWithDecoding) {
  for (const char* good :
       {"aGVsbG8=", "aGVsbG8h", "aA==", "data:image/png;base64,aGVsbG8=", "+/+/"}) {
    EXPECT_NO_THROW(check_base64(good)) << good;
  }
  for (const char* bad :
       {"", "aGVsbG8", "aGVs bG8=", "aGVsbG8*", "a===", "aGk=aGk=", "aGl=", "data:image/png,aGk=",
        "data:text/plain;base64,aGk=", "data:image/png", "data:image/png;base64,", "aGVsbG8=\n"}) {
    ErrorCode code = ErrorCode::kInternal;
    try {
      check_base64(bad);
    } catch (const Error& e) {
      code = e.code();
    }
    EXPECT_EQ(code, ErrorCode::kInvalidBase64) << bad;
    EXPECT_EQ(error_code(bad), ErrorCode::kInvalidBase64) << bad;
  }
}

TEST(Base64Test, EnforcesTheSizeLimit) {
  EXPECT_EQ(error_code("aGVsbG8h", 5), ErrorCode::kInvalidBase64);
  EXPECT_EQ(decode_base64("aGVsbG8h", 6).size(), 6u);
}

}  // namespace
}  // namespace clipembed::io
