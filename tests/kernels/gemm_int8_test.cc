#include "kernels/gemm_int8.h"

#include <gtest/gtest.h>

#include <random>
#include <tuple>
#include <vector>

#include "kernels/quantize.h"

namespace clipembed::kernels {
namespace {

// The integer product is exact, so the library must equal the reference to the last bit: for
// odd sizes, strided operands, random codes and the extreme codes the int8 path may produce
// (where a 16-bit pair sum without VNNI would saturate if the weights used their full 8 bits).
TEST(GemmInt8Test, EqualsReferenceExactly) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> a_code(0, kActivationCodeMax);
  std::uniform_int_distribution<int> b_code(-kWeightCodeMax, kWeightCodeMax);
  for (int fill = 0; fill < 3; ++fill) {
    for (auto [m, n, k] : {std::tuple{1, 1, 1}, {7, 13, 5}, {50, 64, 33}, {129, 70, 3072}}) {
      SCOPED_TRACE(testing::Message() << m << "x" << n << "x" << k << " fill " << fill);
      const int lda = k + 3, ldb = k + 1, ldc = n + 2;
      std::vector<uint8_t> a(static_cast<size_t>(m) * lda);
      std::vector<int8_t> b(static_cast<size_t>(n) * ldb);
      for (uint8_t& x : a) x = static_cast<uint8_t>(fill == 0 ? a_code(rng) : kActivationCodeMax);
      for (int8_t& x : b) {
        x = static_cast<int8_t>(fill == 0   ? b_code(rng)
                                : fill == 1 ? kWeightCodeMax
                                            : -kWeightCodeMax);
      }
      std::vector<int32_t> c(static_cast<size_t>(m) * ldc, -1), expected = c;
      gemm_u8s8(m, n, k, a.data(), lda, b.data(), ldb, c.data(), ldc);
      gemm_u8s8_reference(m, n, k, a.data(), lda, b.data(), ldb, expected.data(), ldc);
      ASSERT_EQ(c, expected);
    }
  }
}

}  // namespace
}  // namespace clipembed::kernels
