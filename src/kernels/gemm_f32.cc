#include "kernels/gemm_f32.h"

#include <algorithm>

#include "kernels/math_scalar.h"

namespace clipembed::kernels {

void pack_f32_panel(const float* rows, int64_t count, int64_t k, float* panel) {
  for (int64_t j = 0; j < kPanelWidth; ++j) {
    for (int64_t p = 0; p < k; ++p) panel[p * kPanelWidth + j] = j < count ? rows[j * k + p] : 0.0f;
  }
}

void gemm_f32(Isa isa, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
              const float* packed, int64_t panel_begin, int64_t panel_end, float* c, int64_t ldc,
              const Epilogue& epilogue) {
  switch (isa) {
    case Isa::kAvx512:
      return gemm_f32_avx512(m, n, k, a, lda, packed, panel_begin, panel_end, c, ldc, epilogue);
    case Isa::kAvx2:
      return gemm_f32_avx2(m, n, k, a, lda, packed, panel_begin, panel_end, c, ldc, epilogue);
    case Isa::kScalar:
      break;
  }
  gemm_f32_scalar(m, n, k, a, lda, packed, panel_begin, panel_end, c, ldc, epilogue);
}

void gemm_f32_scalar(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
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

}  // namespace clipembed::kernels
