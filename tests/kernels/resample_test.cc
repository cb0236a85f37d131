// The resampling sums: every SIMD path gives the scalar path's bytes, including clipped sums,
// widths that are not whole vectors and taps that end at the row's last pixel (the buffers are
// exactly sized, so the sanitizer build catches a read past them).
#include "kernels/resample.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/kernel_test_support.h"

namespace clipembed::kernels {
namespace {

std::vector<uint8_t> random_bytes(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(0, 255);
  std::vector<uint8_t> v(count);
  for (uint8_t& b : v) b = static_cast<uint8_t>(dist(rng));
  return v;
}

// Weights shaped as Pillow's: each output's taps add up to 1.1 on the positive side and -0.1 on
// the negative one (the first and last taps), so some sums clip at both ends while every sum stays
// far inside int32, as Pillow's normalised weights do.
std::vector<int32_t> random_weights(int outputs, int taps, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(0.05, 1.0);
  std::vector<int32_t> w(static_cast<size_t>(outputs) * taps);
  for (int o = 0; o < outputs; ++o) {
    std::vector<double> u(taps);
    double positive = 0, negative = 0;
    for (int t = 0; t < taps; ++t) {
      u[t] = (taps > 2 && (t == 0 || t == taps - 1)) ? -dist(rng) : dist(rng);
      (u[t] > 0 ? positive : negative) += std::abs(u[t]);
    }
    for (int t = 0; t < taps; ++t) {
      const double scaled = u[t] > 0 ? 1.1 * u[t] / positive : 0.1 * u[t] / negative;
      w[static_cast<size_t>(o) * taps + t] = static_cast<int32_t>(scaled * (1 << kResampleBits));
    }
  }
  return w;
}

TEST(ResampleKernelTest, VerticalSimdEqualsScalar) {
  for (int64_t width : {1, 7, 8, 9, 33, 894}) {
    for (int taps : {1, 4, 9}) {
      const auto rows = random_bytes(static_cast<size_t>(width * taps), width + taps);
      const auto weights = random_weights(1, taps, static_cast<uint32_t>(taps));
      std::vector<uint8_t> reference(width), out(width);
      resample_vertical_row(Isa::kScalar, rows.data(), width, width, weights.data(), taps,
                            reference.data());
      for (Isa isa : testing::simd_paths()) {
        resample_vertical_row(isa, rows.data(), width, width, weights.data(), taps, out.data());
        ASSERT_EQ(out, reference) << isa_name(isa) << " width " << width << " taps " << taps;
      }
    }
  }
  if (testing::simd_paths().empty()) GTEST_SKIP() << "this CPU has no SIMD path";
}

TEST(ResampleKernelTest, HorizontalSimdEqualsScalar) {
  // Up to 9 taps (a capacity of 12) is a 640 x 480 photo's reduction to 224; 19 (20) one of 2.1x
  // more. Counts below the capacity leave partial groups of four in the AVX-512 path.
  for (int64_t in_width : {1, 5, 17, 640}) {
    for (int64_t out_width : {1, 3, 298}) {
      for (int capacity : {12, 20}) {
        const auto in = random_bytes(static_cast<size_t>(in_width * 3), in_width + out_width);
        auto weights = random_weights(static_cast<int>(out_width), capacity, 11);
        std::vector<int> first(out_width), count(out_width);
        for (int64_t x = 0; x < out_width; ++x) {
          // Spread over the row, 0-3 taps short of the capacity; the last pixel's taps end at the
          // row's end. Weights past the count are 0, as the layout promises.
          count[x] = static_cast<int>(std::min<int64_t>(capacity - x % 4, in_width - x % in_width));
          first[x] = static_cast<int>(x == out_width - 1 ? in_width - count[x] : x % in_width);
          if (first[x] + count[x] > in_width) count[x] = static_cast<int>(in_width - first[x]);
          std::fill(weights.begin() + x * capacity + count[x], weights.begin() + (x + 1) * capacity,
                    0);
        }
        std::vector<uint8_t> reference(out_width * 3), out(out_width * 3);
        resample_horizontal_row(Isa::kScalar, in.data(), in_width, out_width, first.data(),
                                count.data(), weights.data(), capacity, reference.data());
        for (Isa isa : testing::simd_paths()) {
          resample_horizontal_row(isa, in.data(), in_width, out_width, first.data(), count.data(),
                                  weights.data(), capacity, out.data());
          ASSERT_EQ(out, reference)
              << isa_name(isa) << " " << in_width << " -> " << out_width << " taps " << capacity;
        }
      }
    }
  }
  if (testing::simd_paths().empty()) GTEST_SKIP() << "this CPU has no SIMD path";
}

TEST(ResampleKernelTest, ClipsAsPillowDoes) {
  EXPECT_EQ(resample_clip(-5), 0);
  EXPECT_EQ(resample_clip(0), 0);
  EXPECT_EQ(resample_clip((1 << kResampleBits) * 3 + 7), 3);
  EXPECT_EQ(resample_clip((1 << kResampleBits) * 255), 255);
  EXPECT_EQ(resample_clip((1 << kResampleBits) * 256), 255);
  // A sum that clips at both ends on every path.
  const std::vector<uint8_t> rows = {255, 255, 0, 0, 255, 255, 0, 0,
                                     255, 255, 0, 0, 255, 255, 0, 0};
  const int32_t high[1] = {(1 << kResampleBits) * 6 / 5}, low[1] = {-(1 << kResampleBits)};
  for (Isa isa : {Isa::kScalar, Isa::kAvx2}) {
    if (!isa_supported(isa)) continue;
    std::vector<uint8_t> out(16);
    resample_vertical_row(isa, rows.data(), 16, 16, high, 1, out.data());
    EXPECT_EQ(out[0], 255) << isa_name(isa);
    EXPECT_EQ(out[2], 0) << isa_name(isa);
    resample_vertical_row(isa, rows.data(), 16, 16, low, 1, out.data());
    EXPECT_EQ(out[0], 0) << isa_name(isa);
  }
}

}  // namespace
}  // namespace clipembed::kernels
