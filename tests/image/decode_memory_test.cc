// What a decode reserves from a bounded decode memory covers every byte the decoder holds: the
// process's peak resident memory grows by at most the reservation (plus a small allowance) for
// every pixel layout, and a refusal comes before anything is allocated.
#include <gtest/gtest.h>
#include <png.h>

#include <functional>
#include <string>

#include "clipembed/error.h"
#include "image/decoders.h"
#include "support/raw_http.h"
#include "support/synthetic_images.h"

namespace clipembed::image {
namespace {

// Grants everything and remembers how much.
class CountingMemory : public DecodeMemory {
 public:
  Answer reserve(uint64_t bytes) override {
    reserved += bytes;
    return Answer::kGranted;
  }
  uint64_t limit() const override { return ~uint64_t{0}; }
  uint64_t reserved = 0;
};

class RefusingMemory : public DecodeMemory {
 public:
  explicit RefusingMemory(Answer answer) : answer_(answer) {}
  Answer reserve(uint64_t) override { return answer_; }
  uint64_t limit() const override { return 64u << 20; }

 private:
  Answer answer_;
};

struct Case {
  std::string name;
  std::function<std::vector<uint8_t>()> make;
  bool keep_source = false;  // Also keep what open_clip's preprocessing needs (SourcePixels).
};

// 6000 x 6000: a 108 MB canvas, so that a decoder holding one byte a pixel more than it reserved
// (36 MB) shows past the allowance.
constexpr int kSide = 6000;
constexpr uint64_t kAllowance = 32u << 20;

TEST(DecodeMemoryTest, ReservationCoversWhatTheDecoderHolds) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "resident memory is meaningless under a sanitizer's shadow memory";
#endif
  const std::vector<Case> cases = {
      {"PNG RGBA", [] { return testing::encode_png(kSide, kSide, PNG_COLOR_TYPE_RGBA, 8, false); }},
      {"PNG RGBA interlaced",
       [] { return testing::encode_png(kSide, kSide, PNG_COLOR_TYPE_RGBA, 8, true); }},
      {"PNG grey + alpha",
       [] { return testing::encode_png(kSide, kSide, PNG_COLOR_TYPE_GRAY_ALPHA, 8, false); }},
      {"PNG 16-bit RGB",
       [] { return testing::encode_png(kSide, kSide, PNG_COLOR_TYPE_RGB, 16, false); }},
      {"PNG 16-bit grey interlaced",
       [] { return testing::encode_png(kSide, kSide, PNG_COLOR_TYPE_GRAY, 16, true); }},
      {"PNG palette",
       [] { return testing::encode_png(kSide, kSide, PNG_COLOR_TYPE_PALETTE, 8, false); }},
      {"JPEG CMYK", [] { return testing::encode_cmyk_jpeg(kSide, kSide, false); }},
      {"JPEG CMYK progressive", [] { return testing::encode_cmyk_jpeg(kSide, kSide, true); }},
      {"PNG RGBA, alpha kept",
       [] { return testing::encode_png(kSide, kSide, PNG_COLOR_TYPE_RGBA, 8, false); }, true},
      {"PNG 16-bit grey, samples kept",
       [] { return testing::encode_png(kSide, kSide, PNG_COLOR_TYPE_GRAY, 16, false); }, true},
      {"JPEG CMYK, CMYK kept", [] { return testing::encode_cmyk_jpeg(kSide, kSide, false); }, true},
  };
  for (const Case& c : cases) {
    const std::vector<uint8_t> bytes = c.make();
    CountingMemory memory;
    testing::reset_peak_rss();
    const uint64_t before = testing::current_rss_bytes();
    {
      SourcePixels source;
      const Image image = decode(
          bytes, DecodeLimits{.memory = &memory, .source = c.keep_source ? &source : nullptr});
      ASSERT_EQ(image.width, kSide) << c.name;
    }
    const uint64_t grown = testing::peak_rss_bytes() - before;
    std::printf("%-28s reserved %6.1f MiB, peak grew %6.1f MiB\n", c.name.c_str(),
                memory.reserved / 1048576.0, grown / 1048576.0);
    EXPECT_GE(memory.reserved, rgb_bytes(kSide, kSide)) << c.name;
    EXPECT_LE(grown, memory.reserved + kAllowance) << c.name;
  }
}

// Refused reservations: never is kImageTooLarge, not now is kOverloaded; neither allocates.
TEST(DecodeMemoryTest, RefusalsComeBeforeAllocating) {
  const std::vector<uint8_t> png = testing::encode_png(4000, 4000, PNG_COLOR_TYPE_RGB, 8, false);
  for (const auto& [answer, code] :
       {std::pair{DecodeMemory::Answer::kNever, ErrorCode::kImageTooLarge},
        std::pair{DecodeMemory::Answer::kNotNow, ErrorCode::kOverloaded}}) {
    RefusingMemory memory(answer);
    testing::reset_peak_rss();
    const uint64_t before = testing::current_rss_bytes();
    try {
      decode(png, DecodeLimits{.memory = &memory});
      ADD_FAILURE() << "decoded despite the refusal";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code);
      EXPECT_NE(std::string(e.what()).find("4000x4000"), std::string::npos) << e.what();
    }
    EXPECT_LT(testing::peak_rss_bytes() - before, uint64_t{8} << 20);
  }
}

}  // namespace
}  // namespace clipembed::image
