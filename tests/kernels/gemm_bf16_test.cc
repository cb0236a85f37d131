// The bf16 kernel: rounding to bf16 is what the header defines, the AVX512_BF16 path equals the
// scalar reference bit for bit (subnormal and underflowing products included), a row's result
// does not depend on the batch, and the result is the product of the rounded inputs.
#include "kernels/gemm_bf16.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <utility>

#include "kernels/aligned_buffer.h"
#include "kernels/kernel_test_support.h"
#include "kernels/scalar_reference.h"

namespace clipembed::kernels {
namespace {

using testing::random_floats;
using testing::same_bits;

// The paths to hold against the scalar reference: AVX512_BF16 where this CPU has it.
std::vector<Isa> native_paths() {
  if (bf16_native(Isa::kAvx512) && isa_supported(Isa::kAvx512)) return {Isa::kAvx512};
  return {};
}

struct Problem {
  int64_t m, n, k, lda;
  std::vector<float> a, w, bias, y0;
  std::vector<uint16_t> halves;
  AlignedBuffer<uint16_t> packed;

  Problem(int64_t m_, int64_t n_, int64_t k_, uint32_t seed, float spread = 1.0f)
      : m(m_),
        n(n_),
        k(k_),
        lda(2 * bf16_pairs(k_) + 2),  // A stride past the row, as the layers' padded strides.
        a(random_floats(m * k, seed, spread)),
        w(random_floats(n * k, seed + 1, 0.2f * spread)),
        bias(random_floats(n, seed + 2)),
        y0(random_floats(m * n, seed + 3)),
        halves(static_cast<size_t>(m * lda), 0xffff),
        packed(packed_bf16_size(n, k)) {
    pack();
  }

  void pack() {
    const int64_t panel = 2 * kPanelWidth * bf16_pairs(k);
    for (int64_t t = 0; t < panel_count(n); ++t) {
      const int64_t rows = std::min(kPanelWidth, n - t * kPanelWidth);
      pack_bf16_panel(w.data() + t * kPanelWidth * k, rows, k, packed.data() + t * panel);
    }
    convert_bf16_rows(Isa::kScalar, a.data(), k, k, 0, m, halves.data(), lda);
  }

