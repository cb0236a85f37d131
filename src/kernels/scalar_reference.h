// Internal: the scalar references of the float kernels (gemm_f32.h, gemm_bf16.h, attention.h,
// dot_rows.h),
// defined once as `static inline` functions and compiled twice: portably (scalar_portable.cc) and
// with hardware FMA (scalar_fma.cc, used where the CPU has it). std::fma is exactly rounded either
// way, so both give the same bits; the second only avoids a library call per multiply-add, which
// made the scalar path (CLIPEMBED_ISA=scalar, run over the whole test suite) thirty times slower.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "kernels/attention.h"
#include "kernels/dot_rows.h"
#include "kernels/gemm_bf16.h"
#include "kernels/gemm_f32.h"
#include "kernels/math_scalar.h"

namespace clipembed::kernels::reference {

static inline void gemm_f32(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                            const float* packed, int64_t panel_begin, int64_t panel_end, float* c,
                            int64_t ldc, const Epilogue& e) {
  for (int64_t t = panel_begin; t < panel_end; ++t) {
    const float* panel = packed + t * kPanelWidth * k;
    const int64_t col0 = t * kPanelWidth, cols = std::min(kPanelWidth, n - col0);
    for (int64_t i = 0; i < m; ++i) {
      float acc[kPanelWidth] = {};
      const float* row = a + i * lda;
      for (int64_t p = 0; p < k; ++p) {
        const float x = row[p];
        const float* b = panel + p * kPanelWidth;
        for (int64_t j = 0; j < kPanelWidth; ++j) acc[j] = std::fma(x, b[j], acc[j]);
      }
      float* out = c + i * ldc + col0;
      for (int64_t j = 0; j < cols; ++j) {
        const float bias = e.bias != nullptr ? e.bias[col0 + j] : 0.0f;
        out[j] = scalar::finish(acc[j], bias, e.accumulate ? out[j] : 0.0f, e.act, e.accumulate);
      }
    }
  }
}

// A subnormal float as a zero of its sign (gemm_bf16.h's reading of inputs and results).
static inline float flush_subnormal(float x) {
  return std::fabs(x) < std::numeric_limits<float>::min() ? std::copysign(0.0f, x) : x;
}

// One pair of gemm_bf16.h's chain: the odd product first, each an exactly rounded fma.
static inline float bf16_pair_step(float acc, uint16_t a0, uint16_t a1, uint16_t w0, uint16_t w1) {
  acc = flush_subnormal(std::fma(flush_subnormal(bf16_to_float(a1)),
                                 flush_subnormal(bf16_to_float(w1)), flush_subnormal(acc)));
  return flush_subnormal(
      std::fma(flush_subnormal(bf16_to_float(a0)), flush_subnormal(bf16_to_float(w0)), acc));
}

static inline void gemm_bf16(int64_t m, int64_t n, int64_t k, const uint16_t* a, int64_t lda,
                             const uint16_t* packed, int64_t panel_begin, int64_t panel_end,
                             float* c, int64_t ldc, const Epilogue& e) {
  const int64_t pairs = bf16_pairs(k);
  for (int64_t t = panel_begin; t < panel_end; ++t) {
    const uint16_t* panel = packed + t * 2 * kPanelWidth * pairs;
    const int64_t col0 = t * kPanelWidth, cols = std::min(kPanelWidth, n - col0);
    for (int64_t i = 0; i < m; ++i) {
      float acc[kPanelWidth] = {};
      const uint16_t* row = a + i * lda;
      for (int64_t s = 0; s < pairs; ++s) {
        const uint16_t* w = panel + s * 2 * kPanelWidth;
        for (int64_t j = 0; j < kPanelWidth; ++j) {
          acc[j] = bf16_pair_step(acc[j], row[2 * s], row[2 * s + 1], w[2 * j], w[2 * j + 1]);
        }
      }
      float* out = c + i * ldc + col0;
      for (int64_t j = 0; j < cols; ++j) {
        const float bias = e.bias != nullptr ? e.bias[col0 + j] : 0.0f;
        out[j] = scalar::finish(acc[j], bias, e.accumulate ? out[j] : 0.0f, e.act, e.accumulate);
      }
    }
  }
}

static inline void attention_head(int64_t n, QueryRows queries, int64_t head_dim, const float* q,
                                  const float* k, const float* v, int64_t ld, bool causal,
                                  float* out, int64_t out_ld, float* scratch) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  float* scores = scratch;
  for (int64_t i = queries.begin; i < queries.end; ++i) {
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
    float* oi = out + (i - queries.begin) * out_ld;
    for (int64_t d = 0; d < head_dim; ++d) oi[d] = 0.0f;
    for (int64_t j = 0; j < keys; ++j) {
      const float p = scores[j] * inverse;
      const float* vj = v + j * ld;
      for (int64_t d = 0; d < head_dim; ++d) oi[d] = std::fma(p, vj[d], oi[d]);
    }
  }
}

