// Internal: the per-row steps every quantizer path (quantize.cc, quantize_avx2.cc) shares, so that
// their results agree bit for bit. The functions are `static`: each file, compiled for its own
// ISA, keeps its own copy, and the linker never hands the portable path an AVX2-compiled one.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace clipembed::kernels {

struct RowScale {
  float scale = 1.0f;
  float inverse = 1.0f;
  float zero = 0.0f;  // Activations only.
};

// Activations: the range [lo, hi] (which holds 0) onto codes [0, levels].
static inline RowScale activation_row_scale(float lo, float hi, float levels) {
  RowScale s;
  s.scale = hi - lo > 0.0f ? (hi - lo) / levels : 1.0f;
  s.inverse = 1.0f / s.scale;
  s.zero = std::nearbyint(std::clamp(-lo * s.inverse, 0.0f, levels));
  return s;
}

static inline uint8_t activation_code(float x, const RowScale& s, float levels) {
  return static_cast<uint8_t>(std::clamp(std::nearbyint(x * s.inverse), -s.zero, levels - s.zero) +
                              s.zero);
}

// Weights: [-peak, peak] onto codes [-levels, levels].
static inline RowScale weight_row_scale(float peak, float levels) {
  RowScale s;
  s.scale = peak > 0.0f ? peak / levels : 1.0f;
  s.inverse = 1.0f / s.scale;
  return s;
}

static inline int8_t weight_code(float x, const RowScale& s, float levels) {
  return static_cast<int8_t>(std::clamp(std::nearbyint(x * s.inverse), -levels, levels));
}

// Folds the columns [from, k) a vector loop left into the row's range and finiteness, as the
// scalar path does.
static inline void fold_activation_tail(const float* in, int64_t from, int64_t k, float* lo,
                                        float* hi, bool* finite) {
  for (int64_t t = from; t < k; ++t) {
    *lo = in[t] < *lo ? in[t] : *lo;
    *hi = in[t] > *hi ? in[t] : *hi;
    *finite = *finite && std::isfinite(in[t]);
  }
}

// A row holding a NaN or an infinity: zero codes and a NaN scale, so every output it feeds is NaN
// (never a wrong but plausible vector).
template <typename Code>
static inline void mark_non_finite_row(Code* out, int64_t k, float* scale, int32_t* zero_or_sum) {
  std::fill(out, out + k, Code{0});
  *scale = std::numeric_limits<float>::quiet_NaN();
  *zero_or_sum = 0;
}

}  // namespace clipembed::kernels
