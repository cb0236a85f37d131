#include "kernels/layer_norm.h"

#include <cmath>

namespace clipembed::kernels {

void layer_norm(const float* in, float* out, int64_t dim, int64_t begin, int64_t end,
                const float* gamma, const float* beta, float eps) {
  for (int64_t r = begin; r < end; ++r) {
    const float* x = in + r * dim;
    float* y = out + r * dim;
    // Two passes in float32 over a row that sits in L1: mean first, then centred squares, which
    // keeps the variance accurate for rows with a large mean.
    float sum = 0.0f;
    for (int64_t i = 0; i < dim; ++i) sum += x[i];
    const float mean = sum / static_cast<float>(dim);
    float sq = 0.0f;
    for (int64_t i = 0; i < dim; ++i) sq += (x[i] - mean) * (x[i] - mean);
    const float inv = 1.0f / std::sqrt(sq / static_cast<float>(dim) + eps);
    for (int64_t i = 0; i < dim; ++i) y[i] = (x[i] - mean) * inv * gamma[i] + beta[i];
  }
}

}  // namespace clipembed::kernels
