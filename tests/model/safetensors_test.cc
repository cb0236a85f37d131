#include "model/safetensors.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "clipembed/error.h"
#include "clipembed/model.h"
#include "io/file.h"
#include "support/fixtures.h"

namespace clipembed::model {
namespace {

std::vector<uint8_t> build(const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> out(8 + header.size() + data_bytes, 0);
  const uint64_t n = header.size();
  for (size_t i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
  std::copy(header.begin(), header.end(), out.begin() + 8);
  return out;
}

std::string error_of(const std::vector<uint8_t>& bytes) {
  try {
    SafetensorsFile file(bytes, "test.safetensors");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModelInvalid);
    return e.what();
  }
  return "";
}

TEST(SafetensorsTest, ParsesAValidFile) {
  auto bytes = build(R"({"__metadata__":{"format":"pt"},
      "a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},
      "b":{"dtype":"I64","shape":[1],"data_offsets":[24,32]}})",
                     32);
  SafetensorsFile file(bytes, "x");
  ASSERT_NE(file.find("a"), nullptr);
  EXPECT_EQ(file.find("a")->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(file.find("b")->data.size(), 8u);
  EXPECT_EQ(file.find("c"), nullptr);
}

TEST(SafetensorsTest, RejectsMalformedFiles) {
  const std::vector<uint8_t> tiny = {1, 2, 3};
  EXPECT_NE(error_of(tiny).find("too short"), std::string::npos);
  auto huge = build("{}", 0);
  huge[5] = 1;  // Header length far past the end.
  EXPECT_NE(error_of(huge).find("header length"), std::string::npos);
  EXPECT_NE(error_of(build("{not json", 0)).find("JSON"), std::string::npos);
  EXPECT_NE(error_of(build(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8))
                .find("outside"),
            std::string::npos);
  EXPECT_NE(error_of(build(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", 16))
                .find("does not match"),
            std::string::npos);
  EXPECT_NE(error_of(build(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},
                               "b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                           24))
                .find("overlap"),
            std::string::npos);
  EXPECT_NE(error_of(build(R"({"a":{"dtype":"Q4","shape":[4],"data_offsets":[0,4]}})", 4))
                .find("unknown dtype"),
            std::string::npos);
  EXPECT_NE(error_of(build(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4))
                .find("tensor 'a'"),
            std::string::npos);
}

// A model directory whose weights lack one vision tensor names that tensor in its error.
TEST(SafetensorsTest, MissingOrMisshapedTensorIsNamed) {
  const std::string src = testing::fixture_path("models/tiny");
  auto original = SafetensorsFile(src + "/model.safetensors");
  const std::filesystem::path dir = testing::temp_path("clipembed_bad_model");
  std::filesystem::create_directories(dir);
  for (const char* name : {"config.json", "preprocessor_config.json"}) {
    std::filesystem::copy_file(src + "/" + name, dir / name,
                               std::filesystem::copy_options::overwrite_existing);
  }
  // Rebuild the file without the post-layernorm bias.
  std::ostringstream header;
  std::vector<uint8_t> data;
  header << "{";
  for (const auto& [name, info] : original.tensors()) {
    if (name == "vision_model.post_layernorm.bias") continue;
    header << (data.empty() ? "" : ",") << '"' << name << "\":{\"dtype\":\"" << info.dtype_name
           << "\",\"shape\":[";
    for (size_t i = 0; i < info.shape.size(); ++i) header << (i ? "," : "") << info.shape[i];
    header << "],\"data_offsets\":[" << data.size() << "," << data.size() + info.data.size()
           << "]}";
    data.insert(data.end(), info.data.begin(), info.data.end());
  }
  header << "}";
  auto bytes = build(header.str(), 0);
  bytes.insert(bytes.end(), data.begin(), data.end());
  io::write_file((dir / "model.safetensors").string(), bytes);
  try {
    ClipModel::load(dir.string());
    FAIL() << "loaded a model without post_layernorm.bias";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModelInvalid);
    EXPECT_NE(std::string(e.what()).find("vision_model.post_layernorm.bias"), std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace clipembed::model
