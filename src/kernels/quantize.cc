// The quantizers' portable paths and the dispatch between them and the SIMD ones. Every path
// computes the same formulas with the same operations (a product, a round to nearest even, a
// clamp, an exact integer add), so their results agree bit for bit:
//   activations: z = round(clamp(-lo / s, 0, L)), code = clamp(round(x / s), -z, L - z) + z
//   weights:     code = clamp(round(x / s), -L, L)
// where "/ s" is a product with the reciprocal of the scale. A row holding a NaN or an infinity
// gets a NaN scale, so its outputs are NaN: never a wrong but plausible vector.
#include "kernels/quantize.h"

#include <cmath>

#include "kernels/isa.h"
#include "kernels/quantize_row.h"
#include "kernels/quantize_simd.h"

namespace clipembed::kernels {

void quantize_activation_rows(const float* x, int64_t ldx, int64_t k, int64_t row_begin,
                              int64_t row_end, int32_t max_code, uint8_t* q, int64_t ldq,
                              float* scale, int32_t* zero) {
  switch (active_isa()) {
    case Isa::kAvx512:
      return quantize_activation_rows_avx512(x, ldx, k, row_begin, row_end, max_code, q, ldq, scale,
                                             zero);
    case Isa::kAvx2:
      return quantize_activation_rows_avx2(x, ldx, k, row_begin, row_end, max_code, q, ldq, scale,
                                           zero);
    case Isa::kScalar:
      break;
  }
  quantize_activation_rows_scalar(x, ldx, k, row_begin, row_end, max_code, q, ldq, scale, zero);
}

void quantize_weight_rows(const float* w, int64_t k, int64_t row_begin, int64_t row_end,
                          int32_t max_code, int8_t* q, float* scale, int32_t* code_sum) {
  if (active_isa() != Isa::kScalar) {
    quantize_weight_rows_avx2(w, k, row_begin, row_end, max_code, q, scale, code_sum);
  } else {
    quantize_weight_rows_scalar(w, k, row_begin, row_end, max_code, q, scale, code_sum);
  }
}

void quantize_activation_rows_scalar(const float* x, int64_t ldx, int64_t k, int64_t row_begin,
                                     int64_t row_end, int32_t max_code, uint8_t* q, int64_t ldq,
                                     float* scale, int32_t* zero) {
  const float levels = static_cast<float>(max_code);
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float* in = x + r * ldx;
    uint8_t* out = q + r * ldq;
    float lo = 0.0f, hi = 0.0f, probe = 0.0f;
    for (int64_t i = 0; i < k; ++i) {
      lo = in[i] < lo ? in[i] : lo;
      hi = in[i] > hi ? in[i] : hi;
      probe += in[i] * 0.0f;  // NaN once any value is not finite.
    }
    if (probe != 0.0f) {
      mark_non_finite_row(out, k, &scale[r], &zero[r]);
      continue;
    }
    const RowScale s = activation_row_scale(lo, hi, levels);
    for (int64_t i = 0; i < k; ++i) out[i] = activation_code(in[i], s, levels);
    scale[r] = s.scale;
    zero[r] = static_cast<int32_t>(s.zero);
  }
}

void quantize_weight_rows_scalar(const float* w, int64_t k, int64_t row_begin, int64_t row_end,
                                 int32_t max_code, int8_t* q, float* scale, int32_t* code_sum) {
  const float levels = static_cast<float>(max_code);
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float* in = w + r * k;
    int8_t* out = q + r * k;
    float peak = 0.0f, probe = 0.0f;
    for (int64_t i = 0; i < k; ++i) {
      const float magnitude = std::fabs(in[i]);
      peak = magnitude > peak ? magnitude : peak;
      probe += in[i] * 0.0f;
    }
    if (probe != 0.0f) {
      mark_non_finite_row(out, k, &scale[r], &code_sum[r]);
      continue;
    }
    const RowScale s = weight_row_scale(peak, levels);
    int32_t sum = 0;
    for (int64_t i = 0; i < k; ++i) {
      out[i] = weight_code(in[i], s, levels);
      sum += out[i];
    }
    scale[r] = s.scale;
    code_sum[r] = sum;
  }
}

}  // namespace clipembed::kernels
