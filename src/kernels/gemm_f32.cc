#include "kernels/gemm_f32.h"

#include <algorithm>

#include "kernels/scalar_reference.h"

namespace clipembed::kernels {

void pack_f32_panel(const float* rows, int64_t count, int64_t k, float* panel) {
  // The panel is written in order, one 64-byte line per k step, from `count` row streams: the
  // column-by-column order wrote every line sixteen times and was a third of a cold start.
  for (int64_t p = 0; p < k; ++p) {
    float* line = panel + p * kPanelWidth;
    for (int64_t j = 0; j < count; ++j) line[j] = rows[j * k + p];
    for (int64_t j = count; j < kPanelWidth; ++j) line[j] = 0.0f;
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
  if (isa_supported(Isa::kAvx2)) {
    return gemm_f32_scalar_fma(m, n, k, a, lda, packed, panel_begin, panel_end, c, ldc, e);
  }
  gemm_f32_scalar_portable(m, n, k, a, lda, packed, panel_begin, panel_end, c, ldc, e);
}

}  // namespace clipembed::kernels
