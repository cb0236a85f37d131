// The one input rule (service/inputs.h): what each string is for each origin and modality, the
// errors that name it, and base64 decoded once into the bytes the decoder reads.
#include "service/inputs.h"

#include <gtest/gtest.h>

#include "clipembed/error.h"
#include "io/base64.h"
#include "io/file.h"
#include "support/fixtures.h"

namespace clipembed::service {
namespace {

ModelCapabilities both_towers() {
  ModelCapabilities c;
  c.dimension = 16;
  c.images = c.texts = true;
  return c;
}

ErrorCode code_of(const std::string& text, const InputRule& rule, const ModelCapabilities& model,
                  std::string* message = nullptr) {
  try {
    interpret_input(text, rule, model, "input[3]");
  } catch (const Error& e) {
    if (message != nullptr) *message = e.what();
    return e.code();
  }
  return ErrorCode::kInternal;
}

TEST(InputsTest, FormsTellImagesFromTexts) {
  const auto png = io::read_file(testing::fixture_path("images/gray.png"));
  const std::string png64 = io::encode_base64(png.data(), png.size());
  EXPECT_EQ(input_form("https://example.com/a.jpg"), InputForm::kUrl);
  EXPECT_EQ(input_form("data:image/png;base64," + png64), InputForm::kDataUri);
  EXPECT_EQ(input_form(png64), InputForm::kBase64Image);
  EXPECT_EQ(input_form("a photo of a cat"), InputForm::kOther);
  EXPECT_EQ(input_form("abcd"), InputForm::kOther);  // Base64, but not of an image.
  EXPECT_EQ(input_form("QUJDREVGR0hJSktMTU5PUA=="), InputForm::kOther);  // "ABCDEFGHIJKLMNOP".
  EXPECT_EQ(input_form(""), InputForm::kOther);
}

TEST(InputsTest, NetworkStringsAreImagesOrTextsAndBase64IsDecodedOnce) {
  const auto png = io::read_file(testing::fixture_path("images/gray.png"));
  const std::string png64 = io::encode_base64(png.data(), png.size());
  const InputRule rule;
  const EmbedInput image = interpret_input(png64, rule, both_towers(), "input[0]");
  ASSERT_FALSE(image.is_text());
  ASSERT_EQ(image.as_image().kind(), ImageInput::Kind::kBytes);  // Decoded here, once.
  EXPECT_EQ(image.as_image().encoded(), png);
  const EmbedInput uri =
      interpret_input("data:image/png;base64," + png64, rule, both_towers(), "input[0]");
  EXPECT_EQ(uri.as_image().encoded(), png);
  EXPECT_EQ(interpret_input("https://x.org/a.png", rule, both_towers(), "").as_image().kind(),
            ImageInput::Kind::kUrl);
  // A path is a text on the network: no request names a file on this machine.
  EXPECT_TRUE(interpret_input("/etc/passwd", rule, both_towers(), "").is_text());
}

TEST(InputsTest, ErrorsNameTheInputAndTheRule) {
  InputRule images_only;
  images_only.modality = Modality::kImage;
  std::string message;
  EXPECT_EQ(code_of("a cat", images_only, both_towers(), &message), ErrorCode::kNotAnImage);
  EXPECT_EQ(message.rfind("input[3]: not an image", 0), 0u) << message;
  ModelCapabilities vision = both_towers();
  vision.texts = false;
  EXPECT_EQ(code_of("a cat", InputRule{}, vision, &message), ErrorCode::kUnsupportedModality);
  EXPECT_NE(message.find("taken for a text"), std::string::npos) << message;
  InputRule no_urls;
  no_urls.allow_urls = false;
  EXPECT_EQ(code_of("https://x.org/a.png", no_urls, both_towers()), ErrorCode::kUrlInputsDisabled);
  EXPECT_EQ(code_of("data:image/png;base64,!!!!", InputRule{}, both_towers(), &message),
            ErrorCode::kInvalidBase64);
  EXPECT_EQ(message.rfind("input[3]: ", 0), 0u) << message;
  InputRule small_texts;
  small_texts.max_text_bytes = 4;
  EXPECT_EQ(code_of("a long text", small_texts, both_towers()), ErrorCode::kTextTooLarge);
}

TEST(InputsTest, LocalStringsAreUrlsDataUrisOrPaths) {
  EXPECT_EQ(local_image("https://x.org/a.png").kind(), ImageInput::Kind::kUrl);
  EXPECT_EQ(local_image("photos/cat.jpg").kind(), ImageInput::Kind::kFile);
  EXPECT_EQ(local_image("photos/cat.jpg").text(), "photos/cat.jpg");
  const auto png = io::read_file(testing::fixture_path("images/gray.png"));
  EXPECT_EQ(
      local_image("data:image/png;base64," + io::encode_base64(png.data(), png.size())).encoded(),
      png);
}

}  // namespace
}  // namespace clipembed::service
