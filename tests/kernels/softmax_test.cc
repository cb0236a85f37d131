#include "kernels/softmax.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace clipembed::kernels {
namespace {

TEST(SoftmaxTest, RowsSumToOneAndLargeInputsStayFinite) {
  std::vector<float> x = {1, 2, 3, 1000, 1001, 1002, -5, -5, -5};
  softmax_rows(x.data(), 3, 3, 0, 3);
  for (int r = 0; r < 3; ++r) {
    EXPECT_NEAR(x[r * 3] + x[r * 3 + 1] + x[r * 3 + 2], 1.0, 1e-6);
  }
  const double e = std::exp(1.0);
  EXPECT_NEAR(x[2], e * e / (1 + e + e * e), 1e-6);
  EXPECT_NEAR(x[5], x[2], 1e-6);  // Shift invariance: no overflow at 1000.
  EXPECT_NEAR(x[6], 1.0 / 3, 1e-6);
}

}  // namespace
}  // namespace clipembed::kernels
