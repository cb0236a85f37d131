#include "ops/linear_int8.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/gemm.h"

namespace clipembed::ops {
namespace {

struct Case {
  std::vector<float> x, w, b, residual, exact;  // exact = x W^T + b in double-accurate floats.
};

Case make_case(int64_t m, int64_t in, int64_t out) {
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  Case c;
  c.x.resize(m * in), c.w.resize(out * in), c.b.resize(out), c.residual.resize(m * out);
  for (auto* v : {&c.x, &c.w, &c.b, &c.residual}) {
    for (float& f : *v) f = dist(rng);
  }
  c.exact.resize(m * out);
  kernels::gemm_reference(m, out, in, 1.0f, c.x.data(), in, c.w.data(), in, true, 0.0f,
                          c.exact.data(), out);
  for (int64_t i = 0; i < m * out; ++i) c.exact[i] += c.b[i % out];
  return c;
}

// Split over three threads (uneven column slices), the int8 product must stay within the error
// quantization allows: a relative RMS error of about 1% for 7-bit weights and 8-bit activations.
TEST(LinearInt8Test, CloseToFloatWithBiasActivationAndResidual) {
  Runtime runtime(RuntimeOptions{.threads = 3});
  const int64_t m = 9, in = 200, out = 130;
  const Case c = make_case(m, in, out);
  const LinearWeights weights{c.w.data(), c.b.data(), in, out};
  const QuantizedLinear q = QuantizedLinear::quantize(runtime, {&weights, 1});
  QuantizedRows rows;
  quantize_rows(runtime, c.x.data(), m, in, rows);
  std::vector<int32_t> product(m * out);

  std::vector<float> y(m * out);
  linear_int8(runtime, rows, q, product.data(), y.data());
  double err = 0, norm = 0;
  for (int64_t i = 0; i < m * out; ++i) {
    err += (y[i] - c.exact[i]) * (y[i] - c.exact[i]);
    norm += c.exact[i] * c.exact[i];
  }
  EXPECT_LT(std::sqrt(err / norm), 0.02);
  EXPECT_GT(std::sqrt(err / norm), 0.0);  // It did quantize.

  std::vector<float> gelu(m * out);
  linear_int8(runtime, rows, q, product.data(), gelu.data(), kernels::Activation::kQuickGelu);
  for (int64_t i = 0; i < m * out; ++i) ASSERT_FLOAT_EQ(gelu[i], kernels::quick_gelu(y[i]));

  std::vector<float> acc = c.residual;
  linear_int8(runtime, rows, q, product.data(), acc.data(), kernels::Activation::kNone, true);
  for (int64_t i = 0; i < m * out; ++i) ASSERT_NEAR(acc[i], c.residual[i] + y[i], 1e-4);
}

// Stacked layers (query, key and value in one product) equal each layer on its own.
TEST(LinearInt8Test, StackedPartsEqualSeparateOnes) {
  Runtime runtime(RuntimeOptions{.threads = 2});
  const int64_t m = 5, in = 64, out = 96;
  const Case a = make_case(m, in, out);
  std::vector<float> w2(a.w.rbegin(), a.w.rend()), b2(a.b.rbegin(), a.b.rend());
  const std::array<LinearWeights, 2> parts{LinearWeights{a.w.data(), a.b.data(), in, out},
                                           LinearWeights{w2.data(), b2.data(), in, out}};
  const QuantizedLinear stacked = QuantizedLinear::quantize(runtime, parts);
  ASSERT_EQ(stacked.out, 2 * out);
  QuantizedRows rows;
  quantize_rows(runtime, a.x.data(), m, in, rows);
  std::vector<int32_t> product(m * 2 * out);
  std::vector<float> both(m * 2 * out);
  linear_int8(runtime, rows, stacked, product.data(), both.data());
  for (int part = 0; part < 2; ++part) {
    const QuantizedLinear alone = QuantizedLinear::quantize(runtime, {&parts[part], 1});
    std::vector<float> y(m * out);
    linear_int8(runtime, rows, alone, product.data(), y.data());
    for (int64_t r = 0; r < m; ++r) {
      for (int64_t j = 0; j < out; ++j) {
        ASSERT_EQ(both[r * 2 * out + part * out + j], y[r * out + j]) << part << " " << r;
      }
    }
  }
}

}  // namespace
}  // namespace clipembed::ops
