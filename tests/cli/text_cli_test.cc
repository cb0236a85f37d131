// The text commands of the real binary: tokenize, embed-text and classify.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "clipembed/model.h"
#include "support/fixtures.h"
#include "support/npy.h"

namespace clipembed {
namespace {

using testing::fixture_path;

struct Result {
  int exit_code;
  std::string out;
};

Result run(const std::string& args) {
  FILE* pipe = popen(
      ("bash -c \"" + std::string(CLIPEMBED_CLI_PATH) + " " + args + " 2>/dev/null\"").c_str(),
      "r");
  Result r{-1, ""};
  if (pipe == nullptr) return r;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;) r.out.append(buf, n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::vector<nlohmann::json> lines_of(const std::string& text) {
  std::vector<nlohmann::json> records;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) records.push_back(nlohmann::json::parse(line));
  return records;
}

// " --model DIR " (appended, not concatenated: GCC 12 warns falsely on some chains of string +).
std::string model_flag() {
  std::string flag = " --model ";
  flag += fixture_path("models/tiny-clip");
  flag += ' ';
  return flag;
}
const std::string kModel = model_flag();

TEST(TextCliTest, TokenizeAndEmbedTextEqualTheLibrary) {
  auto model = ClipModel::load(fixture_path("models/tiny-clip"));
  const Result tokens = run("tokenize" + kModel + "'a photo of a cat' 'Hello, World!'");
  ASSERT_EQ(tokens.exit_code, 0);
  const auto records = lines_of(tokens.out);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0]["text"], "a photo of a cat");
  EXPECT_EQ(records[0]["ids"].get<std::vector<int32_t>>(), model->tokenize("a photo of a cat"));
  const Result embedded = run("embed-text --normalize" + kModel + "'a photo of a cat'");
  ASSERT_EQ(embedded.exit_code, 0);
  EXPECT_EQ(lines_of(embedded.out)[0]["embedding"].get<std::vector<float>>(),
            model->embed_text("a photo of a cat", {.normalize = true}));
}

// --texts-from: lines, or {"text"} objects in a .jsonl file (texts may then hold newlines); npy
// output keeps each text recoverable.
TEST(TextCliTest, TextsFromFilesAndNpyOutput) {
  const std::string jsonl = testing::temp_path("clipembed_texts.jsonl");
  std::ofstream(jsonl) << "{\"text\": \"two\\nlines\"}\n{\"text\": \"a diagram\"}\n";
  const std::string out = testing::temp_path("clipembed_texts.npy");
  ASSERT_EQ(run("embed-text" + kModel + "--texts-from " + jsonl + " -o " + out).exit_code, 0);
  auto model = ClipModel::load(fixture_path("models/tiny-clip"));
  const auto npy = testing::read_npy(out);
  ASSERT_EQ(npy.shape, (std::vector<int64_t>{2, 16}));
  EXPECT_EQ(std::vector<float>(npy.as<float>(), npy.as<float>() + 16),
            model->embed_text("two\nlines"));
  std::ifstream texts(out + ".texts.txt");
  std::string first;
  std::getline(texts, first);
  EXPECT_EQ(nlohmann::json::parse(first), "two\nlines");
  const Result lines = run("embed-text" + kModel + "--texts-from - <<< $'a cat\\na dog'");
  EXPECT_EQ(lines_of(lines.out).size(), 2u);
  for (const char* suffix : {"", ".texts.txt", ".errors.jsonl"})
    std::remove((out + suffix).c_str());
  std::remove(jsonl.c_str());
}

TEST(TextCliTest, BadTextsFailAloneAndModelsWithoutTextSaySo) {
  const Result r = run("embed-text" + kModel + "'good' $'bad \\xff' ''");
  EXPECT_EQ(r.exit_code, 3);
  std::istringstream lines(r.out);
  std::string good, bad, empty;
  std::getline(lines, good);
  std::getline(lines, bad);
  std::getline(lines, empty);
  EXPECT_TRUE(nlohmann::json::parse(good).contains("embedding"));
  // The byte that is not UTF-8 is kept as \udcff (see io::json_string), which strict JSON
  // parsers such as nlohmann's refuse; Python's json reads it.
  EXPECT_EQ(bad.rfind(R"({"text": "bad \udcff", "error": {"code": "invalid_text")", 0), 0u) << bad;
  EXPECT_TRUE(nlohmann::json::parse(empty).contains("embedding"));  // Start and end tokens.
  EXPECT_EQ(run("embed-text --model " + fixture_path("models/tiny") + " 'a cat'").exit_code, 2);
}

// The acceptance check: classify on every fixture image with the five fixture labels and
// template {} gives softmax(logits_per_image) of transformers within 1e-5, in score order.
TEST(TextCliTest, ClassifyGivesTheSoftmaxOfTransformersLogits) {
  std::ifstream in(fixture_path("text/strings.json"));
  const auto strings = nlohmann::json::parse(in)["strings"];
  std::string labels_file = testing::temp_path("clipembed_labels.txt");
  std::vector<std::string> labels;
  {
    std::ofstream out(labels_file);
    for (int i = 0; i < 5; ++i) {
      labels.push_back(strings[i]["text"]);
      out << labels.back() << "\n";
    }
  }
  std::string images;
  for (const std::string& name : testing::valid_image_names()) {
    images += ' ';
    images += fixture_path("images/" + name);
  }
  const Result r =
      run("classify" + kModel + "--template '{}' --labels-from " + labels_file + images);
  ASSERT_EQ(r.exit_code, 0);
  const auto records = lines_of(r.out);
  const auto logits = testing::read_npy(fixture_path("text/logits_tiny-clip.npy"));
  ASSERT_EQ(records.size(), static_cast<size_t>(logits.shape[0]));
  for (size_t i = 0; i < records.size(); ++i) {
    const float* row = logits.as<float>() + i * 5;
    const double max = *std::max_element(row, row + 5);
    double sum = 0;
    for (int j = 0; j < 5; ++j) sum += std::exp(row[j] - max);
    const auto& scored = records[i]["labels"];
    ASSERT_EQ(scored.size(), 5u);
    double previous = 2;
    for (const auto& entry : scored) {
      const size_t j = std::find(labels.begin(), labels.end(), entry["label"]) - labels.begin();
      ASSERT_LT(j, 5u);
      EXPECT_NEAR(entry["score"].get<double>(), std::exp(row[j] - max) / sum, 1e-5) << i;
      EXPECT_LE(entry["score"].get<double>(), previous);
      previous = entry["score"].get<double>();
    }
  }
  const Result top = run("classify" + kModel + "--labels 'a cat,a dog' --top-k 1 " +
                         fixture_path("images/square.jpg"));
  EXPECT_EQ(lines_of(top.out)[0]["labels"].size(), 1u);
  // --labels takes one value: an image named right after it is an image, not a label.
  const Result next =
      run("classify" + kModel + "--labels 'a cat,a dog' " + fixture_path("images/square.jpg"));
  ASSERT_EQ(next.exit_code, 0) << next.out;
  EXPECT_EQ(lines_of(next.out)[0]["labels"].size(), 2u);
  std::remove(labels_file.c_str());
}

}  // namespace
}  // namespace clipembed
