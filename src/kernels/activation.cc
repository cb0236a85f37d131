#include "kernels/activation.h"

#include <cmath>

#include "kernels/activation_simd.h"
#include "kernels/cpu_features.h"

namespace clipembed::kernels {

float quick_gelu(float x) { return x / (1.0f + std::exp(-1.702f * x)); }

float gelu(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); }

namespace {

template <typename Fn>
void apply(float* x, int64_t ld, int64_t row_begin, int64_t row_end, int64_t col_begin,
           int64_t col_end, const float* bias, Fn fn) {
  for (int64_t r = row_begin; r < row_end; ++r) {
    float* row = x + r * ld;
    if (bias != nullptr) {
      for (int64_t c = col_begin; c < col_end; ++c) row[c] = fn(row[c] + bias[c]);
    } else {
      for (int64_t c = col_begin; c < col_end; ++c) row[c] = fn(row[c]);
    }
  }
}

}  // namespace

void bias_activation(float* x, int64_t ld, int64_t row_begin, int64_t row_end, int64_t col_begin,
                     int64_t col_end, const float* bias, Activation act) {
  if (cpu_features().avx2_fma) {
    bias_activation_avx2(x, ld, row_begin, row_end, col_begin, col_end, bias, act);
  } else {
    bias_activation_scalar(x, ld, row_begin, row_end, col_begin, col_end, bias, act);
  }
}

void bias_activation_scalar(float* x, int64_t ld, int64_t row_begin, int64_t row_end,
                            int64_t col_begin, int64_t col_end, const float* bias, Activation act) {
  switch (act) {
    case Activation::kNone:
      if (bias != nullptr) {
        apply(x, ld, row_begin, row_end, col_begin, col_end, bias, [](float v) { return v; });
      }
      break;
    case Activation::kQuickGelu:
      apply(x, ld, row_begin, row_end, col_begin, col_end, bias, quick_gelu);
      break;
    case Activation::kGelu:
      apply(x, ld, row_begin, row_end, col_begin, col_end, bias, gelu);
      break;
  }
}

}  // namespace clipembed::kernels
