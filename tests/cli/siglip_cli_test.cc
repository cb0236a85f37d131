// The SigLIP family through the real binary: the same commands as for CLIP give transformers'
// vectors, ids and sigmoid zero-shot scores, and `info` names the family and its rule.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
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

std::vector<nlohmann::json> lines_of(const std::string& text) {
  std::vector<nlohmann::json> records;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) records.push_back(nlohmann::json::parse(line));
  return records;
}

class SiglipCliTest : public ::testing::TestWithParam<const char*> {
 protected:
  std::string model() const { return fixture_path(std::string("siglip/models/") + GetParam()); }
  std::string reference(const std::string& kind) const {
    return fixture_path("siglip/" + kind + "_" + GetParam() + ".npy");
  }
};

TEST_P(SiglipCliTest, EmbedGivesTransformersImageVectors) {
  std::vector<std::string> args{"embed", "--model", model()};
  for (const std::string& name : testing::valid_image_names()) {
    args.push_back(fixture_path("images/" + name));
  }
  const auto r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto records = lines_of(r.out);
  const auto expected = testing::read_npy(reference("image_embeds"));
  ASSERT_EQ(records.size(), static_cast<size_t>(expected.shape[0]));
  for (size_t i = 0; i < records.size(); ++i) {
    const auto v = records[i]["embedding"].get<std::vector<float>>();
    EXPECT_TRUE(testing::embeddings_match(v.data(), expected.as<float>() + i * 32, 32)) << i;
  }
}

TEST_P(SiglipCliTest, EmbedTextAndTokenizeGiveTransformersTexts) {
  const std::vector<std::string> texts = testing::siglip_reference_strings();
  std::vector<std::string> args{"embed-text", "--model", model()};
  args.insert(args.end(), texts.begin(), texts.begin() + 12);
  const auto r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto records = lines_of(r.out);
  const auto expected = testing::read_npy(reference("text_embeds"));
  ASSERT_EQ(records.size(), 12u);
  for (size_t i = 0; i < records.size(); ++i) {
    const auto v = records[i]["embedding"].get<std::vector<float>>();
    EXPECT_TRUE(testing::embeddings_match(v.data(), expected.as<float>() + i * 32, 32)) << i;
  }
  const auto tokens = run_cli({"tokenize", "--model", model(), "a photo </s> of a cat"});
  ASSERT_EQ(tokens.exit_code, 0) << tokens.err;
  EXPECT_EQ(lines_of(tokens.out)[0]["ids"].size(), 64u);  // Padded: the last position is pooled.
}

// classify prints each label's own probability: sigmoid(logits_per_image), not a softmax.
TEST_P(SiglipCliTest, ClassifyGivesTheSigmoidOfTransformersLogits) {
  const std::vector<std::string> texts = testing::siglip_reference_strings();
  const std::string labels_file = testing::temp_path(std::string("labels-") + GetParam());
  {
    std::ofstream out(labels_file);
    for (int i = 0; i < 5; ++i) out << texts[i] << "\n";
  }
  std::vector<std::string> args{"classify", "--model",       model(),    "--template",
                                "{}",       "--labels-from", labels_file};
  for (const std::string& name : testing::valid_image_names()) {
    args.push_back(fixture_path("images/" + name));
  }
  const auto r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("sigmoid"), std::string::npos) << r.err;
  const auto records = lines_of(r.out);
  const auto logits = testing::read_npy(reference("logits_per_image"));
  ASSERT_EQ(records.size(), static_cast<size_t>(logits.shape[0]));
  for (size_t i = 0; i < records.size(); ++i) {
    for (const auto& entry : records[i]["labels"]) {
      const size_t j = std::find(texts.begin(), texts.begin() + 5, entry["label"]) - texts.begin();
      ASSERT_LT(j, 5u);
      const double want = 1.0 / (1.0 + std::exp(-double{logits.as<float>()[i * 5 + j]}));
      EXPECT_NEAR(entry["score"].get<double>(), want, 1e-5) << i;
    }
  }
  std::remove(labels_file.c_str());
}

TEST_P(SiglipCliTest, InfoNamesTheFamilyAndItsRule) {
  const auto r = run_cli({"info", "--model", model()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("family:         siglip (zero-shot: sigmoid"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("attention-pooling head"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("aspect not kept"), std::string::npos) << r.out;
}

INSTANTIATE_TEST_SUITE_P(Families, SiglipCliTest, ::testing::Values("tiny-siglip", "tiny-siglip2"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace clipembed
