// Dense layers in every precision: the packed product with its epilogue, stacked parts, and
// results that do not depend on how the runtime splits the work.
#include "ops/dense.h"

#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <cmath>
#include <random>
#include <span>
#include <string>
#include <utility>

#include "clipembed/error.h"
#include "ops/layer_norm.h"

namespace clipembed::ops {
namespace {

std::vector<float> random_floats(size_t count, uint32_t seed, float spread) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, spread);
  std::vector<float> v(count);
  for (float& f : v) f = dist(rng);
  return v;
}

struct Layer {
  std::vector<float> w, b;
  LinearWeights weights() const {
    return {w.data(), b.data(), static_cast<int64_t>(w.size() / b.size()),
            static_cast<int64_t>(b.size())};
  }
};

Layer random_layer(int64_t out, int64_t in, uint32_t seed) {
  return {random_floats(static_cast<size_t>(out * in), seed, 1.0f / std::sqrt(float(in))),
          random_floats(static_cast<size_t>(out), seed + 1, 0.1f)};
}

// The precisions a layer is packed in, by name.
constexpr std::array<const char*, 3> kPrecisions{"float32", "int8", "bf16"};

Dense packed(Runtime& runtime, const std::string& precision, std::span<const LinearWeights> parts) {
  if (precision == "int8") return Dense::int8(runtime, parts);
  if (precision == "bf16") return Dense::bf16(runtime, parts);
  return Dense::float32(runtime, parts);
}

// y = x W^T + b over the stacked layers, in double.
std::vector<double> reference(const std::vector<float>& x, int64_t m,
                              const std::vector<const Layer*>& layers) {
  std::vector<double> y;
  const int64_t in = layers.front()->weights().in;
  for (int64_t i = 0; i < m; ++i) {
    for (const Layer* l : layers) {
      const int64_t out = static_cast<int64_t>(l->b.size());
      for (int64_t j = 0; j < out; ++j) {
        double sum = l->b[j];
        for (int64_t p = 0; p < in; ++p) sum += double{x[i * in + p]} * l->w[j * in + p];
        y.push_back(sum);
      }
    }
  }
  return y;
}

TEST(DenseTest, StackedFloat32AndInt8ProductsMatchTheReference) {
  Runtime runtime(RuntimeOptions{.threads = 3});
  const int64_t m = 11, in = 96;
  const Layer q = random_layer(40, in, 1), k = random_layer(40, in, 3), v = random_layer(24, in, 5);
  const std::array<LinearWeights, 3> parts{q.weights(), k.weights(), v.weights()};
  const std::vector<float> x = random_floats(static_cast<size_t>(m * in), 7, 1.0f);
  const std::vector<double> expected = reference(x, m, {&q, &k, &v});
  for (const std::string precision : kPrecisions) {
    const Dense dense = packed(runtime, precision, parts);
    EXPECT_EQ(dense.out(), 104);
    DenseScratch scratch;
    std::vector<float> y(static_cast<size_t>(m * 104));
    dense.apply(runtime, x.data(), m, y.data(), {}, scratch);
    double max_error = 0;
    for (size_t i = 0; i < y.size(); ++i)
      max_error = std::max(max_error, std::abs(y[i] - expected[i]));
    // bf16 keeps 8 bits of each input: about 1e-2 on sums of this size.
    const double bound = precision == "int8" ? 0.05 : precision == "bf16" ? 0.03 : 1e-5;
    EXPECT_LT(max_error, bound) << precision;
    if (precision != "float32") {
      EXPECT_GT(max_error, 1e-6) << precision << " ran as float32";
    }
  }
}

