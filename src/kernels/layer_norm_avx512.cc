// The AVX-512 path of layer_norm (this file alone is compiled with the AVX-512 flags):
// layer_norm_rows.h on sixteen rows at a time.
#include <immintrin.h>

#include "kernels/layer_norm.h"
#include "kernels/layer_norm_rows.h"
#include "kernels/transpose_avx512.h"

namespace clipembed::kernels {
namespace {

struct Avx512 {
  using Vec = __m512;
  static constexpr int kLanes = 16;
  static __mmask16 first(int64_t count) {
    return static_cast<__mmask16>((1u << static_cast<unsigned>(count)) - 1u);
  }
  static Vec load(__mmask16 mask, const float* p) { return _mm512_maskz_loadu_ps(mask, p); }
  static void store(__mmask16 mask, float* p, Vec v) { _mm512_mask_storeu_ps(p, mask, v); }
  static Vec loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static void store_all(float* p, Vec v) { _mm512_store_ps(p, v); }
  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec set1(float x) { return _mm512_set1_ps(x); }
  static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  static Vec sub(Vec a, Vec b) { return _mm512_sub_ps(a, b); }
  static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  static void transpose(Vec v[kLanes]) { avx512::transpose_16x16(v); }
};

}  // namespace

void layer_norm_avx512(const float* in, int64_t in_ld, float* out, int64_t out_ld, int64_t dim,
                       int64_t begin, int64_t end, const float* gamma, const float* beta,
                       float eps) {
  // Groups of more than eight rows take sixteen lanes; eight rows or fewer (the int8 path
  // normalises eight at a time) the AVX2 path's eight lanes, half the work for the same bits.
  const int64_t r = LayerNormRows<Avx512>::run(in, in_ld, out, out_ld, dim, begin, end, gamma, beta,
                                               eps, Avx512::kLanes / 2 + 1);
  if (r < end) layer_norm_avx2(in, in_ld, out, out_ld, dim, r, end, gamma, beta, eps);
}

}  // namespace clipembed::kernels
