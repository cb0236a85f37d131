// Internal op: layer normalisation of every row of a matrix, split across the runtime by rows.
#pragma once

#include <cstdint>

#include "clipembed/runtime.h"

namespace clipembed::ops {

// out[r] = layer_norm(in[r]) * gamma + beta for each of `rows` rows of `dim` floats; in and out
// may alias.
void layer_norm(Runtime& runtime, const float* in, float* out, int64_t rows, int64_t dim,
                const float* gamma, const float* beta, float eps);

}  // namespace clipembed::ops
