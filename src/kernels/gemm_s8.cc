#include "kernels/gemm_s8.h"

#include <algorithm>

#include "kernels/math_scalar.h"

namespace clipembed::kernels {

void pack_s8_panel(const int8_t* rows, int64_t count, int64_t k, int8_t* panel) {
  for (int64_t g = 0; g < padded_k(k) / 4; ++g) {
    for (int64_t j = 0; j < kPanelWidth; ++j) {
      for (int64_t q = 0; q < 4; ++q) {
        const int64_t p = 4 * g + q;
        panel[(g * kPanelWidth + j) * 4 + q] = j < count && p < k ? rows[j * k + p] : int8_t{0};
      }
    }
  }
}

void gemm_s8(Isa isa, int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda,
             const int8_t* packed, int64_t panel_begin, int64_t panel_end, float* c, int64_t ldc,
             const QuantizedEpilogue& epilogue) {
  switch (isa) {
    case Isa::kAvx512:
      return gemm_s8_avx512(m, n, k, a, lda, packed, panel_begin, panel_end, c, ldc, epilogue);
    case Isa::kAvx2:
      return gemm_s8_avx2(m, n, k, a, lda, packed, panel_begin, panel_end, c, ldc, epilogue);
    case Isa::kScalar:
      break;
  }
  gemm_s8_scalar(m, n, k, a, lda, packed, panel_begin, panel_end, c, ldc, epilogue);
}

void gemm_s8_scalar(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda,
                    const int8_t* packed, int64_t panel_begin, int64_t panel_end, float* c,
                    int64_t ldc, const QuantizedEpilogue& e) {
  const int64_t kp = padded_k(k);
  for (int64_t t = panel_begin; t < panel_end; ++t) {
    const int8_t* panel = packed + t * kPanelWidth * kp;
    const int64_t col0 = t * kPanelWidth, cols = std::min(kPanelWidth, n - col0);
    for (int64_t i = 0; i < m; ++i) {
      int32_t acc[kPanelWidth] = {};
      const uint8_t* row = a + i * lda;
      for (int64_t g = 0; g < kp / 4; ++g) {
        const int8_t* b = panel + g * kPanelWidth * 4;
        for (int64_t j = 0; j < kPanelWidth; ++j) {
          for (int64_t q = 0; q < 4; ++q) acc[j] += int32_t{row[4 * g + q]} * b[j * 4 + q];
        }
      }
      float* out = c + i * ldc + col0;
      for (int64_t j = 0; j < cols; ++j) {
        const int64_t col = col0 + j;
        const float s = e.row_scale[i] * e.col_scale[col];
        const float v = s * static_cast<float>(acc[j] - e.row_zero[i] * e.col_sum[col]);
        const float bias = e.bias != nullptr ? e.bias[col] : 0.0f;
        out[j] = scalar::finish(v, bias, e.accumulate ? out[j] : 0.0f, e.act, e.accumulate);
      }
    }
  }
}

}  // namespace clipembed::kernels
