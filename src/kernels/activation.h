// Internal kernels: bias add fused with the MLP activations of CLIP.
#pragma once

#include <cstdint>

namespace clipembed::kernels {

enum class Activation { kNone, kQuickGelu, kGelu };

// For rows [row_begin, row_end) and columns [col_begin, col_end) of a matrix with leading
// dimension ld: x = act(x + bias[col]).
void bias_activation(float* x, int64_t ld, int64_t row_begin, int64_t row_end, int64_t col_begin,
                     int64_t col_end, const float* bias, Activation act);

// Scalar definitions, shared by the kernel and its tests.
float quick_gelu(float x);  // x * sigmoid(1.702 x), as transformers' QuickGELUActivation.
float gelu(float x);        // 0.5 x (1 + erf(x / sqrt 2)), as torch's exact GELU.

}  // namespace clipembed::kernels