TEST(DenseTest, ResidualAddAndActivationAreFusedIntoTheStore) {
  Runtime runtime(RuntimeOptions{.threads = 2});
  const int64_t m = 5, in = 33;
  const Layer l = random_layer(50, in, 9);
  const std::vector<float> x = random_floats(static_cast<size_t>(m * in), 10, 1.0f);
  const std::vector<double> product = reference(x, m, {&l});
  const Dense dense = Dense::float32(runtime, {std::array{l.weights()}});
  DenseScratch scratch;
  std::vector<float> residual = random_floats(static_cast<size_t>(m * 50), 11, 1.0f), y = residual;
  dense.apply(runtime, x.data(), m, y.data(), {.act = Activation::kNone, .accumulate = true},
              scratch);
  for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], residual[i] + product[i], 1e-5);
  dense.apply(runtime, x.data(), m, y.data(), {.act = Activation::kQuickGelu, .accumulate = false},
              scratch);
  for (size_t i = 0; i < y.size(); ++i) {
    ASSERT_NEAR(y[i], product[i] / (1 + std::exp(-1.702 * product[i])), 1e-5);
  }
}

// However many threads split the panels, the bits are the same.
TEST(DenseTest, ThreadCountDoesNotChangeTheBits) {
  const int64_t m = 9, in = 70;
  const Layer l = random_layer(200, in, 12);
  const std::vector<float> x = random_floats(static_cast<size_t>(m * in), 13, 1.0f);
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2, 5}) {
    Runtime runtime(RuntimeOptions{.threads = threads});
    for (const std::string precision : kPrecisions) {
      const Dense dense = packed(runtime, precision, {std::array{l.weights()}});
      DenseScratch scratch;
      std::vector<float> y(static_cast<size_t>(m * 200));
      dense.apply(runtime, x.data(), m, y.data(), {}, scratch);
      results.push_back(y);
    }
  }
  for (size_t r = 3; r < results.size(); ++r) EXPECT_EQ(results[r], results[r % 3]) << r;
}

// Rows at other strides (the encoder pads its activations' rows) give the contiguous rows' bits,
// in both precisions, with an input width of 1,024 floats (4 KiB, where the codes are padded too)
// and the residual add; nothing between the rows is read into a result or written.
TEST(DenseTest, StridedRowsGiveTheContiguousBitsAndLeaveThePaddingAlone) {
  Runtime runtime(RuntimeOptions{.threads = 2});
  const int64_t m = 17, in = 1024, out = 48;
  EXPECT_EQ(activation_stride(in), in + 16);
  EXPECT_EQ(activation_stride(768), 768);
  const int64_t x_ld = activation_stride(in), y_ld = out + 5;
  const Layer l = random_layer(out, in, 14);
  const std::vector<float> x = random_floats(static_cast<size_t>(m * in), 15, 1.0f);
  const std::vector<float> residual = random_floats(static_cast<size_t>(m * out), 16, 1.0f);
  const float kPadding = 1e30f;
  std::vector<float> strided_x(static_cast<size_t>(m * x_ld), kPadding);
  std::vector<float> strided_y(static_cast<size_t>(m * y_ld), kPadding);
  for (int64_t i = 0; i < m; ++i) {
    std::copy_n(x.data() + i * in, in, strided_x.data() + i * x_ld);
    std::copy_n(residual.data() + i * out, out, strided_y.data() + i * y_ld);
  }
  for (const std::string precision : kPrecisions) {
    const Dense dense = packed(runtime, precision, {std::array{l.weights()}});
    const DenseCall call{.act = Activation::kNone, .accumulate = true};
    DenseScratch scratch;
    std::vector<float> y = residual, sy = strided_y;
    dense.apply(runtime, x.data(), m, y.data(), call, scratch);
    dense.apply(runtime, strided_x.data(), x_ld, m, sy.data(), y_ld, call, scratch);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < y_ld; ++j) {
        ASSERT_EQ(sy[i * y_ld + j], j < out ? y[i * out + j] : kPadding)
            << precision << " row " << i << ", column " << j;
      }
    }
  }
}

