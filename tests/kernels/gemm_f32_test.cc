// The float32 kernel: every SIMD path equals the scalar reference bit for bit, a row's result
// does not depend on M or on where the row is, and the result is the product it should be.
#include "kernels/gemm_f32.h"

#include <gtest/gtest.h>

#include <cmath>
#include <utility>

#include "kernels/aligned_buffer.h"
#include "kernels/kernel_test_support.h"
#include "kernels/math_scalar.h"
#include "kernels/scalar_reference.h"

namespace clipembed::kernels {
namespace {

using testing::random_floats;
using testing::same_bits;

struct Problem {
  int64_t m, n, k;
  std::vector<float> a, w, bias, y0;
  AlignedBuffer<float> packed;

  Problem(int64_t m_, int64_t n_, int64_t k_, uint32_t seed)
      : m(m_),
        n(n_),
        k(k_),
        a(random_floats(m * k, seed)),
        w(random_floats(n * k, seed + 1, 0.2f)),
        bias(random_floats(n, seed + 2)),
        y0(random_floats(m * n, seed + 3)),
        packed(packed_f32_size(n, k)) {
    for (int64_t t = 0; t < panel_count(n); ++t) {
      const int64_t rows = std::min(kPanelWidth, n - t * kPanelWidth);
      pack_f32_panel(w.data() + t * kPanelWidth * k, rows, k, packed.data() + t * kPanelWidth * k);
    }
  }

