// Mutation test: thousands of corrupted variants of small valid images in every format must each
// decode or fail with clipembed::Error; never crash, hang, leak or throw anything else. Run under
// ASan + UBSan in CI, this is what guards the decoders against hostile bytes.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "clipembed/error.h"
#include "clipembed/image.h"
#include "io/file.h"
#include "support/fixtures.h"
#include "support/npy.h"

namespace clipembed {
namespace {

// The images of `folder` (not the expected outputs beside them).
std::vector<std::string> inputs_in(const std::string& folder) {
  std::vector<std::string> seeds;
  for (const auto& entry : std::filesystem::directory_iterator(testing::fixture_path(folder))) {
    const std::string name = entry.path().filename().string();
    if (!name.ends_with(".npy") && !name.ends_with(".crop.png") && !name.ends_with(".json")) {
      seeds.push_back(entry.path().string());
    }
  }
  std::sort(seeds.begin(), seeds.end());
  return seeds;
}

std::vector<std::string> seed_files() { return inputs_in("fuzz"); }

// Every seed, and the decoders' corner cases (tests/fixtures/pillow: RLE BMPs, DIBs, GIF frames
// past their screen, animated WebP).
std::vector<std::string> mutation_seeds() {
  std::vector<std::string> seeds = seed_files();
  for (const std::string& path : inputs_in("pillow")) seeds.push_back(path);
  return seeds;
}

// Each seed decodes exactly to what Pillow's convert("RGB") gives (tools/make_test_images.py).
TEST(DecodeFuzzTest, SeedsDecodeLikePillow) {
  const auto seeds = seed_files();
  ASSERT_GE(seeds.size(), 10u);
  for (const std::string& path : seeds) {
    SCOPED_TRACE(path);
    const auto expected = testing::read_npy(path + ".rgb.npy");
    const Image img = read_image_file(path);
    ASSERT_EQ(img.height, expected.shape[0]);
    ASSERT_EQ(img.width, expected.shape[1]);
    EXPECT_TRUE(std::equal(img.rgb.begin(), img.rgb.end(), expected.data.begin()));
  }
}

std::vector<uint8_t> mutate(std::vector<uint8_t> bytes, std::mt19937& rng) {
  std::uniform_int_distribution<int> kind(0, 4);
  auto pos = [&] { return std::uniform_int_distribution<size_t>(0, bytes.size() - 1)(rng); };
  const int edits = std::uniform_int_distribution<int>(1, 8)(rng);
  for (int e = 0; e < edits && !bytes.empty(); ++e) {
    switch (kind(rng)) {
      case 0:  // Flip a bit.
        bytes[pos()] ^= static_cast<uint8_t>(1u << (rng() % 8));
        break;
      case 1:  // Overwrite with an interesting value.
        bytes[pos()] = static_cast<uint8_t>((rng() % 2) ? 0xFF : 0x00);
        break;
      case 2:  // Truncate.
        bytes.resize(pos());
        break;
      case 3:  // Duplicate a run.
        if (bytes.size() < 1 << 16) {
          const size_t at = pos(), n = std::min<size_t>(rng() % 64, bytes.size() - at);
          std::vector<uint8_t> run(bytes.begin() + at, bytes.begin() + at + n);
          bytes.insert(bytes.begin() + pos(), run.begin(), run.end());
        }
        break;
      default:  // Random byte.
        bytes[pos()] = static_cast<uint8_t>(rng());
        break;
    }
  }
  return bytes;
}

TEST(DecodeFuzzTest, MutatedImagesNeverCrash) {
  constexpr int kPerSeed = 1000;
  std::mt19937 rng(20261128);
  DecodeOptions options;
  options.max_pixels = 4'000'000;  // Mutated headers may claim huge sizes; keep runs fast.
  int decoded = 0, refused = 0;
  for (const std::string& path : mutation_seeds()) {
    const std::vector<uint8_t> seed = io::read_file(path);
    for (int i = 0; i < kPerSeed; ++i) {
      const std::vector<uint8_t> bytes = mutate(seed, rng);
      try {
        const Image img = decode_image(bytes, options);
        ASSERT_EQ(img.rgb.size(), static_cast<size_t>(img.width) * img.height * 3);
        ++decoded;
      } catch (const Error&) {
        ++refused;
      }
    }
  }
  // Both outcomes must occur, or the mutations are not exercising the decoders.
  EXPECT_GT(decoded, 100);
  EXPECT_GT(refused, 100);
}

}  // namespace
}  // namespace clipembed
