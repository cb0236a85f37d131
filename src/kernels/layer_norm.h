// Internal kernel: layer normalisation of rows [begin, end) of a [rows x dim] matrix.
//
// Each row's sums (of its values, then of its centred squares) are one running float sum in
// element order: the order every saved vector was computed with. The SIMD paths keep that order
// and vectorise across rows instead (lane r holds row r's running sum), so every path gives the
// scalar path's bits.
#pragma once

#include <cmath>
#include <cstdint>

namespace clipembed::kernels {

// out[r] = (in[r] - mean(in[r])) / sqrt(var(in[r]) + eps) * gamma + beta, for r in [begin, end);
// rows of `dim` floats, `in_ld` and `out_ld` floats apart. `in` and `out` may alias (then with
// the same stride). Variance is the biased one, as torch.nn.LayerNorm uses. Runs the active ISA's
// path (kernels/isa.h).
void layer_norm(const float* in, int64_t in_ld, float* out, int64_t out_ld, int64_t dim,
                int64_t begin, int64_t end, const float* gamma, const float* beta, float eps);

// The ISA paths, for tests; layer_norm() dispatches to them.
void layer_norm_scalar(const float* in, int64_t in_ld, float* out, int64_t out_ld, int64_t dim,
                       int64_t begin, int64_t end, const float* gamma, const float* beta,
                       float eps);
void layer_norm_avx2(const float* in, int64_t in_ld, float* out, int64_t out_ld, int64_t dim,
                     int64_t begin, int64_t end, const float* gamma, const float* beta, float eps);
void layer_norm_avx512(const float* in, int64_t in_ld, float* out, int64_t out_ld, int64_t dim,
                       int64_t begin, int64_t end, const float* gamma, const float* beta,
                       float eps);

// What every path computes from a row's sum, with the same scalar operations: its mean.
inline float row_mean(float sum, int64_t dim) { return sum / static_cast<float>(dim); }

// And from its sum of centred squares: 1 / standard deviation.
inline float row_inv_std(float centred_squares, int64_t dim, float eps) {
  return 1.0f / std::sqrt(centred_squares / static_cast<float>(dim) + eps);
}

}  // namespace clipembed::kernels
