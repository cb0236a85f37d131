#include "server/served_models.h"

#include <gtest/gtest.h>

#include "clipembed/error.h"
#include "support/fixtures.h"

namespace clipembed::server {
namespace {

using testing::fixture_path;

TEST(ServedModelsTest, NamesComeFromTheSpecTheDirectoryOrTheRepoId) {
  EXPECT_EQ(default_name(fixture_path("models/tiny")), "tiny");
  EXPECT_EQ(default_name(fixture_path("models/tiny") + "/"), "tiny");
  EXPECT_EQ(default_name("openai/clip-vit-base-patch32"), "openai/clip-vit-base-patch32");
  const ServedModels m({fixture_path("models/tiny"), "clip=" + fixture_path("models/tiny-p16"),
                        "openai/clip-vit-base-patch32"},
                       {});
  ASSERT_EQ(m.models().size(), 3u);
  EXPECT_EQ(m.default_model().name, "tiny");
  EXPECT_EQ(m.models()[1].name, "clip");
  EXPECT_EQ(m.models()[1].reference, fixture_path("models/tiny-p16"));
  EXPECT_EQ(m.find("")->name, "tiny");
  EXPECT_EQ(m.find("openai/clip-vit-base-patch32")->reference, "openai/clip-vit-base-patch32");
  EXPECT_FALSE(m.find(fixture_path("models/tiny")).has_value());  // Paths are not names.
  EXPECT_EQ(m.directories().at("clip"), fixture_path("models/tiny-p16"));
}

TEST(ServedModelsTest, AliasesMapToModels) {
  const ServedModels m(
      {"clip=" + fixture_path("models/tiny"), "p16=" + fixture_path("models/tiny-p16")},
      {"default/not-specified", "text-embedding-3-small=p16"});
  EXPECT_EQ(m.find("default/not-specified")->name, "clip");
  EXPECT_EQ(m.find("text-embedding-3-small")->name, "p16");
  EXPECT_EQ(m.names_of("clip"), (std::vector<std::string>{"clip", "default/not-specified"}));
}

TEST(ServedModelsTest, ClashesAreErrors) {
  auto code = [](std::vector<std::string> models, std::vector<std::string> aliases) {
    try {
      ServedModels(std::move(models), std::move(aliases));
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::kInternal;
  };
  EXPECT_EQ(code({}, {}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code({"a=x", "a=y"}, {}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code({"a=x"}, {"b=nope"}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code({"a=x"}, {"a"}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code({"a="}, {}), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace clipembed::server
