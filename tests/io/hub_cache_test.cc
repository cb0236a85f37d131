#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "clipembed/error.h"
#include "clipembed/hub.h"
#include "clipembed/model.h"
#include "support/fixtures.h"

namespace clipembed {
namespace {

namespace fs = std::filesystem;

// A hub cache laid out as huggingface_hub writes it: models--ORG--NAME/{refs/main,snapshots/REV}.
class HubCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cache_ = testing::temp_path("clipembed_hub_cache");
    fs::remove_all(cache_);
    const fs::path repo = cache_ / "models--openai--clip-vit-tiny";
    fs::create_directories(repo / "refs");
    fs::create_directories(repo / "snapshots");
    fs::copy(testing::fixture_path("models/tiny"), repo / "snapshots" / "abc123");
    std::ofstream(repo / "refs" / "main") << "abc123";
    setenv("HF_HUB_CACHE", cache_.c_str(), 1);
  }
  void TearDown() override {
    unsetenv("HF_HUB_CACHE");
    fs::remove_all(cache_);
  }
  fs::path cache_;
};

TEST_F(HubCacheTest, FindsRepoIdsInTheHubCache) {
  EXPECT_EQ(hub_cache_directory(), cache_.string());
  const std::string dir = locate_model("openai/clip-vit-tiny");
  EXPECT_EQ(fs::path(dir), cache_ / "models--openai--clip-vit-tiny" / "snapshots" / "abc123");
  EXPECT_EQ(ClipModel::load(dir)->dimension(), 16);
}

TEST_F(HubCacheTest, DirectoriesPassThroughAndMissingModelsSayHowToGetThem) {
  EXPECT_EQ(locate_model(testing::fixture_path("models/tiny")),
            testing::fixture_path("models/tiny"));
  try {
    locate_model("openai/clip-vit-base-patch32");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModelInvalid);
    EXPECT_NE(std::string(e.what()).find("clipembed download openai/clip-vit-base-patch32"),
              std::string::npos);
    EXPECT_NE(std::string(e.what()).find("huggingface-cli download openai/clip-vit-base-patch32"),
              std::string::npos);
  }
  EXPECT_THROW(locate_model("not-a-model"), Error);
  EXPECT_THROW(locate_model("../etc/passwd"), Error);
}

TEST(HubCacheDirectoryTest, FollowsHuggingFaceEnvironmentVariables) {
  unsetenv("HF_HUB_CACHE");
  setenv("HF_HOME", "/data/hf", 1);
  EXPECT_EQ(hub_cache_directory(), "/data/hf/hub");
  unsetenv("HF_HOME");
  setenv("HOME", "/home/u", 1);
  unsetenv("XDG_CACHE_HOME");
  EXPECT_EQ(hub_cache_directory(), "/home/u/.cache/huggingface/hub");
}

}  // namespace
}  // namespace clipembed
