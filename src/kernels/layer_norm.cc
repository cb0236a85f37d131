#include "kernels/layer_norm.h"

#include <algorithm>
#include <cmath>

namespace clipembed::kernels {
namespace {

// Rows normalised together. Each row's sums are one running float sum in element order (the
// order every saved vector was computed with), which alone waits on the add's latency at every
// element; the chains of several rows interleave instead, so the order, and every bit, stays the
// same (docs/perf.md has what it gave).
constexpr int kRows = 8;

template <int R>
void normalize_rows(const float* in, int64_t in_ld, float* out, int64_t out_ld, int64_t dim,
                    const float* gamma, const float* beta, float eps) {
  float sum[R] = {};
  for (int64_t i = 0; i < dim; ++i) {
    for (int r = 0; r < R; ++r) sum[r] += in[r * in_ld + i];
  }
  float mean[R], sq[R] = {}, inv[R];
  for (int r = 0; r < R; ++r) mean[r] = sum[r] / static_cast<float>(dim);
  // Centred squares in a second pass keep the variance accurate for rows with a large mean.
  for (int64_t i = 0; i < dim; ++i) {
    for (int r = 0; r < R; ++r) {
      const float centred = in[r * in_ld + i] - mean[r];
      sq[r] += centred * centred;
    }
  }
  for (int r = 0; r < R; ++r) inv[r] = 1.0f / std::sqrt(sq[r] / static_cast<float>(dim) + eps);
  for (int r = 0; r < R; ++r) {
    const float* x = in + r * in_ld;
    float* y = out + r * out_ld;
    for (int64_t i = 0; i < dim; ++i) y[i] = (x[i] - mean[r]) * inv[r] * gamma[i] + beta[i];
  }
}

}  // namespace

void layer_norm(const float* in, int64_t in_ld, float* out, int64_t out_ld, int64_t dim,
                int64_t begin, int64_t end, const float* gamma, const float* beta, float eps) {
  int64_t r = begin;
  for (; r + kRows <= end; r += kRows) {
    normalize_rows<kRows>(in + r * in_ld, in_ld, out + r * out_ld, out_ld, dim, gamma, beta, eps);
  }
  for (; r < end; ++r) {
    normalize_rows<1>(in + r * in_ld, in_ld, out + r * out_ld, out_ld, dim, gamma, beta, eps);
  }
}

}  // namespace clipembed::kernels