  // Rows [row, row + rows) through `isa`, starting from y0's rows.
  std::vector<float> run(Isa isa, const Epilogue& e, int64_t row = 0, int64_t rows = -1) const {
    if (rows < 0) rows = m;
    std::vector<float> y(y0.begin() + row * n, y0.begin() + (row + rows) * n);
    gemm_f32(isa, rows, n, k, a.data() + row * k, k, packed.data(), 0, panel_count(n), y.data(), n,
             e);
    return y;
  }
};

TEST(GemmF32Test, EverySimdPathEqualsTheScalarReferenceBitForBit) {
  int checked = 0;
  // 71 rows run past the AVX-512 path's prefetching tiles; 100 columns give pairs of panels
  // with a next pair to prefetch.
  for (int64_t m : {1, 2, 5, 6, 7, 13, 14, 15, 29, 50, 71}) {
    for (int64_t n : {1, 15, 16, 17, 33, 48, 100}) {
      for (int64_t k : {1, 3, 16, 17, 64, 255}) {
        const Problem p(m, n, k, static_cast<uint32_t>(m * 1000 + n * 10 + k));
        const Epilogue epilogues[] = {{nullptr, Activation::kNone, false},
                                      {p.bias.data(), Activation::kNone, true},
                                      {p.bias.data(), Activation::kQuickGelu, false},
                                      {p.bias.data(), Activation::kGelu, false},
                                      {p.bias.data(), Activation::kGeluTanh, false}};
        for (const Epilogue& e : epilogues) {
          const std::vector<float> reference = p.run(Isa::kScalar, e);
          for (Isa isa : testing::simd_paths()) {
            ASSERT_TRUE(same_bits(p.run(isa, e), reference))
                << isa_name(isa) << " m=" << m << " n=" << n << " k=" << k;
            ++checked;
          }
        }
      }
    }
  }
  if (testing::simd_paths().empty()) GTEST_SKIP() << "this CPU has no SIMD path";
  EXPECT_GT(checked, 0);
}

// Activations past 8 MiB are multiplied in blocks of rows and k steps (the AVX-512 path); every
// sum must still be the one chain, with tails in rows, k, pairs and groups of pairs, and a row
// must give the same bits through the blocked pass as alone.
TEST(GemmF32Test, BlockedLargeActivationsEqualTheScalarReferenceBitForBit) {
  if (testing::simd_paths().empty()) GTEST_SKIP() << "this CPU has no SIMD path";
  const Problem p(1100, 200, 2000, 31);  // 8.8 MB of activations; 13 panels.
  const Epilogue epilogues[] = {{p.bias.data(), Activation::kNone, true},
                                {p.bias.data(), Activation::kGelu, false}};
  for (const Epilogue& e : epilogues) {
    const std::vector<float> reference = p.run(Isa::kScalar, e);
    for (Isa isa : testing::simd_paths()) {
      ASSERT_TRUE(same_bits(p.run(isa, e), reference)) << isa_name(isa);
      // Panel slices that start mid-group and end on a single panel.
      std::vector<float> sliced(p.y0.begin(), p.y0.end());
      for (const auto& [begin, end] : {std::pair<int64_t, int64_t>{0, 3}, {3, 12}, {12, 13}}) {
        gemm_f32(isa, p.m, p.n, p.k, p.a.data(), p.k, p.packed.data(), begin, end, sliced.data(),
                 p.n, e);
      }
      ASSERT_TRUE(same_bits(sliced, reference)) << isa_name(isa) << " in slices";
      const std::vector<float> row = p.run(isa, e, 1057, 1);
      ASSERT_TRUE(same_bits(
          row, std::vector<float>(reference.begin() + 1057 * p.n, reference.begin() + 1058 * p.n)));
    }
  }
}

// Activations between kRowBlockBytes and 8 MiB are taken (AVX-512) in blocks of whole tiles, every
// panel passing over one block before the next: the same sums, with a tail tile in the last block,
// pairs and a single panel, and slices of panels.
TEST(GemmF32Test, RowBlocksEqualTheScalarReferenceBitForBit) {
  if (testing::simd_paths().empty()) GTEST_SKIP() << "this CPU has no SIMD path";
  const Problem p(403, 100, 768, 37);  // 1.2 MB of activations: 3 blocks; 7 panels.
  ASSERT_GT(p.m * p.k * int64_t{sizeof(float)}, kRowBlockBytes * 2);
  ASSERT_LT(row_block_rows(p.m, p.k, 14), p.m);
  const Epilogue e{p.bias.data(), Activation::kQuickGelu, false};
  const std::vector<float> reference = p.run(Isa::kScalar, e);
  for (Isa isa : testing::simd_paths()) {
    ASSERT_TRUE(same_bits(p.run(isa, e), reference)) << isa_name(isa);
    std::vector<float> sliced(p.y0.begin(), p.y0.end());
    for (const auto& [begin, end] : {std::pair<int64_t, int64_t>{0, 3}, {3, 7}}) {
      gemm_f32(isa, p.m, p.n, p.k, p.a.data(), p.k, p.packed.data(), begin, end, sliced.data(), p.n,
               e);
    }
    ASSERT_TRUE(same_bits(sliced, reference)) << isa_name(isa) << " in slices";
  }
}

// The scalar reference is compiled twice (portably, and with hardware FMA where the CPU has it):
// both give the same bits, for the products and for attention.
TEST(GemmF32Test, PortableAndFmaBuildsOfTheReferenceAgree) {
  if (!isa_supported(Isa::kAvx2)) GTEST_SKIP() << "this CPU has no FMA";
  const Problem p(13, 40, 77, 17);
  for (const Epilogue& e : {Epilogue{p.bias.data(), Activation::kGelu, false},
                            Epilogue{p.bias.data(), Activation::kGeluTanh, false},
                            Epilogue{p.bias.data(), Activation::kNone, true}}) {
    std::vector<float> portable = p.y0, fma = p.y0;
    gemm_f32_scalar_portable(p.m, p.n, p.k, p.a.data(), p.k, p.packed.data(), 0, panel_count(p.n),
                             portable.data(), p.n, e);
    gemm_f32_scalar_fma(p.m, p.n, p.k, p.a.data(), p.k, p.packed.data(), 0, panel_count(p.n),
                        fma.data(), p.n, e);
    EXPECT_TRUE(same_bits(portable, fma));
  }
  const int64_t n = 19, hd = 12;
  const std::vector<float> qkv = random_floats(n * 3 * hd, 23, 1.5f);
  for (bool causal : {false, true}) {
    std::vector<float> portable(n * hd), fma(n * hd), scratch(attention_scratch_floats(n, hd));
    attention_head_scalar_portable(n, {0, n}, hd, qkv.data(), qkv.data() + hd, qkv.data() + 2 * hd,
                                   3 * hd, causal, portable.data(), hd, scratch.data());
    attention_head_scalar_fma(n, {0, n}, hd, qkv.data(), qkv.data() + hd, qkv.data() + 2 * hd,
                              3 * hd, causal, fma.data(), hd, scratch.data());
    EXPECT_TRUE(same_bits(portable, fma));
  }
}

// Each element is one fma chain over k: its value is the same whatever M is and wherever the row
// sits in the batch, on every path.
TEST(GemmF32Test, ARowIsTheSameAloneAndAtAnyOffsetOfAnyBatch) {
  const Problem p(37, 70, 129, 5);
  const Epilogue e{p.bias.data(), Activation::kQuickGelu, false};
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!isa_supported(isa)) continue;
    const std::vector<float> all = p.run(isa, e);
    for (int64_t row : {0, 1, 5, 6, 13, 14, 20, 36}) {
      for (int64_t rows : {int64_t{1}, std::min<int64_t>(3, p.m - row), p.m - row}) {
        const std::vector<float> part = p.run(isa, e, row, rows);
        ASSERT_TRUE(same_bits(
            part, std::vector<float>(all.begin() + row * p.n, all.begin() + (row + rows) * p.n)))
            << isa_name(isa) << " row " << row << " of " << rows;
      }
    }
  }
}

