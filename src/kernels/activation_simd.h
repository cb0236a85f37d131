// Internal: ISA-specific variants of the kernels in activation.h. Call them only through
// bias_activation(), which picks one with cpu_features().
#pragma once

#include <cstdint>

#include "kernels/activation.h"

namespace clipembed::kernels {

void bias_activation_avx2(float* x, int64_t ld, int64_t row_begin, int64_t row_end,
                          int64_t col_begin, int64_t col_end, const float* bias, Activation act);

// The portable path, also the reference the SIMD paths are tested against.
void bias_activation_scalar(float* x, int64_t ld, int64_t row_begin, int64_t row_end,
                            int64_t col_begin, int64_t col_end, const float* bias, Activation act);

}  // namespace clipembed::kernels
