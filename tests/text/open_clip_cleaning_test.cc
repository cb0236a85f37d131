// open_clip's text cleaning against values Python computes: html.unescape (Debian's Python 3.11)
// and str.lower() with its final-sigma rule. The ftfy steps are checked through the token ids of
// tests/fixtures/open_clip (open_clip_model_test.cc).
#include "text/open_clip_cleaning.h"

#include <gtest/gtest.h>

#include "clipembed/error.h"
#include "text/normalizer.h"

namespace clipembed::text {
namespace {

std::string utf8(const std::u32string& s) {
  std::string out;
  for (char32_t c : s) append_utf8(out, c);
  return out;
}

std::u32string utf32(const std::string& s) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    size_t n = 0;
    out += decode_at(s, i, &n);
    i += n;
  }
  return out;
}

TEST(OpenClipCleaningTest, HtmlUnescapeIsPythons) {
  const std::pair<const char*, const char*> cases[] = {
      {"&amp", "&"},          {"&ampx", "&x"},
      {"&#65;", "A"},         {"&#x1F600;", "\U0001F600"},
      {"&#0;", "\uFFFD"},     {"&#128;", "\u20AC"},
      {"&#xD800;", "\uFFFD"}, {"&notit;", "\u00ACit;"},
      {"&notin;", "\u2209"},  {"&copy", "\u00A9"},
      {"&#65", "A"},          {"a&b", "a&b"},
      {"&#X41", "A"},         {"&#1114112;", "\uFFFD"},
      {"&;", "&;"},           {"&amp;amp;", "&amp;"},
      {"&lt&gt", "<>"},       {"&#x;", "&#x;"}};
  for (const auto& [in, want] : cases) EXPECT_EQ(utf8(html_unescape(utf32(in))), want) << in;
}

TEST(OpenClipCleaningTest, CapitalSigmaLowersAsPythonDoes) {
  const std::pair<const char*, const char*> cases[] = {
      {"\u039F\u0394\u03A5\u03A3\u03A3\u0395\u03A5\u03A3",
       "\u03BF\u03B4\u03C5\u03C3\u03C3\u03B5\u03C5\u03C2"},
      {"\u03A3", "\u03C3"},
      {"\u0391\u03A3.", "\u03B1\u03C2."},
      {"\u0391\u03A3\u0391", "\u03B1\u03C3\u03B1"},
      {"\u0391.\u03A3", "\u03B1.\u03C2"},
      {"\u0391\u03A3\u0301 \u0392", "\u03B1\u03C2\u0301 \u03B2"},
      {"\u0130STANBUL", "i\u0307stanbul"}};
  for (const auto& [in, want] : cases) EXPECT_EQ(open_clip_clean(in), want) << in;
}

TEST(OpenClipCleaningTest, WhitespaceControlsAndInvalidUtf8) {
  EXPECT_EQ(open_clip_clean("  A\t\u00A0 photo\r\n\x1b[31mof\x1b[0m a\u0007 cat  "),
            "a photo of a cat");
  EXPECT_EQ(open_clip_clean(""), "");
  EXPECT_EQ(open_clip_clean("fish &amp;amp;amp; chips"), "fish & chips");
  // ftfy leaves HTML alone in a line with '<'; html.unescape twice still runs.
  EXPECT_EQ(open_clip_clean("<b>&amp;amp;amp;</b>"), "<b>&amp;</b>");
  try {
    open_clip_clean("\xff\xfe");
    FAIL() << "invalid UTF-8 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidText);
  }
}

}  // namespace
}  // namespace clipembed::text
