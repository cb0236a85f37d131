#include "kernels/dot_rows.h"

#include "kernels/scalar_reference.h"

namespace clipembed::kernels {

void dot_rows(Isa isa, const float* queries, int64_t query_count, const float* rows,
              int64_t row_count, int64_t dim, float* scores, int64_t ld) {
  switch (isa) {
    case Isa::kAvx512:
      return dot_rows_avx512(queries, query_count, rows, row_count, dim, scores, ld);
    case Isa::kAvx2:
      return dot_rows_avx2(queries, query_count, rows, row_count, dim, scores, ld);
    case Isa::kScalar:
      break;
  }
  dot_rows_scalar(queries, query_count, rows, row_count, dim, scores, ld);
}

void dot_rows_scalar(const float* queries, int64_t query_count, const float* rows,
                     int64_t row_count, int64_t dim, float* scores, int64_t ld) {
  if (isa_supported(Isa::kAvx2)) {
    return dot_rows_scalar_fma(queries, query_count, rows, row_count, dim, scores, ld);
  }
  dot_rows_scalar_portable(queries, query_count, rows, row_count, dim, scores, ld);
}

float dot_scalar(const float* a, const float* b, int64_t dim) {
  float score = 0;
  dot_rows_scalar(a, 1, b, 1, dim, &score, 1);
  return score;
}

DotFunction dot_function(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return dot_avx512;
    case Isa::kAvx2:
      return dot_avx2;
    case Isa::kScalar:
      break;
  }
  return dot_scalar;
}

}  // namespace clipembed::kernels
