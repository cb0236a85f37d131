#include "server/request_json.h"

#include <gtest/gtest.h>

#include "server/api_error.h"

namespace clipembed::server {
namespace {

ApiError error_of(const std::string& body, JsonLimits limits = {}) {
  try {
    parse_flat_object(body, limits);
  } catch (const ApiError& e) {
    return e;
  }
  return ApiError{0, "", "none", "", 0};
}

TEST(RequestJsonTest, KeepsScalarsAndListsOfStrings) {
  const auto f = parse_flat_object(
      R"({"s": "x", "n": 3, "f": 1.5, "b": true, "z": null, "l": ["a", "b"], "m": ["a", 7]})", {});
  EXPECT_EQ(f.at("s").string, "x");
  EXPECT_EQ(f.at("n").kind, JsonField::Kind::kInteger);
  EXPECT_EQ(f.at("n").number, 3);
  EXPECT_EQ(f.at("f").kind, JsonField::Kind::kNumber);
  EXPECT_TRUE(f.at("b").boolean);
  EXPECT_EQ(f.at("z").kind, JsonField::Kind::kNull);
  EXPECT_EQ(f.at("l").items, (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(f.at("l").non_string.has_value());
  EXPECT_EQ(f.at("m").non_string, 1u);
}

TEST(RequestJsonTest, RefusesWhatIsNotAFlatObject) {
  EXPECT_EQ(error_of("").code, "invalid_json");
  EXPECT_EQ(error_of("{").code, "invalid_json");
  EXPECT_EQ(error_of("[1]").code, "invalid_json");
  EXPECT_EQ(error_of("\"text\"").code, "invalid_json");
  EXPECT_EQ(error_of(R"({"a": 1} trailing)").code, "invalid_json");
  EXPECT_EQ(error_of(R"({"a": {"b": 1}})").code, "invalid_json");
  EXPECT_EQ(error_of(R"({"a": [["b"]]})").code, "invalid_json");
  // 100k nested lists stop at the second.
  EXPECT_EQ(error_of(std::string(100000, '[')).status, 400);
  EXPECT_EQ(error_of("{\"input\": " + std::string(100000, '[')).status, 400);
}

TEST(RequestJsonTest, CapsListItemsAndFields) {
  const ApiError many = error_of(R"({"input": ["a", "b", "c"]})", {.max_list_items = 2});
  EXPECT_EQ(many.status, 413);
  EXPECT_EQ(many.code, "too_many_inputs");
  EXPECT_EQ(error_of(R"({"labels": ["a", "b", "c"]})", {.max_list_items = 2}).code,
            "too_many_items");
  std::string wide = "{";
  for (int i = 0; i < 100; ++i) wide += (i ? ", \"k" : "\"k") + std::to_string(i) + "\": 1";
  EXPECT_EQ(error_of(wide + "}").status, 400);
}

}  // namespace
}  // namespace clipembed::server