  std::vector<float> run(Isa isa, const Epilogue& e, int64_t row = 0, int64_t rows = -1) const {
    if (rows < 0) rows = m;
    std::vector<float> y(y0.begin() + row * n, y0.begin() + (row + rows) * n);
    gemm_bf16(isa, rows, n, k, halves.data() + row * lda, lda, packed.data(), 0, panel_count(n),
              y.data(), n, e);
    return y;
  }
};

float from_bits(uint32_t bits) {
  float x = 0.0f;
  std::memcpy(&x, &bits, sizeof(x));
  return x;
}

TEST(Bf16Test, RoundingIsToNearestEvenWithSubnormalsFlushedAndNanQuiet) {
  EXPECT_EQ(bf16_from_float(1.0f), 0x3f80);
  EXPECT_EQ(bf16_from_float(from_bits(0x3f808000u)), 0x3f80);  // A tie, to even (down).
  EXPECT_EQ(bf16_from_float(from_bits(0x3f818000u)), 0x3f82);  // A tie, to even (up).
  EXPECT_EQ(bf16_from_float(from_bits(0x3f808001u)), 0x3f81);  // Past the tie: up.
  EXPECT_EQ(bf16_from_float(-2.0f), 0xc000);
  EXPECT_EQ(bf16_from_float(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(bf16_from_float(from_bits(0x7f7fffffu)), 0x7f80);  // The largest float rounds up.
  EXPECT_EQ(bf16_from_float(from_bits(0x00400000u)), 0x0000);  // Subnormal: +0.
  EXPECT_EQ(bf16_from_float(from_bits(0x80000001u)), 0x8000);  // Subnormal: -0.
  EXPECT_EQ(bf16_from_float(from_bits(0x7f800001u)), 0x7fc0);  // Signalling NaN: quiet.
  EXPECT_EQ(bf16_to_float(0x3f80), 1.0f);
}

TEST(Bf16Test, SimdConversionEqualsTheReference) {
  if (native_paths().empty()) GTEST_SKIP() << "this CPU has no AVX512_BF16";
  std::vector<float> x = random_floats(37 * 41, 3, 10.0f);
  // Ties, subnormals, infinities and NaNs among them.
  const uint32_t special[] = {0x3f808000u, 0x3f818000u, 0x00400000u, 0x80000001u,
                              0x7f800000u, 0xff800000u, 0x7f800001u, 0x7f7fffffu};
  for (size_t i = 0; i < std::size(special); ++i) x[i * 97] = from_bits(special[i]);
  for (int64_t k : {1, 15, 16, 17, 41}) {
    const int64_t rows = static_cast<int64_t>(x.size()) / 41, ld = 2 * bf16_pairs(k) + 4;
    std::vector<uint16_t> simd(static_cast<size_t>(rows * ld), 0xffff), reference = simd;
    convert_bf16_rows(Isa::kAvx512, x.data(), 41, k, 0, rows, simd.data(), ld);
    convert_bf16_rows(Isa::kScalar, x.data(), 41, k, 0, rows, reference.data(), ld);
    ASSERT_EQ(simd, reference) << "k=" << k;
  }
}

TEST(GemmBf16Test, TheSimdPathEqualsTheScalarReferenceBitForBit) {
  if (native_paths().empty()) GTEST_SKIP() << "this CPU has no AVX512_BF16";
  int checked = 0;
  for (int64_t m : {1, 2, 5, 13, 14, 15, 29, 71}) {
    for (int64_t n : {1, 15, 16, 17, 33, 48, 100}) {
      for (int64_t k : {1, 2, 3, 16, 17, 64, 255}) {
        const Problem p(m, n, k, static_cast<uint32_t>(m * 1000 + n * 10 + k));
        const Epilogue epilogues[] = {{nullptr, Activation::kNone, false},
                                      {p.bias.data(), Activation::kNone, true},
                                      {p.bias.data(), Activation::kQuickGelu, false},
                                      {p.bias.data(), Activation::kGelu, false},
                                      {p.bias.data(), Activation::kGeluTanh, false}};
        for (const Epilogue& e : epilogues) {
          const std::vector<float> reference = p.run(Isa::kScalar, e);
          for (Isa isa : native_paths()) {
            ASSERT_TRUE(same_bits(p.run(isa, e), reference))
                << isa_name(isa) << " m=" << m << " n=" << n << " k=" << k;
            ++checked;
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 0);
}

// Products that underflow (tiny activations and weights), sums that overflow, and infinite
// weights: the flushes of subnormal results and the order of each pair's two products decide the
// bits here, and both paths must make the same decisions.
TEST(GemmBf16Test, UnderflowOverflowAndInfinitiesEqualTheScalarReference) {
  if (native_paths().empty()) GTEST_SKIP() << "this CPU has no AVX512_BF16";
  for (float spread : {1e-19f, 1e-20f, 3e18f}) {
    Problem p(20, 40, 67, 71, spread);
    p.w[5] = std::numeric_limits<float>::infinity();
    p.w[300] = -std::numeric_limits<float>::infinity();
    p.a[7] = 1e-30f;
    p.pack();
    const Epilogue e{nullptr, Activation::kNone, false};
    const std::vector<float> reference = p.run(Isa::kScalar, e);
    for (Isa isa : native_paths()) {
      ASSERT_TRUE(same_bits(p.run(isa, e), reference)) << "spread " << spread;
    }
  }
}

// Activations past kRowBlockBytes are taken in blocks of rows: the same sums, in panel slices.
TEST(GemmBf16Test, RowBlocksAndPanelSlicesEqualTheScalarReference) {
  const Problem p(700, 100, 1024, 37);  // 1.4 MB of bf16 activations: 3 blocks; 7 panels.
  const Epilogue e{p.bias.data(), Activation::kQuickGelu, false};
  const std::vector<float> reference = p.run(Isa::kScalar, e);
  for (Isa isa : native_paths()) {
    ASSERT_TRUE(same_bits(p.run(isa, e), reference)) << isa_name(isa);
    std::vector<float> sliced(p.y0.begin(), p.y0.end());
    for (const auto& [begin, end] : {std::pair<int64_t, int64_t>{0, 3}, {3, 7}}) {
      gemm_bf16(isa, p.m, p.n, p.k, p.halves.data(), p.lda, p.packed.data(), begin, end,
                sliced.data(), p.n, e);
    }
    ASSERT_TRUE(same_bits(sliced, reference)) << isa_name(isa) << " in slices";
  }
}

TEST(GemmBf16Test, PortableAndFmaBuildsOfTheReferenceAgree) {
  if (!isa_supported(Isa::kAvx2)) GTEST_SKIP() << "this CPU has no FMA";
  for (float spread : {1.0f, 1e-20f}) {
    const Problem p(13, 40, 77, 17, spread);
    const Epilogue e{p.bias.data(), Activation::kGelu, false};
    std::vector<float> portable = p.y0, fma = p.y0;
    gemm_bf16_scalar_portable(p.m, p.n, p.k, p.halves.data(), p.lda, p.packed.data(), 0,
                              panel_count(p.n), portable.data(), p.n, e);
    gemm_bf16_scalar_fma(p.m, p.n, p.k, p.halves.data(), p.lda, p.packed.data(), 0,
                         panel_count(p.n), fma.data(), p.n, e);
    EXPECT_TRUE(same_bits(portable, fma));
  }
}

TEST(GemmBf16Test, ARowIsTheSameAloneAndAtAnyOffsetOfAnyBatch) {
  const Problem p(37, 70, 129, 5);
  const Epilogue e{p.bias.data(), Activation::kQuickGelu, false};
  for (Isa isa : {Isa::kScalar, Isa::kAvx512}) {
    if (!isa_supported(isa)) continue;
    const std::vector<float> all = p.run(isa, e);
    for (int64_t row : {0, 1, 13, 14, 20, 36}) {
      for (int64_t rows : {int64_t{1}, std::min<int64_t>(3, p.m - row), p.m - row}) {
        ASSERT_TRUE(same_bits(
            p.run(isa, e, row, rows),
            std::vector<float>(all.begin() + row * p.n, all.begin() + (row + rows) * p.n)))
            << isa_name(isa) << " row " << row << " of " << rows;
      }
    }
  }
}

// The sums are those of the bf16-rounded inputs (to float32's rounding of each step), and the
// rounding of the inputs costs what bf16's 8 bits allow against the float32 product.
TEST(GemmBf16Test, ComputesTheProductOfTheRoundedInputs) {
  const Problem p(9, 40, 200, 11);
  const Epilogue e{p.bias.data(), Activation::kNone, false};
  const std::vector<float> y = p.run(active_isa(), e);
  for (int64_t i = 0; i < p.m; ++i) {
    for (int64_t j = 0; j < p.n; ++j) {
      double rounded = 0, exact = 0, magnitude = 0;
      for (int64_t q = 0; q < p.k; ++q) {
        const float a = p.a[i * p.k + q], w = p.w[j * p.k + q];
        rounded += double{bf16_to_float(bf16_from_float(a))} * bf16_to_float(bf16_from_float(w));
        exact += double{a} * w;
        magnitude += std::abs(double{a} * w);
      }
      ASSERT_NEAR(y[i * p.n + j], rounded + p.bias[j], 1e-5 * (1 + magnitude)) << i << "," << j;
      ASSERT_NEAR(y[i * p.n + j], exact + p.bias[j], 1e-2 * (1 + magnitude)) << i << "," << j;
    }
  }
}

}  // namespace
}  // namespace clipembed::kernels
