#include "kernels/attention.h"

#include <cmath>

#include "kernels/math_scalar.h"

namespace clipembed::kernels {

void attention_head(Isa isa, int64_t n, int64_t head_dim, const float* q, const float* k,
                    const float* v, int64_t ld, bool causal, float* out, int64_t out_ld,
                    float* scratch) {
  switch (isa) {
    case Isa::kAvx512:
      return attention_head_avx512(n, head_dim, q, k, v, ld, causal, out, out_ld, scratch);
    case Isa::kAvx2:
      return attention_head_avx2(n, head_dim, q, k, v, ld, causal, out, out_ld, scratch);
    case Isa::kScalar:
      break;
  }
  attention_head_scalar(n, head_dim, q, k, v, ld, causal, out, out_ld, scratch);
}

void attention_head_scalar(int64_t n, int64_t head_dim, const float* q, const float* k,
                           const float* v, int64_t ld, bool causal, float* out, int64_t out_ld,
                           float* scratch) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  float* scores = scratch;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t keys = causal ? i + 1 : n;
    const float* qi = q + i * ld;
    for (int64_t j = 0; j < keys; ++j) {
      const float* kj = k + j * ld;
      float dot = 0.0f;
      for (int64_t d = 0; d < head_dim; ++d) dot = std::fma(qi[d], kj[d], dot);
      scores[j] = scale * dot;
    }
    float lane_max[kAttentionLanes], lane_sum[kAttentionLanes] = {};
    for (int64_t l = 0; l < kAttentionLanes; ++l) lane_max[l] = -INFINITY;
    for (int64_t j = 0; j < keys; ++j) {
      lane_max[j % kAttentionLanes] = scalar::max_ps(scores[j], lane_max[j % kAttentionLanes]);
    }
    for (int64_t w = kAttentionLanes / 2; w >= 1; w /= 2) {
      for (int64_t l = 0; l < w; ++l) lane_max[l] = scalar::max_ps(lane_max[l], lane_max[l + w]);
    }
    for (int64_t j = 0; j < keys; ++j) {
      scores[j] = scalar::exp(scores[j] - lane_max[0]);
      lane_sum[j % kAttentionLanes] += scores[j];
    }
    for (int64_t w = kAttentionLanes / 2; w >= 1; w /= 2) {
      for (int64_t l = 0; l < w; ++l) lane_sum[l] += lane_sum[l + w];
    }
    const float inverse = 1.0f / lane_sum[0];
    float* oi = out + i * out_ld;
    for (int64_t d = 0; d < head_dim; ++d) oi[d] = 0.0f;
    for (int64_t j = 0; j < keys; ++j) {
      const float p = scores[j] * inverse;
      const float* vj = v + j * ld;
      for (int64_t d = 0; d < head_dim; ++d) oi[d] = std::fma(p, vj[d], oi[d]);
    }
  }
}

}  // namespace clipembed::kernels
