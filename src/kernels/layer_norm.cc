#include "kernels/layer_norm.h"

#include "kernels/isa.h"

namespace clipembed::kernels {
namespace {

// Rows normalised together. Each row's sum alone waits on the add's latency at every element; the
// chains of several rows interleave instead, so the order, and every bit, stays the same
// (docs/perf.md has what it gave).
constexpr int kRows = 8;

template <int R>
void normalize_rows(const float* in, int64_t in_ld, float* out, int64_t out_ld, int64_t dim,
                    const float* gamma, const float* beta, float eps) {
  float sum[R] = {};
  for (int64_t i = 0; i < dim; ++i) {
    for (int r = 0; r < R; ++r) sum[r] += in[r * in_ld + i];
  }
  float mean[R], sq[R] = {}, inv[R];
  for (int r = 0; r < R; ++r) mean[r] = row_mean(sum[r], dim);
  // Centred squares in a second pass keep the variance accurate for rows with a large mean.
  for (int64_t i = 0; i < dim; ++i) {
    for (int r = 0; r < R; ++r) {
      const float centred = in[r * in_ld + i] - mean[r];
      sq[r] += centred * centred;
    }
  }
  for (int r = 0; r < R; ++r) inv[r] = row_inv_std(sq[r], dim, eps);
  for (int r = 0; r < R; ++r) {
    const float* x = in + r * in_ld;
    float* y = out + r * out_ld;
    for (int64_t i = 0; i < dim; ++i) y[i] = (x[i] - mean[r]) * inv[r] * gamma[i] + beta[i];
  }
}

}  // namespace

void layer_norm(const float* in, int64_t in_ld, float* out, int64_t out_ld, int64_t dim,
                int64_t begin, int64_t end, const float* gamma, const float* beta, float eps) {
  switch (active_isa()) {
    case Isa::kAvx512:
      return layer_norm_avx512(in, in_ld, out, out_ld, dim, begin, end, gamma, beta, eps);
    case Isa::kAvx2:
      return layer_norm_avx2(in, in_ld, out, out_ld, dim, begin, end, gamma, beta, eps);
    case Isa::kScalar:
      break;
  }
  layer_norm_scalar(in, in_ld, out, out_ld, dim, begin, end, gamma, beta, eps);
}

void layer_norm_scalar(const float* in, int64_t in_ld, float* out, int64_t out_ld, int64_t dim,
                       int64_t begin, int64_t end, const float* gamma, const float* beta,
                       float eps) {
  int64_t r = begin;
  for (; r + kRows <= end; r += kRows) {
    normalize_rows<kRows>(in + r * in_ld, in_ld, out + r * out_ld, out_ld, dim, gamma, beta, eps);
  }
  for (; r < end; ++r) {
    normalize_rows<1>(in + r * in_ld, in_ld, out + r * out_ld, out_ld, dim, gamma, beta, eps);
  }
}

}  // namespace clipembed::kernels
