// The AVX2 path of layer_norm (this file alone is compiled with the AVX2 flags): layer_norm_rows.h
// on eight rows at a time.
#include <immintrin.h>

#include "kernels/layer_norm.h"
#include "kernels/layer_norm_rows.h"
#include "kernels/transpose_avx2.h"

namespace clipembed::kernels {
namespace {

struct Avx2 {
  using Vec = __m256;
  static constexpr int kLanes = 8;
  static __m256i first(int64_t count) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static Vec load(__m256i mask, const float* p) { return _mm256_maskload_ps(p, mask); }
  static void store(__m256i mask, float* p, Vec v) { _mm256_maskstore_ps(p, mask, v); }
  static Vec loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static void store_all(float* p, Vec v) { _mm256_store_ps(p, v); }
  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec set1(float x) { return _mm256_set1_ps(x); }
  static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  static Vec sub(Vec a, Vec b) { return _mm256_sub_ps(a, b); }
  static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  static void transpose(Vec v[kLanes]) { avx2::transpose_8x8(v); }
};

}  // namespace

void layer_norm_avx2(const float* in, int64_t in_ld, float* out, int64_t out_ld, int64_t dim,
                     int64_t begin, int64_t end, const float* gamma, const float* beta, float eps) {
  LayerNormRows<Avx2>::run(in, in_ld, out, out_ld, dim, begin, end, gamma, beta, eps, 1);
}

}  // namespace clipembed::kernels
