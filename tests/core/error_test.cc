#include "clipembed/error.h"

#include <gtest/gtest.h>

namespace clipembed {
namespace {

TEST(ErrorTest, CarriesCodeAndMessage) {
  const Error e(ErrorCode::kImageTooLarge, "too big");
  EXPECT_EQ(e.code(), ErrorCode::kImageTooLarge);
  EXPECT_STREQ(e.what(), "too big");
}

TEST(ErrorTest, CodeNamesAreStableSnakeCase) {
  EXPECT_EQ(code_name(ErrorCode::kModelInvalid), "model_invalid");
  EXPECT_EQ(code_name(ErrorCode::kImageDecode), "image_decode");
  EXPECT_EQ(code_name(ErrorCode::kImageTooLarge), "image_too_large");
  EXPECT_EQ(code_name(ErrorCode::kIo), "io");
  EXPECT_EQ(code_name(ErrorCode::kInvalidBase64), "invalid_base64");
}

}  // namespace
}  // namespace clipembed
