#include "io/json_text.h"

#include <gtest/gtest.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

namespace clipembed::io {
namespace {

TEST(JsonTextTest, FloatsInShortestFormReadBackExactly) {
  const std::vector<float> values{0.1f, -3.0f, 1e-30f, 123456.78f, 0.0f};
  std::string out = "x";
  append_json_floats(out, values);
  EXPECT_EQ(out, "x[0.1, -3, 1e-30, 123456.78, 0]");
  EXPECT_EQ(nlohmann::json::parse(out.substr(1)).get<std::vector<float>>(), values);
}

TEST(JsonTextTest, NonFiniteFloatsAreNullAndEmptyIsAnEmptyArray) {
  std::string out;
  append_json_floats(out, std::vector<float>{std::numeric_limits<float>::quiet_NaN(), 1.5f,
                                             -std::numeric_limits<float>::infinity()});
  EXPECT_EQ(out, "[null, 1.5, null]");
  out.clear();
  append_json_floats(out, std::vector<float>{});
  EXPECT_EQ(out, "[]");
}

TEST(JsonTextTest, StringsAreEscapedAndInvalidUtf8KeptAsSurrogateEscapes) {
  EXPECT_EQ(json_string("a\"b\n"), R"("a\"b\n")");
  EXPECT_EQ(json_string("caf\xff"), R"("caf\udcff")");
  // Valid multi-byte UTF-8 stays as it is.
  EXPECT_EQ(json_string("caf\xC3\xA9"), "\"caf\xC3\xA9\"");
  // Line and paragraph separators are escaped: str.splitlines() would split the line at them.
  EXPECT_EQ(json_string("a\xE2\x80\xA8"
                        "b\xE2\x80\xA9"),
            R"("a\u2028b\u2029")");
}

TEST(JsonTextTest, ParsedStringsGiveBackTheExactBytes) {
  for (const std::string& bytes :
       {std::string("plain"), std::string("q\"b\\n\nt\t"), std::string("caf\xff\xfe"),
        std::string("\xC3\xA9\x80"), std::string("nul\0byte", 8),
        std::string("line\xE2\x80\xA8sep\xE2\x80\xA9")}) {
    EXPECT_EQ(parse_json_string(json_string(bytes)), bytes);
  }
  EXPECT_EQ(parse_json_string(R"("\u00e9")"), "\xC3\xA9");
  EXPECT_FALSE(parse_json_string(R"("open)").has_value());
  EXPECT_FALSE(parse_json_string(R"("a" trailing)").has_value());
}

}  // namespace
}  // namespace clipembed::io
