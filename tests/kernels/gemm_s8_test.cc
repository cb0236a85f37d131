// The int8 kernel: exact integer sums on every path, every SIMD path equal to the scalar
// reference bit for bit (epilogue included), and rows independent of their batch.
#include "kernels/gemm_s8.h"

#include <gtest/gtest.h>

#include <utility>

#include "kernels/aligned_buffer.h"
#include "kernels/kernel_test_support.h"

namespace clipembed::kernels {
namespace {

using testing::random_floats;
using testing::same_bits;

struct Problem {
  int64_t m, n, k, kp;
  std::vector<uint8_t> a;  // [m x kp], zero-padded.
  std::vector<int8_t> w;   // [n x k]
  std::vector<float> row_scale, col_scale, bias, y0;
  std::vector<int32_t> row_zero, col_sum;
  AlignedBuffer<int8_t> packed;

  Problem(int64_t m_, int64_t n_, int64_t k_, uint32_t seed)
      : m(m_),
        n(n_),
        k(k_),
        kp(padded_k(k_)),
        a(static_cast<size_t>(m_ * padded_k(k_)), 0),
        w(static_cast<size_t>(n_ * k_)),
        row_scale(random_floats(m_, seed)),
        col_scale(random_floats(n_, seed + 1)),
        bias(random_floats(n_, seed + 2)),
        y0(random_floats(m_ * n_, seed + 3)),
        row_zero(m_),
        col_sum(n_),
        packed(packed_s8_size(n_, k_)) {
    std::mt19937 rng(seed);
    // Extreme codes included: 255 x -127 and 255 x 127 side by side would saturate vpmaddubsw.
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t p = 0; p < k; ++p) a[i * kp + p] = rng() % 3 == 0 ? 255 : rng() % 256;
      row_zero[i] = static_cast<int32_t>(rng() % 256);
    }
    for (int64_t j = 0; j < n; ++j) {
      int32_t sum = 0;
      for (int64_t p = 0; p < k; ++p) {
        const int r = static_cast<int>(rng() % 5);
        w[j * k + p] = static_cast<int8_t>(r == 0 ? 127 : r == 1 ? -127 : int(rng() % 255) - 127);
        sum += w[j * k + p];
      }
      col_sum[j] = sum;
    }
    for (int64_t t = 0; t < panel_count(n); ++t) {
      pack_s8_panel(w.data() + t * kPanelWidth * k, std::min(kPanelWidth, n - t * kPanelWidth), k,
                    packed.data() + t * kPanelWidth * kp);
    }
  }

  QuantizedEpilogue epilogue(Activation act, bool accumulate, int64_t row = 0) const {
    return {row_scale.data() + row,
            row_zero.data() + row,
            col_scale.data(),
            col_sum.data(),
            bias.data(),
            act,
            accumulate};
  }

  std::vector<float> run(Isa isa, const QuantizedEpilogue& e, int64_t row = 0,
                         int64_t rows = -1) const {
    if (rows < 0) rows = m;
    std::vector<float> y(y0.begin() + row * n, y0.begin() + (row + rows) * n);
    gemm_s8(isa, rows, n, k, a.data() + row * kp, kp, packed.data(), 0, panel_count(n), y.data(), n,
            e);
    return y;
  }
};

TEST(GemmS8Test, EverySimdPathEqualsTheScalarReferenceBitForBit) {
  // 71 rows run past the AVX-512 path's prefetching tiles; 100 columns give pairs of panels
  // with a next pair to prefetch.
  for (int64_t m : {1, 2, 5, 6, 7, 13, 14, 15, 29, 71}) {
    for (int64_t n : {1, 8, 15, 16, 17, 33, 48, 100}) {
      for (int64_t k : {1, 3, 4, 5, 64, 255, 768}) {
        const Problem p(m, n, k, static_cast<uint32_t>(m * 1000 + n * 10 + k));
        for (const auto& [act, accumulate] :
             {std::pair{Activation::kNone, false}, std::pair{Activation::kNone, true},
              std::pair{Activation::kQuickGelu, false}, std::pair{Activation::kGelu, false},
              std::pair{Activation::kGeluTanh, false}}) {
          const std::vector<float> reference = p.run(Isa::kScalar, p.epilogue(act, accumulate));
          for (Isa isa : testing::simd_paths()) {
            ASSERT_TRUE(same_bits(p.run(isa, p.epilogue(act, accumulate)), reference))
                << isa_name(isa) << " m=" << m << " n=" << n << " k=" << k;
          }
        }
      }
    }
  }
  if (testing::simd_paths().empty()) GTEST_SKIP() << "this CPU has no SIMD path";
}

