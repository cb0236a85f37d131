// Internal kernel: bfloat16 products with float32 sums, weights packed once, at load, into panels
// of bf16 pairs (half the bytes of float32 panels).
//
// What a sum is, on every path: each output element is one chain over k in pairs (2s, 2s + 1),
// s = 0, 1, ..., starting from 0, and each pair adds its two products one after the other, the odd
// one first: acc = ftz(fma(a[2s+1], w[2s+1], acc)), then acc = ftz(fma(a[2s], w[2s], acc)), where
// the inputs are bf16 numbers (subnormals read as zero) and ftz() flushes a subnormal result to a
// zero of its sign. That is exactly what AVX512_BF16's vdpbf16ps does in each lane (Intel's
// pseudo-code, and checked bit for bit on AMD Zen 4 over millions of random operands, subnormal
// and infinite ones included), so the scalar reference (scalar_reference.h) and the SIMD path give
// the same bits, and, the chain depending on nothing but the row and the weights, every batch is
// invariant. Floats become bf16 by rounding to nearest even, subnormals to a zero of their sign and
// NaN to a quiet NaN (what vcvtneps2bf16 does).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/gemm_f32.h"
#include "kernels/isa.h"

namespace clipembed::kernels {

// A float rounded to bf16 (its upper 16 bits), as above.
inline uint16_t bf16_from_float(float x) {
  uint32_t bits = 0;
  std::memcpy(&bits, &x, sizeof(bits));
  const uint32_t exponent = (bits >> 23) & 0xffu;
  if (exponent == 0xffu && (bits & 0x7fffffu) != 0)
    return static_cast<uint16_t>((bits >> 16) | 0x40u);
  if (exponent == 0) return static_cast<uint16_t>((bits >> 16) & 0x8000u);
  return static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

inline float bf16_to_float(uint16_t h) {
  const uint32_t bits = uint32_t{h} << 16;
  float x = 0.0f;
  std::memcpy(&x, &bits, sizeof(x));
  return x;
}

// The pairs a row of k values takes (an odd k gets a zero last value).
inline int64_t bf16_pairs(int64_t k) { return (k + 1) / 2; }

// bf16 values (uint16_t) the packed form of an [n x k] weight takes.
inline int64_t packed_bf16_size(int64_t n, int64_t k) {
  return panel_count(n) * kPanelWidth * 2 * bf16_pairs(k);
}

// Packs `count` (<= kPanelWidth) consecutive output rows of a Linear weight ([out x in], rows of
// k floats) into one panel (at packed + t * 2 * kPanelWidth * bf16_pairs(k) for panel t): for each
// pair s, kPanelWidth lanes of (w[j][2s], w[j][2s + 1]) in bf16; missing values are 0.
void pack_bf16_panel(const float* rows, int64_t count, int64_t k, uint16_t* panel);

// Rows [row_begin, row_end) of x (k floats, stride ldx) in bf16 into out (stride ldo values, at
// least 2 * bf16_pairs(k)), an odd k's last value 0.
void convert_bf16_rows(Isa isa, const float* x, int64_t ldx, int64_t k, int64_t row_begin,
                       int64_t row_end, uint16_t* out, int64_t ldo);

// Whether gemm_bf16(isa, ...) runs on the CPU's bf16 instructions (AVX512_BF16); otherwise it
// runs the scalar reference: the same bits, many times slower.
bool bf16_native(Isa isa);
// The path gemm_bf16(active_isa(), ...) takes: "avx512_bf16" or "scalar".
const char* bf16_path_name();

// For rows [0, m) of a (bf16, stride lda values, each row 2 * bf16_pairs(k) long) and the columns
// of panels [panel_begin, panel_end) (below n): c[i][j] = finish(the chain above).
void gemm_bf16(Isa isa, int64_t m, int64_t n, int64_t k, const uint16_t* a, int64_t lda,
               const uint16_t* packed, int64_t panel_begin, int64_t panel_end, float* c,
               int64_t ldc, const Epilogue& epilogue);

// The paths, for tests; gemm_bf16() and convert_bf16_rows() dispatch to them.
void gemm_bf16_scalar(int64_t m, int64_t n, int64_t k, const uint16_t* a, int64_t lda,
                      const uint16_t* packed, int64_t panel_begin, int64_t panel_end, float* c,
                      int64_t ldc, const Epilogue& epilogue);
void gemm_bf16_avx512(int64_t m, int64_t n, int64_t k, const uint16_t* a, int64_t lda,
                      const uint16_t* packed, int64_t panel_begin, int64_t panel_end, float* c,
                      int64_t ldc, const Epilogue& epilogue);
void convert_bf16_rows_avx512(const float* x, int64_t ldx, int64_t k, int64_t row_begin,
                              int64_t row_end, uint16_t* out, int64_t ldo);

}  // namespace clipembed::kernels
