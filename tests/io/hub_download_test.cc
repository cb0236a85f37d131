#include "io/hub_download.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "clipembed/error.h"
#include "clipembed/hub.h"
#include "clipembed/model.h"
#include "io/file.h"
#include "support/fixtures.h"
#include "support/http_test_server.h"
#include "support/hub_test_server.h"

namespace clipembed::io {
namespace {

namespace fs = std::filesystem;
using testing::HubTestServer;

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class HubDownloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cache_ = testing::temp_path("clipembed_hub_cache");
    fs::remove_all(cache_);
    options_.endpoint = server_.endpoint();
    options_.cache_dir = cache_.string();
    options_.file_done = [this](const std::string& file, bool downloaded) {
      (downloaded ? downloaded_ : cached_).push_back(file);
    };
  }
  void TearDown() override { fs::remove_all(cache_); }
  fs::path repo() const { return cache_ / "models--test-org--tiny-clip"; }
  fs::path blob() const { return repo() / "blobs" / server_.weights_sha256(); }

  HubTestServer server_;
  fs::path cache_;
  HubDownloadOptions options_;
  std::vector<std::string> downloaded_, cached_;
};

TEST_F(HubDownloadTest, FillsTheHubCacheLayoutAndTheModelLoadsFromIt) {
  const std::string snapshot = download_from_hub(HubTestServer::kRepo, options_);
  EXPECT_EQ(fs::path(snapshot), repo() / "snapshots" / HubTestServer::kCommit);
  EXPECT_EQ(slurp(repo() / "refs" / "main"), HubTestServer::kCommit);
  for (const char* file : {"config.json", "preprocessor_config.json", "model.safetensors"}) {
    const fs::path link = fs::path(snapshot) / file;
    ASSERT_TRUE(fs::is_symlink(link)) << file;
    EXPECT_EQ(fs::read_symlink(link).string().rfind("../../blobs/", 0), 0u) << file;
    EXPECT_EQ(slurp(link), slurp(testing::fixture_path(std::string("models/tiny/") + file)));
  }
  EXPECT_EQ(slurp(blob()), server_.weights());
  EXPECT_EQ(downloaded_.size(), 3u);
  // The locator finds it by repo id, and it embeds like the bundled copy.
  setenv("HF_HUB_CACHE", cache_.c_str(), 1);
  const std::string located = locate_model(HubTestServer::kRepo);
  unsetenv("HF_HUB_CACHE");
  EXPECT_EQ(located, snapshot);
  const std::string image = testing::fixture_path("images/square.jpg");
  EXPECT_EQ(ClipModel::load(located)->embed_image(image),
            ClipModel::load(testing::fixture_path("models/tiny"))->embed_image(image));

  // A second run finds everything cached and transfers no weights.
  const size_t sent = server_.weight_bytes_sent();
  downloaded_.clear();
  EXPECT_EQ(download_from_hub(HubTestServer::kRepo, options_), snapshot);
  EXPECT_TRUE(downloaded_.empty());
  EXPECT_EQ(cached_.size(), 3u);
  EXPECT_EQ(server_.weight_bytes_sent(), sent);
}

TEST_F(HubDownloadTest, ResumesAnInterruptedDownloadWithARangeRequest) {
  constexpr size_t kCut = 200000;
  server_.cut_weights_after(kCut);
  try {
    download_from_hub(HubTestServer::kRepo, options_);
    FAIL() << "the cut transfer succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUrlFetch) << e.what();
  }
  const fs::path partial = blob().string() + ".incomplete";
  ASSERT_TRUE(fs::exists(partial));
  EXPECT_EQ(fs::file_size(partial), kCut);
  EXPECT_FALSE(fs::exists(blob()));

  server_.cut_weights_after(0);
  download_from_hub(HubTestServer::kRepo, options_);
  EXPECT_EQ(slurp(blob()), server_.weights());
  EXPECT_FALSE(fs::exists(partial));
  EXPECT_EQ(server_.range_headers().back(), "bytes=" + std::to_string(kCut) + "-");
  EXPECT_EQ(server_.weight_bytes_sent(), server_.weights().size());  // Nothing sent twice.
}

TEST_F(HubDownloadTest, AChecksumMismatchRemovesTheDownload) {
  server_.corrupt_weights(true);
  try {
    download_from_hub(HubTestServer::kRepo, options_);
    FAIL() << "corrupt weights were accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find("sha256"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(blob()));
  EXPECT_FALSE(fs::exists(blob().string() + ".incomplete"));
}

TEST_F(HubDownloadTest, APrivateRepositoryNeedsTheToken) {
  server_.require_token("hf_secret");
  try {
    download_from_hub(HubTestServer::kRepo, options_);
    FAIL() << "downloaded without the token";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUrlStatus);
    EXPECT_NE(std::string(e.what()).find("HF_TOKEN"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(blob()));  // Nothing was written without the token.
  options_.token = "hf_wrong";
  EXPECT_THROW(download_from_hub(HubTestServer::kRepo, options_), Error);
  options_.token = "hf_secret";
  const std::string snapshot = download_from_hub(HubTestServer::kRepo, options_);
  EXPECT_EQ(slurp(fs::path(snapshot) / "model.safetensors"), server_.weights());
  EXPECT_EQ(downloaded_.size(), 3u);
}

TEST_F(HubDownloadTest, UnknownRepositoriesRevisionsAndFilesAreTypedErrors) {
  auto code_of = [&](const std::string& repo, const HubDownloadOptions& o) {
    try {
      download_from_hub(repo, o);
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::kInternal;
  };
  EXPECT_EQ(code_of("test-org/other", options_), ErrorCode::kUrlStatus);
  HubDownloadOptions revision = options_;
  revision.revision = "v9";
  EXPECT_EQ(code_of(HubTestServer::kRepo, revision), ErrorCode::kUrlStatus);
  HubDownloadOptions file = options_;
  file.files = {"pytorch_model.bin"};
  EXPECT_EQ(code_of(HubTestServer::kRepo, file), ErrorCode::kUrlStatus);
  for (const char* bad : {"no-slash", "../etc/passwd", "a/b/c", "/x"}) {
    EXPECT_EQ(code_of(bad, options_), ErrorCode::kInvalidArgument) << bad;
  }
  HubDownloadOptions refused = options_;
  refused.endpoint = "http://127.0.0.1:" + std::to_string(testing::closed_port());
  EXPECT_EQ(code_of(HubTestServer::kRepo, refused), ErrorCode::kUrlConnect);
}

TEST(Sha256Test, MatchesTheStandardTestVector) {
  const std::string path = testing::temp_path("clipembed_sha_abc");
  std::ofstream(path) << "abc";
  EXPECT_EQ(sha256_file(path), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace clipembed::io
