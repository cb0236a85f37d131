// Internal kernel: layer normalisation of rows [begin, end) of a [rows x dim] matrix.
#pragma once

#include <cstdint>

namespace clipembed::kernels {

// out[r] = (in[r] - mean(in[r])) / sqrt(var(in[r]) + eps) * gamma + beta, for r in [begin, end);
// rows of `dim` floats, `in_ld` and `out_ld` floats apart. `in` and `out` may alias (then with
// the same stride). Variance is the biased one, as torch.nn.LayerNorm uses.
void layer_norm(const float* in, int64_t in_ld, float* out, int64_t out_ld, int64_t dim,
                int64_t begin, int64_t end, const float* gamma, const float* beta, float eps);

}  // namespace clipembed::kernels
