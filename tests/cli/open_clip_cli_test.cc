// An OpenCLIP checkpoint through the real binary: the same commands as for any CLIP give
// open_clip's own vectors and zero-shot scores, an index of it finds each image first, and `info`
// names the format.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/cli_process.h"
#include "support/fixtures.h"
#include "support/npy.h"

namespace clipembed {
namespace {

using testing::fixture_path;
using testing::run_cli;

const std::string kModel = "open_clip/models/tiny-open-clip";

std::vector<nlohmann::json> lines_of(const std::string& text) {
  std::vector<nlohmann::json> records;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) records.push_back(nlohmann::json::parse(line));
  return records;
}

std::vector<std::string> image_paths() {
  std::ifstream in(fixture_path("open_clip/manifest.json"));
  const nlohmann::json m = nlohmann::json::parse(in);
  std::vector<std::string> paths;
  for (const auto& name : m["images"])
    paths.push_back(fixture_path("images/" + name.get<std::string>()));
  return paths;
}

TEST(OpenClipCliTest, EmbedAndEmbedTextGiveOpenClipsVectors) {
  std::vector<std::string> args{"embed", "--model", fixture_path(kModel)};
  const std::vector<std::string> paths = image_paths();
  args.insert(args.end(), paths.begin(), paths.end());
  const auto r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto records = lines_of(r.out);
  const auto images = testing::read_npy(fixture_path("open_clip/image_embeds_tiny-open-clip.npy"));
  ASSERT_EQ(records.size(), paths.size());
  for (size_t i = 0; i < records.size(); ++i) {
    const auto v = records[i]["embedding"].get<std::vector<float>>();
    EXPECT_TRUE(testing::embeddings_match(v.data(), images.as<float>() + i * 16, 16)) << paths[i];
  }
  // The strings whose ids open_clip's cleaning changes (HTML entities, curly quotes, fullwidth
  // forms, ligatures, mojibake, a capital sigma at a word's end).
  std::ifstream in(fixture_path("text/strings.json"));
  const nlohmann::json strings = nlohmann::json::parse(in)["strings"];
  std::vector<std::string> cleaned{"embed-text", "--model", fixture_path(kModel)};
  std::vector<size_t> rows;
  for (size_t i = 0; i < strings.size(); ++i) {
    const std::string name = strings[i]["name"];
    for (const char* n : {"html_entities", "html_more", "curly_quotes", "fullwidth", "ligatures",
                          "mojibake", "greek_sigma"}) {
      if (name == n) cleaned.push_back(strings[i]["text"]), rows.push_back(i);
    }
  }
  const auto t = run_cli(cleaned);
  ASSERT_EQ(t.exit_code, 0) << t.err;
  const auto texts = testing::read_npy(fixture_path("open_clip/text_embeds_tiny-open-clip.npy"));
  const auto text_records = lines_of(t.out);
  ASSERT_EQ(text_records.size(), 7u);
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto v = text_records[i]["embedding"].get<std::vector<float>>();
    EXPECT_TRUE(testing::embeddings_match(v.data(), texts.as<float>() + rows[i] * 16, 16))
        << strings[rows[i]]["name"];
  }
}

TEST(OpenClipCliTest, InfoNamesTheFormatAndAnIndexFindsEachImage) {
  const auto info = run_cli({"info", "--model", fixture_path(kModel)});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("format:         open_clip (open_clip_config.json + "
                          "open_clip_model.safetensors)"),
            std::string::npos)
      << info.out;
  EXPECT_NE(info.out.find("family:         clip (zero-shot: softmax"), std::string::npos)
      << info.out;
  const std::string index = testing::temp_path("open-clip-index");
  std::filesystem::remove_all(index);
  std::vector<std::string> args{"index",    "build", "--model", fixture_path(kModel),
                                "--output", index};
  const std::vector<std::string> paths = image_paths();
  args.insert(args.end(), paths.begin(), paths.begin() + 8);
  const auto built = run_cli(args);
  ASSERT_EQ(built.exit_code, 0) << built.err;
  for (size_t i = 0; i < 8; ++i) {
    const auto found = run_cli({"search", index, "--image", paths[i], "-k", "1"});
    ASSERT_EQ(found.exit_code, 0) << found.err;
    EXPECT_NE(found.out.find(paths[i]), std::string::npos) << found.out;
  }
  std::filesystem::remove_all(index);
}

}  // namespace
}  // namespace clipembed