static inline void dot_rows(const float* queries, int64_t query_count, const float* rows,
                            int64_t row_count, int64_t dim, float* scores, int64_t ld) {
  const int64_t padded = (dim + kDotLanes - 1) / kDotLanes * kDotLanes;
  for (int64_t q = 0; q < query_count; ++q) {
    const float* a = queries + q * dim;
    for (int64_t r = 0; r < row_count; ++r) {
      const float* b = rows + r * dim;
      float lane[kDotLanes] = {};
      for (int64_t d = 0; d < padded; ++d) {
        const float x = d < dim ? a[d] : 0.0f, y = d < dim ? b[d] : 0.0f;
        lane[d % kDotLanes] = std::fma(x, y, lane[d % kDotLanes]);
      }
      for (int64_t w = kDotLanes / 2; w >= 1; w /= 2) {
        for (int64_t l = 0; l < w; ++l) lane[l] += lane[l + w];
      }
      scores[q * ld + r] = lane[0];
    }
  }
}

}  // namespace clipembed::kernels::reference

namespace clipembed::kernels {

void gemm_f32_scalar_portable(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                              const float* packed, int64_t panel_begin, int64_t panel_end, float* c,
                              int64_t ldc, const Epilogue& epilogue);
void gemm_f32_scalar_fma(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                         const float* packed, int64_t panel_begin, int64_t panel_end, float* c,
                         int64_t ldc, const Epilogue& epilogue);
void gemm_bf16_scalar_portable(int64_t m, int64_t n, int64_t k, const uint16_t* a, int64_t lda,
                               const uint16_t* packed, int64_t panel_begin, int64_t panel_end,
                               float* c, int64_t ldc, const Epilogue& epilogue);
void gemm_bf16_scalar_fma(int64_t m, int64_t n, int64_t k, const uint16_t* a, int64_t lda,
                          const uint16_t* packed, int64_t panel_begin, int64_t panel_end, float* c,
                          int64_t ldc, const Epilogue& epilogue);
void attention_head_scalar_portable(int64_t n, QueryRows queries, int64_t head_dim, const float* q,
                                    const float* k, const float* v, int64_t ld, bool causal,
                                    float* out, int64_t out_ld, float* scratch);
void attention_head_scalar_fma(int64_t n, QueryRows queries, int64_t head_dim, const float* q,
                               const float* k, const float* v, int64_t ld, bool causal, float* out,
                               int64_t out_ld, float* scratch);
void dot_rows_scalar_portable(const float* queries, int64_t query_count, const float* rows,
                              int64_t row_count, int64_t dim, float* scores, int64_t ld);
void dot_rows_scalar_fma(const float* queries, int64_t query_count, const float* rows,
                         int64_t row_count, int64_t dim, float* scores, int64_t ld);

}  // namespace clipembed::kernels
