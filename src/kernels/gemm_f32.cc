#include "kernels/gemm_f32.h"

#include <algorithm>

#include "kernels/scalar_reference.h"

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
  if (isa_supported(Isa::kAvx2)) {
    return gemm_f32_scalar_fma(m, n, k, a, lda, packed, panel_begin, panel_end, c, ldc, e);
  }
  gemm_f32_scalar_portable(m, n, k, a, lda, packed, panel_begin, panel_end, c, ldc, e);
}

}  // namespace clipembed::kernels
