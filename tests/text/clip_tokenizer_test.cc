// The tokenizer against the ids Hugging Face's Rust tokenizer computes (tests/fixtures/text).
#include "text/clip_tokenizer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>

#include "clipembed/error.h"
#include "support/fixtures.h"
#include "text/normalizer.h"

namespace clipembed::text {
namespace {

using clipembed::testing::fixture_path;

nlohmann::json token_entries() {
  std::ifstream in(fixture_path("text/tokens.json"));
  return nlohmann::json::parse(in)["entries"];
}

class TokenizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    from_json_ = ClipTokenizer::load(fixture_path("tokenizer")).release();
  }
  static void TearDownTestSuite() { delete from_json_; }
  static ClipTokenizer* from_json_;
};
ClipTokenizer* TokenizerTest::from_json_ = nullptr;

TEST_F(TokenizerTest, NormalizedTextAndPiecesEqualTheReference) {
  for (const nlohmann::json& e : token_entries()) {
    const std::string normalized = normalize(e["text"].get<std::string>());
    EXPECT_EQ(normalized, e["normalized"].get<std::string>()) << e["name"];
    std::vector<std::string> pieces;
    for (std::string_view p : split_pieces(normalized)) pieces.emplace_back(p);
    EXPECT_EQ(pieces, e["pieces"].get<std::vector<std::string>>()) << e["name"];
  }
}

TEST_F(TokenizerTest, IdsEqualTheRustTokenizerIncludingTruncation) {
  int truncated = 0;
  for (const nlohmann::json& e : token_entries()) {
    const std::vector<int32_t> ids = from_json_->encode(e["text"].get<std::string>(), 77);
    EXPECT_EQ(ids, e["ids"].get<std::vector<int32_t>>()) << e["name"];
    truncated += e["truncated"].get<bool>();
  }
  EXPECT_GE(truncated, 2) << "the fixture should exercise truncation";
}

// vocab.json + merges.txt (the slow tokenizer's files) give the same ids as tokenizer.json.
TEST_F(TokenizerTest, VocabAndMergesGiveTheSameIds) {
  const std::string dir = clipembed::testing::temp_path("clipembed_vocab_merges");
  std::filesystem::create_directories(dir);
  for (const char* f : {"vocab.json", "merges.txt"}) {
    std::filesystem::copy_file(fixture_path(std::string("tokenizer/") + f), dir + "/" + f,
                               std::filesystem::copy_options::overwrite_existing);
  }
  const auto slow_files = ClipTokenizer::load(dir);
  for (const nlohmann::json& e : token_entries()) {
    EXPECT_EQ(slow_files->encode(e["text"].get<std::string>(), 77),
              e["ids"].get<std::vector<int32_t>>())
        << e["name"];
  }
  std::filesystem::remove_all(dir);
}

TEST_F(TokenizerTest, EmptyAndWhitespaceTextsAreStartAndEnd) {
  for (const char* text : {"", " ", "\t\n  \u3000"}) {
    EXPECT_EQ(from_json_->encode(text, 77), (std::vector<int32_t>{49406, 49407})) << text;
  }
}

TEST_F(TokenizerTest, InvalidUtf8IsATypedError) {
  for (std::string text :
       {std::string("caf\xc3"), std::string("\xff\xfe"), std::string("a\xed\xa0\x80")}) {
    try {
      from_json_->encode(text, 77);
      ADD_FAILURE() << "accepted invalid UTF-8";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidText);
    }
  }
}

// A megabyte of text is truncated to its first 75 tokens, whether it has spaces or is one word,
// in the time it takes to normalize and split it.
TEST_F(TokenizerTest, AMegabyteIsTruncatedQuickly) {
  std::string words, one_word(1 << 20, 'a');
  while (words.size() < (1u << 20)) words += "a photo of a cat ";
  for (const std::string* text : {&words, &one_word}) {
    const auto start = std::chrono::steady_clock::now();
    const std::vector<int32_t> ids = from_json_->encode(*text, 77);
    EXPECT_EQ(ids.size(), 77u);
    EXPECT_EQ(ids.front(), 49406);
    EXPECT_EQ(ids.back(), 49407);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  }
}

TEST(TokenizerFilesTest, MissingFilesAreNamed) {
  try {
    ClipTokenizer::load(fixture_path("models/tiny"));
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModelInvalid);
    EXPECT_NE(std::string(e.what()).find("tokenizer.json, or vocab.json and merges.txt"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace clipembed::text
