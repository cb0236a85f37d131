#include "kernels/gemm.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace clipembed::kernels {
namespace {

std::vector<float> random_vector(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// The library GEMM must agree with the plain-loop reference for both weight layouts, odd sizes,
// strided operands, alpha and beta.
TEST(GemmTest, MatchesReference) {
  std::mt19937 rng(7);
  for (bool transposed : {false, true}) {
    for (auto [m, n, k] : {std::tuple{1, 1, 1}, {7, 13, 5}, {50, 64, 33}, {129, 70, 300}}) {
      SCOPED_TRACE(testing::Message() << m << "x" << n << "x" << k << " t=" << transposed);
      const int lda = k + 3, ldb = (transposed ? k : n) + 2, ldc = n + 1;
      auto a = random_vector(static_cast<size_t>(m) * lda, rng);
      auto b = random_vector(static_cast<size_t>(transposed ? n : k) * ldb, rng);
      auto c = random_vector(static_cast<size_t>(m) * ldc, rng);
      auto expected = c;
      gemm(m, n, k, 0.5f, a.data(), lda, b.data(), ldb, transposed, 1.0f, c.data(), ldc);
      gemm_reference(m, n, k, 0.5f, a.data(), lda, b.data(), ldb, transposed, 1.0f, expected.data(),
                     ldc);
      for (size_t i = 0; i < c.size(); ++i) ASSERT_NEAR(c[i], expected[i], 1e-4f * (1 + k));
    }
  }
}

}  // namespace
}  // namespace clipembed::kernels
