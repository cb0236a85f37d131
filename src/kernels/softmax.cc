#include "kernels/softmax.h"

#include <cmath>

namespace clipembed::kernels {

void softmax_rows(float* x, int64_t ld, int64_t cols, int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    float* row = x + r * ld;
    float max = row[0];
    for (int64_t c = 1; c < cols; ++c) max = row[c] > max ? row[c] : max;
    float sum = 0.0f;
    for (int64_t c = 0; c < cols; ++c) {
      row[c] = std::exp(row[c] - max);
      sum += row[c];
    }
    const float inv = 1.0f / sum;
    for (int64_t c = 0; c < cols; ++c) row[c] *= inv;
  }
}

}  // namespace clipembed::kernels
