// SigLIP's and SigLIP 2's tokenizers against the ids the reference tokenizers give
// (transformers' SiglipTokenizer; the Rust tokenizer of Gemma's tokenizer.json) for the shared
// strings and the SigLIP-specific ones (added-token literals, U+2581, punctuation only, the 63/64
// boundary).
#include "text/sentencepiece_tokenizer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "clipembed/error.h"
#include "support/fixtures.h"

namespace clipembed::text {
namespace {

using testing::fixture_path;

void expect_reference_ids(const std::string& model, const std::string& tokens) {
  const auto tokenizer = SentencePieceTokenizer::load(fixture_path(model));
  std::ifstream in(fixture_path(tokens));
  const nlohmann::json root = nlohmann::json::parse(in);
  const nlohmann::json& entries = root["entries"];
  const std::vector<std::string> texts = testing::siglip_reference_strings();
  ASSERT_EQ(entries.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::vector<int32_t> expected = entries[i]["ids"];
    EXPECT_EQ(tokenizer->encode(texts[i], 64), expected) << entries[i]["name"] << ": " << texts[i];
  }
}

TEST(SentencePieceTokenizerTest, SiglipIdsEqualSiglipTokenizer) {
  expect_reference_ids("siglip/models/tiny-siglip", "siglip/tokens.json");
}

TEST(SentencePieceTokenizerTest, Siglip2IdsEqualTheRustGemmaTokenizer) {
  expect_reference_ids("siglip/models/tiny-siglip2", "siglip/tokens_gemma.json");
}

TEST(SentencePieceTokenizerTest, TheContextIsReadNotAssumed) {
  // google/siglip-so400m-patch14-224 has 16 positions: 15 ids and </s>, or padding to 16.
  const auto tokenizer = SentencePieceTokenizer::load(fixture_path("siglip/models/tiny-siglip"));
  const std::vector<int32_t> short_text = tokenizer->encode("a photo of a cat", 16);
  ASSERT_EQ(short_text.size(), 16u);
  EXPECT_EQ(short_text[5], 1);
  std::string long_text;
  for (int i = 0; i < 40; ++i) long_text += "cat ";
  const std::vector<int32_t> cut = tokenizer->encode(long_text, 16);
  ASSERT_EQ(cut.size(), 16u);
  EXPECT_EQ(cut[14], cut[0]);
  EXPECT_EQ(cut[15], 1);
}

TEST(SentencePieceTokenizerTest, InvalidUtf8IsATypedError) {
  const auto tokenizer = SentencePieceTokenizer::load(fixture_path("siglip/models/tiny-siglip2"));
  try {
    tokenizer->encode("caf\xc3", 64);
    FAIL() << "invalid UTF-8 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidText);
  }
}

TEST(SentencePieceTokenizerTest, MissingOrBrokenFilesAreNamed) {
  const std::string dir = testing::temp_path("spm-missing");
  std::filesystem::create_directories(dir);
  EXPECT_NE(SentencePieceTokenizer::missing_files(dir).find("spiece.model"), std::string::npos);
  std::ofstream(dir + "/tokenizer.json") << "{}";
  EXPECT_NE(SentencePieceTokenizer::missing_files(dir).find("tokenizer.model"), std::string::npos);
  std::ofstream(dir + "/spiece.model") << "not a protobuf";
  try {
    SentencePieceTokenizer::load(dir);
    FAIL() << "a broken spiece.model loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModelInvalid);
    EXPECT_NE(std::string(e.what()).find("spiece.model"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace clipembed::text
