// Internal: the elementwise functions of the kernels (exp, CLIP's two activations, the epilogue of
// a product), defined once as sequences of IEEE operations. The SIMD paths (math_avx2.h,
// math_avx512.h) run the same sequences lane by lane, so every path gives the same bits. The
// functions are `static`: each file, compiled for its own ISA, keeps its own copy.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

#include "kernels/activation.h"

namespace clipembed::kernels::scalar {

// max/min as x86's maxps/minps: the second operand when either is NaN.
static inline float max_ps(float a, float b) { return a > b ? a : b; }
static inline float min_ps(float a, float b) { return a < b ? a : b; }

// e^x: Cephes' range reduction (x = n ln2 + r, ln2 split in two) and its degree-5 polynomial for
// e^r, about 1 ulp over [-87.3, 88.3] (inputs are clamped to it).
static inline float exp(float x) {
  x = min_ps(max_ps(x, -87.3f), 88.3f);
  const float n = std::nearbyint(x * 1.44269504088896341f);
  float r = std::fma(-n, 0.693359375f, x);
  r = std::fma(-n, -2.12194440e-4f, r);
  float p = 1.9875691500e-4f;
  p = std::fma(p, r, 1.3981999507e-3f);
  p = std::fma(p, r, 8.3334519073e-3f);
  p = std::fma(p, r, 4.1665795894e-2f);
  p = std::fma(p, r, 1.6666665459e-1f);
  p = std::fma(p, r, 5.0000001201e-1f);
  p = std::fma(p * r, r, r + 1.0f);
  const auto pow2n = std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
  return p * pow2n;
}

// x * sigmoid(1.702 x) = x / (1 + e^(-1.702 x)), transformers' QuickGELUActivation.
static inline float quick_gelu(float x) { return x / (1.0f + exp(x * -1.702f)); }

// 0.5 x (1 + erf(x / sqrt 2)), torch's exact GELU, with erf by Abramowitz & Stegun 7.1.26
// (|error| < 1.5e-7, below float32 resolution of the result).
static inline float gelu(float x) {
  const float z = x * 0.70710678118654752f;
  const float az = std::fabs(z);
  const float t = 1.0f / std::fma(az, 0.3275911f, 1.0f);
  float poly = 1.061405429f;
  poly = std::fma(poly, t, -1.453152027f);
  poly = std::fma(poly, t, 1.421413741f);
  poly = std::fma(poly, t, -0.284496736f);
  poly = std::fma(poly, t, 0.254829592f);
  poly = poly * t;
  const float e = exp(0.0f - az * az);
  const float erf_abs = std::fma(-poly, e, 1.0f);
  const float erf = std::copysign(erf_abs, z);
  return (0.5f * x) * (1.0f + erf);
}

// 0.5 x (1 + tanh(u)) with u = sqrt(2/pi) (x + 0.044715 x^3), transformers' gelu_pytorch_tanh,
// computed as x * sigmoid(2u) = x / (1 + e^(-2u)) (the same value, without tanh's cancellation
// near 0 and with the exp every path already has).
static inline float gelu_tanh(float x) {
  const float t = std::fma(x * x, 0.044715f, 1.0f);
  return x / (1.0f + exp((x * t) * -1.5957691216057308f));
}

static inline float activate(float x, Activation act) {
  switch (act) {
    case Activation::kQuickGelu:
      return quick_gelu(x);
    case Activation::kGelu:
      return gelu(x);
    case Activation::kGeluTanh:
      return gelu_tanh(x);
    case Activation::kNone:
      break;
  }
  return x;
}

// The end of every product: y = act(sum + bias), or y = y + (sum + bias) for a residual add.
static inline float finish(float sum, float bias, float y, Activation act, bool accumulate) {
  const float v = sum + bias;
  return accumulate ? y + v : activate(v, act);
}

}  // namespace clipembed::kernels::scalar