TEST(GemmF32Test, ComputesTheProductWithItsEpilogue) {
  const Problem p(9, 40, 200, 11);
  for (const bool accumulate : {false, true}) {
    const Epilogue e{p.bias.data(), accumulate ? Activation::kNone : Activation::kGelu, accumulate};
    const std::vector<float> y = p.run(active_isa(), e);
    for (int64_t i = 0; i < p.m; ++i) {
      for (int64_t j = 0; j < p.n; ++j) {
        double sum = 0;
        for (int64_t q = 0; q < p.k; ++q) sum += double{p.a[i * p.k + q]} * p.w[j * p.k + q];
        const double v = sum + p.bias[j];
        const double expected =
            accumulate ? p.y0[i * p.n + j] + v : 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
        ASSERT_NEAR(y[i * p.n + j], expected, 1e-4 * (1 + std::abs(expected))) << i << "," << j;
      }
    }
  }
}

// Panels may be computed in any split (the runtime splits them over threads).
TEST(GemmF32Test, PanelSlicesEqualTheWholeProduct) {
  const Problem p(6, 100, 33, 21);
  const Epilogue e{p.bias.data(), Activation::kNone, false};
  const std::vector<float> whole = p.run(active_isa(), e);
  std::vector<float> sliced(p.y0.begin(), p.y0.end());
  for (int64_t t = 0; t < panel_count(p.n); ++t) {
    gemm_f32(active_isa(), p.m, p.n, p.k, p.a.data(), p.k, p.packed.data(), t, t + 1, sliced.data(),
             p.n, e);
  }
  EXPECT_TRUE(same_bits(sliced, whole));
}

// The activations (whose SIMD forms the tests above compare bit for bit) against torch's.
TEST(KernelMathTest, ActivationsMatchTorch) {
  std::vector<float> x = random_floats(4096, 3, 4.0f);
  x.insert(x.end(), {0.0f, -0.0f, 1e-30f, -90.0f, 90.0f, 1e30f, -1e30f});
  for (float v : x) {
    const double q = v / (1.0 + std::exp(-1.702 * v));
    const double g = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    EXPECT_NEAR(scalar::quick_gelu(v), q, 2e-6 * (1 + std::abs(q))) << v;
    EXPECT_NEAR(scalar::gelu(v), g, 2e-6 * (1 + std::abs(g))) << v;
    const double u = std::sqrt(2.0 / M_PI) * (v + 0.044715 * double{v} * v * v);
    const double t = 0.5 * v * (1.0 + std::tanh(u));
    EXPECT_NEAR(scalar::gelu_tanh(v), t, 2e-6 * (1 + std::abs(t))) << v;
  }
}

}  // namespace
}  // namespace clipembed::kernels
