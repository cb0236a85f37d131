// The attention kernel: every SIMD path equals the scalar reference bit for bit, with and without
// the causal mask, and the reference is multi-head attention.
#include "kernels/attention.h"

#include <gtest/gtest.h>

#include <cmath>

#include "kernels/kernel_test_support.h"

namespace clipembed::kernels {
namespace {

using testing::random_floats;
using testing::same_bits;

std::vector<float> run(Isa isa, int64_t n, int64_t hd, const std::vector<float>& qkv, bool causal) {
  const int64_t ld = 3 * hd + 5;  // Rows wider than the head, as in the stacked q/k/v buffer.
  std::vector<float> out(static_cast<size_t>(n * hd));
  std::vector<float> scratch(static_cast<size_t>(attention_scratch_floats(n, hd)));
  attention_head(isa, n, {0, n}, hd, qkv.data(), qkv.data() + hd, qkv.data() + 2 * hd, ld, causal,
                 out.data(), hd, scratch.data());
  return out;
}

TEST(AttentionKernelTest, EverySimdPathEqualsTheScalarReferenceBitForBit) {
  for (int64_t n : {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 50, 77, 257}) {
    for (int64_t hd : {8, 12, 64, 80}) {
      const std::vector<float> qkv =
          random_floats(n * (3 * hd + 5), static_cast<uint32_t>(n + hd), 1.5f);
      for (bool causal : {false, true}) {
        const std::vector<float> reference = run(Isa::kScalar, n, hd, qkv, causal);
        for (Isa isa : testing::simd_paths()) {
          ASSERT_TRUE(same_bits(run(isa, n, hd, qkv, causal), reference))
              << isa_name(isa) << " n=" << n << " hd=" << hd << " causal=" << causal;
        }
      }
    }
  }
  if (testing::simd_paths().empty()) GTEST_SKIP() << "this CPU has no SIMD path";
}

// A call over some of the query rows writes exactly those rows' outputs, the same bits as a call
// over all of them, on every path (the SIMD paths take query rows six at a time, so ranges start
// and end inside and across those groups).
TEST(AttentionKernelTest, QueryRowsAreTheSameBitsAsInTheWholeCall) {
  const int64_t hd = 12, ld = 3 * hd + 5;
  std::vector<Isa> paths = testing::simd_paths();
  paths.insert(paths.begin(), Isa::kScalar);
  for (int64_t n : {1, 7, 13, 50}) {
    const std::vector<float> qkv = random_floats(n * ld, static_cast<uint32_t>(3 * n), 1.5f);
    for (bool causal : {false, true}) {
      for (Isa isa : paths) {
        const std::vector<float> whole = run(isa, n, hd, qkv, causal);
        for (const QueryRows rows : {QueryRows{0, 1}, QueryRows{n - 1, n}, QueryRows{n / 2, n},
                                     QueryRows{1, std::min<int64_t>(n, 9)}}) {
          if (rows.begin >= rows.end) continue;
          std::vector<float> part(static_cast<size_t>((rows.end - rows.begin) * hd), NAN);
          std::vector<float> scratch(static_cast<size_t>(attention_scratch_floats(n, hd)));
          attention_head(isa, n, rows, hd, qkv.data(), qkv.data() + hd, qkv.data() + 2 * hd, ld,
                         causal, part.data(), hd, scratch.data());
          const std::vector<float> expected(whole.begin() + rows.begin * hd,
                                            whole.begin() + rows.end * hd);
          ASSERT_TRUE(same_bits(part, expected))
              << isa_name(isa) << " n=" << n << " rows " << rows.begin << ".." << rows.end
              << " causal=" << causal;
        }
      }
    }
  }
}

TEST(AttentionKernelTest, ComputesScaledDotProductAttention) {
  const int64_t n = 23, hd = 16, ld = 3 * hd + 5;
  const std::vector<float> qkv = random_floats(n * ld, 7, 1.5f);
  for (bool causal : {false, true}) {
    const std::vector<float> out = run(active_isa(), n, hd, qkv, causal);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t keys = causal ? i + 1 : n;
      std::vector<double> p(static_cast<size_t>(keys));
      double max = -1e300, sum = 0;
      for (int64_t j = 0; j < keys; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < hd; ++d) dot += double{qkv[i * ld + d]} * qkv[j * ld + hd + d];
        p[j] = dot / std::sqrt(double(hd));
        max = std::max(max, p[j]);
      }
      for (double& x : p) sum += (x = std::exp(x - max));
      for (int64_t d = 0; d < hd; ++d) {
        double expected = 0;
        for (int64_t j = 0; j < keys; ++j) expected += p[j] / sum * qkv[j * ld + 2 * hd + d];
        ASSERT_NEAR(out[i * hd + d], expected, 1e-5) << i << "," << d;
      }
    }
  }
}

}  // namespace
}  // namespace clipembed::kernels
