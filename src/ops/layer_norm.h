// Internal op: layer normalisation of every row of a matrix, split across the runtime by rows.
#pragma once

#include <cstdint>

#include "clipembed/runtime.h"

namespace clipembed::ops {

// out[r] = layer_norm(in[r]) * gamma + beta for each of `rows` rows of `dim` floats, `in_ld` and
// `out_ld` floats apart; in and out may alias (then with the same stride).
void layer_norm(Runtime& runtime, const float* in, int64_t in_ld, float* out, int64_t out_ld,
                int64_t rows, int64_t dim, const float* gamma, const float* beta, float eps);

// The same over contiguous rows.
inline void layer_norm(Runtime& runtime, const float* in, float* out, int64_t rows, int64_t dim,
                       const float* gamma, const float* beta, float eps) {
  layer_norm(runtime, in, dim, out, dim, rows, dim, gamma, beta, eps);
}

}  // namespace clipembed::ops