// A product of normalised rows (the encoder's q/k/v and fc1) gives the bits of layer_norm()
// followed by apply(), in both precisions: the int8 path, which normalises and quantizes blocks
// of rows itself, with row counts that leave partial blocks and at strided input rows.
TEST(DenseTest, NormalisedInputGivesTheBitsOfLayerNormThenApply) {
  Runtime runtime(RuntimeOptions{.threads = 2});
  const int64_t in = 96, out = 40, x_ld = in + 7, h_ld = activation_stride(in);
  const Layer l = random_layer(out, in, 21);
  const std::vector<float> gamma = random_floats(in, 22, 1.0f), beta = random_floats(in, 23, 0.5f);
  const InputNorm norm{gamma.data(), beta.data(), 1e-5f};
  for (const int64_t m : {1, 7, 8, 9, 50}) {
    std::vector<float> x = random_floats(static_cast<size_t>(m * x_ld), 24, 2.0f);
    for (int64_t i = 0; i < m; ++i) x[i * x_ld] += static_cast<float>(i);  // Rows differ in mean.
    for (const std::string precision : kPrecisions) {
      const Dense dense = packed(runtime, precision, {std::array{l.weights()}});
      const DenseCall call{.act = Activation::kQuickGelu, .accumulate = false};
      DenseScratch scratch;
      std::vector<float> h(static_cast<size_t>(m * h_ld)), expected(static_cast<size_t>(m * out));
      layer_norm(runtime, x.data(), x_ld, h.data(), h_ld, m, in, norm.gamma, norm.beta, norm.eps);
      dense.apply(runtime, h.data(), h_ld, m, expected.data(), out, call, scratch);
      std::vector<float> fused_h(static_cast<size_t>(m * h_ld)), y(static_cast<size_t>(m * out));
      dense.apply_normalized(runtime, x.data(), x_ld, norm, fused_h.data(), h_ld, m, y.data(), out,
                             call, scratch);
      for (size_t i = 0; i < y.size(); ++i) {
        ASSERT_EQ(std::bit_cast<uint32_t>(y[i]), std::bit_cast<uint32_t>(expected[i]))
            << precision << " m " << m << " at " << i;
      }
    }
  }
}

// Some of the output columns (whole panels; the encoder's queries or keys and values alone) are
// the same bits as those columns of the whole product, in both precisions, and the rest of y is
// left alone. Columns that would split a panel are refused.
TEST(DenseTest, OutputColumnsAreTheSameBitsAsTheWholeProduct) {
  Runtime runtime(RuntimeOptions{.threads = 2});
  const int64_t m = 9, in = 40, out = 80;
  const Layer l = random_layer(out, in, 31);
  const std::vector<float> x = random_floats(static_cast<size_t>(m * in), 32, 1.0f);
  const float kUntouched = 1e30f;
  for (const std::string precision : kPrecisions) {
    const Dense dense = packed(runtime, precision, {std::array{l.weights()}});
    DenseScratch scratch;
    std::vector<float> whole(static_cast<size_t>(m * out));
    dense.apply(runtime, x.data(), m, whole.data(), {}, scratch);
    for (const auto& [first, end] : {std::pair<int64_t, int64_t>{16, 0}, {0, 32}, {32, 64}}) {
      std::vector<float> y(static_cast<size_t>(m * out), kUntouched);
      dense.apply(runtime, x.data(), m, y.data(), {.first_out = first, .end_out = end}, scratch);
      const int64_t last = end == 0 ? out : end;
      for (int64_t i = 0; i < m * out; ++i) {
        const int64_t j = i % out;
        ASSERT_EQ(y[i], j >= first && j < last ? whole[i] : kUntouched)
            << precision << " columns " << first << ".." << last << " at " << i;
      }
    }
    std::vector<float> y(static_cast<size_t>(m * out));
    EXPECT_FALSE(Dense::splits_at(8));
    EXPECT_THROW(dense.apply(runtime, x.data(), m, y.data(), {.first_out = 8}, scratch), Error);
    EXPECT_THROW(dense.apply(runtime, x.data(), m, y.data(), {.end_out = 40}, scratch), Error);
  }
}

}  // namespace
}  // namespace clipembed::ops
