#include "kernels/gemm_bf16.h"

#include <algorithm>

#include "kernels/scalar_reference.h"

namespace clipembed::kernels {

void pack_bf16_panel(const float* rows, int64_t count, int64_t k, uint16_t* panel) {
  // Written in order, one 64-byte line (kPanelWidth pairs) per pair of k steps.
  const int64_t pairs = bf16_pairs(k);
  for (int64_t s = 0; s < pairs; ++s) {
    uint16_t* line = panel + s * 2 * kPanelWidth;
    for (int64_t j = 0; j < kPanelWidth; ++j) {
      for (int64_t h = 0; h < 2; ++h) {
        const int64_t p = 2 * s + h;
        line[2 * j + h] = j < count && p < k ? bf16_from_float(rows[j * k + p]) : uint16_t{0};
      }
    }
  }
}

void convert_bf16_rows(Isa isa, const float* x, int64_t ldx, int64_t k, int64_t row_begin,
                       int64_t row_end, uint16_t* out, int64_t ldo) {
  if (bf16_native(isa)) return convert_bf16_rows_avx512(x, ldx, k, row_begin, row_end, out, ldo);
  for (int64_t i = row_begin; i < row_end; ++i) {
    for (int64_t p = 0; p < k; ++p) out[i * ldo + p] = bf16_from_float(x[i * ldx + p]);
    if (k % 2 != 0) out[i * ldo + k] = 0;
  }
}

bool bf16_native(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  static const bool avx512_bf16 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") != 0;
  }();
  return isa == Isa::kAvx512 && avx512_bf16;
#else
  (void)isa;
  return false;
#endif
}

const char* bf16_path_name() { return bf16_native(active_isa()) ? "avx512_bf16" : "scalar"; }

void gemm_bf16(Isa isa, int64_t m, int64_t n, int64_t k, const uint16_t* a, int64_t lda,
               const uint16_t* packed, int64_t panel_begin, int64_t panel_end, float* c,
               int64_t ldc, const Epilogue& epilogue) {
  if (bf16_native(isa)) {
    return gemm_bf16_avx512(m, n, k, a, lda, packed, panel_begin, panel_end, c, ldc, epilogue);
  }
  gemm_bf16_scalar(m, n, k, a, lda, packed, panel_begin, panel_end, c, ldc, epilogue);
}

void gemm_bf16_scalar(int64_t m, int64_t n, int64_t k, const uint16_t* a, int64_t lda,
                      const uint16_t* packed, int64_t panel_begin, int64_t panel_end, float* c,
                      int64_t ldc, const Epilogue& e) {
  if (isa_supported(Isa::kAvx2)) {
    return gemm_bf16_scalar_fma(m, n, k, a, lda, packed, panel_begin, panel_end, c, ldc, e);
  }
  gemm_bf16_scalar_portable(m, n, k, a, lda, packed, panel_begin, panel_end, c, ldc, e);
}

}  // namespace clipembed::kernels
