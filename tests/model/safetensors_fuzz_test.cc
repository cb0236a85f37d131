// Truncated and corrupted weight files must fail to load with clipembed::Error, never crash.
#include <gtest/gtest.h>

#include <random>

#include "clipembed/error.h"
#include "io/file.h"
#include "model/safetensors.h"
#include "model/vision_transformer.h"
#include "model/weight_file.h"
#include "support/fixtures.h"

namespace clipembed::model {
namespace {

// Parses and binds `bytes` as the tiny model's weights; returns true when it loaded.
bool try_load(const std::vector<uint8_t>& bytes, const VisionConfig& base) {
  try {
    WeightFile weights(std::make_unique<SafetensorsFile>(bytes, "fuzz.safetensors"));
    VisionConfig config = base;
    VisionTransformer tower(shared_runtime(), weights, config, Precision::kF32);
    return true;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModelInvalid) << e.what();
    return false;
  }
}

TEST(SafetensorsFuzzTest, TruncatedAndMutatedFilesGiveTypedErrors) {
  const std::string dir = testing::fixture_path("models/tiny");
  const auto original = io::read_file(dir + "/model.safetensors");
  const auto config_bytes = io::read_file(dir + "/config.json");
  const VisionConfig config =
      VisionConfig::parse(std::string(config_bytes.begin(), config_bytes.end()), "config.json");
  ASSERT_TRUE(try_load(original, config));

  std::mt19937 rng(42);
  int loaded = 0;
  // Every truncation point in the header region, then random ones in the data.
  const size_t header_end = 8 + (original[0] | (original[1] << 8) | (original[2] << 16));
  for (size_t cut = 0; cut < header_end + 64; cut += 7) {
    loaded += try_load(std::vector<uint8_t>(original.begin(), original.begin() + cut), config);
  }
  for (int i = 0; i < 300; ++i) {
    const size_t cut = rng() % original.size();
    loaded += try_load(std::vector<uint8_t>(original.begin(), original.begin() + cut), config);
  }
  EXPECT_EQ(loaded, 0) << "a truncated file loaded";
  // Byte mutations inside the JSON header: each must load or fail cleanly.
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> bytes = original;
    for (int e = 0; e < 3; ++e) {
      bytes[8 + rng() % (header_end - 8)] =
          static_cast<uint8_t>("0123456789[]{},:\"-eE"[rng() % 20]);
    }
    try_load(bytes, config);
  }
}

}  // namespace
}  // namespace clipembed::model