// With unit scales and no zero point the output is the integer sum itself (exact below 2^24).
TEST(GemmS8Test, IntegerSumsAreExactOnEveryPath) {
  Problem p(7, 33, 3072, 9);
  std::fill(p.row_scale.begin(), p.row_scale.end(), 1.0f);
  std::fill(p.col_scale.begin(), p.col_scale.end(), 1.0f);
  std::fill(p.row_zero.begin(), p.row_zero.end(), 0);
  const QuantizedEpilogue e{p.row_scale.data(),
                            p.row_zero.data(),
                            p.col_scale.data(),
                            p.col_sum.data(),
                            nullptr,
                            Activation::kNone,
                            false};
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!isa_supported(isa)) continue;
    const std::vector<float> y = p.run(isa, e);
    for (int64_t i = 0; i < p.m; ++i) {
      for (int64_t j = 0; j < p.n; ++j) {
        int64_t sum = 0;
        for (int64_t q = 0; q < p.k; ++q) sum += int64_t{p.a[i * p.kp + q]} * p.w[j * p.k + q];
        ASSERT_EQ(y[i * p.n + j], static_cast<float>(sum)) << isa_name(isa) << " " << i << "," << j;
      }
    }
  }
}

// Large activations are taken in blocks of whole tiles, every panel passing over one block before
// the next (AVX-512 past kRowBlockBytes of codes, AVX2 past 8 MiB widened to 16 bits): the same
// sums, with a tail tile, a single last panel and slices.
TEST(GemmS8Test, RowBlocksEqualTheScalarReferenceBitForBit) {
  const Problem p(1403, 40, 3072, 41);  // 4.3 MB of codes, 8.6 MB widened; 3 panels.
  ASSERT_GT(p.m * p.kp * 2, int64_t{8} << 20);
  const QuantizedEpilogue e = p.epilogue(Activation::kGelu, false);
  const std::vector<float> reference = p.run(Isa::kScalar, e);
  for (Isa isa : testing::simd_paths()) {
    ASSERT_TRUE(same_bits(p.run(isa, e), reference)) << isa_name(isa);
    std::vector<float> sliced(p.y0.begin(), p.y0.end());
    for (const auto& [begin, end] : {std::pair<int64_t, int64_t>{0, 1}, {1, 3}}) {
      gemm_s8(isa, p.m, p.n, p.k, p.a.data(), p.kp, p.packed.data(), begin, end, sliced.data(), p.n,
              e);
    }
    ASSERT_TRUE(same_bits(sliced, reference)) << isa_name(isa) << " in slices";
  }
}

TEST(GemmS8Test, ARowIsTheSameAloneAndAtAnyOffsetOfAnyBatch) {
  const Problem p(31, 40, 100, 4);
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!isa_supported(isa)) continue;
    const std::vector<float> all = p.run(isa, p.epilogue(Activation::kQuickGelu, false));
    for (int64_t row : {0, 3, 6, 14, 30}) {
      const std::vector<float> one =
          p.run(isa, p.epilogue(Activation::kQuickGelu, false, row), row, 1);
      ASSERT_TRUE(same_bits(
          one, std::vector<float>(all.begin() + row * p.n, all.begin() + (row + 1) * p.n)))
          << isa_name(isa) << " row " << row;
    }
  }
}

}  // namespace
}  // namespace clipembed::kernels
