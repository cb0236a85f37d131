// Internal kernel: float32 products with weights packed once, at load, into panels.
//
// Why our own: every output element is one fused multiply-add chain over k, in order, from 0.
// A row's result therefore depends on nothing but that row and the weights: not on how many rows
// are multiplied with it (M), not on its place in the batch, not on the ISA's tile height. Batch
// invariance is free, and every path (scalar, AVX2, AVX-512) gives the same bits. A library GEMM
// blocks k differently for different M, so its rounding depends on the batch (docs/perf.md). The
// SIMD paths block large products too, but a sum carried from one k block to the next is stored
// and reloaded as it is, so it stays the one chain.
#pragma once

#include <cstdint>

#include "kernels/activation.h"
#include "kernels/isa.h"

namespace clipembed::kernels {

// Output columns per packed panel, for every ISA.
constexpr int64_t kPanelWidth = 16;

inline int64_t panel_count(int64_t n) { return (n + kPanelWidth - 1) / kPanelWidth; }

// Floats the packed form of an [n x k] weight takes.
inline int64_t packed_f32_size(int64_t n, int64_t k) { return panel_count(n) * kPanelWidth * k; }

// Packs `count` (<= kPanelWidth) consecutive output rows of a Linear weight ([out x in], rows of
// k floats) into one panel (at packed + t * kPanelWidth * k for panel t): k rows of kPanelWidth
// floats, element (p, j) = rows[j][p]; columns past `count` are 0.
void pack_f32_panel(const float* rows, int64_t count, int64_t k, float* panel);

// How a product ends, fused into its store (math_scalar.h's finish()).
struct Epilogue {
  const float* bias = nullptr;  // [n]; null adds 0.
  Activation act = Activation::kNone;
  bool accumulate = false;  // c += sum + bias (a residual); act must then be kNone.
};

// Rows the AVX-512 path takes at a time in its unblocked loop: activations past kRowBlockBytes
// (ViT-B/32's at batch 8: 1.2 MB) no longer stay in L2 from one pair of panels to the next, so
// they are taken in even blocks of whole tiles of this size at most, each passed over by every
// panel of the call, and the panels (far fewer bytes) are read once per block instead. (The AVX2
// path, measured on an AVX-512 CPU, neither gained nor lost, and AVX2-only CPUs seen here have
// half the L2, so it keeps one pass.)
constexpr int64_t kRowBlockBytes = int64_t{512} << 10;
inline int64_t row_block_rows(int64_t m, int64_t lda, int64_t tile_rows) {
  const int64_t bytes = m * lda * int64_t{sizeof(float)};
  const int64_t blocks = (bytes + kRowBlockBytes - 1) / kRowBlockBytes;
  const int64_t tiles = (m + tile_rows - 1) / tile_rows;
  return blocks <= 1 ? m : (tiles + blocks - 1) / blocks * tile_rows;
}

// For rows [0, m) of a (stride lda) and the columns of panels [panel_begin, panel_end) (below n):
// c[i][j] = finish(sum over p of a[i][p] * w[j][p]), each sum one fma chain in p order from 0.
void gemm_f32(Isa isa, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
              const float* packed, int64_t panel_begin, int64_t panel_end, float* c, int64_t ldc,
              const Epilogue& epilogue);

// The ISA paths, for tests; gemm_f32() dispatches to them.
void gemm_f32_scalar(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                     const float* packed, int64_t panel_begin, int64_t panel_end, float* c,
                     int64_t ldc, const Epilogue& epilogue);
void gemm_f32_avx2(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                   const float* packed, int64_t panel_begin, int64_t panel_end, float* c,
                   int64_t ldc, const Epilogue& epilogue);
void gemm_f32_avx512(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                     const float* packed, int64_t panel_begin, int64_t panel_end, float* c,
                     int64_t ldc, const Epilogue& epilogue);

}  // namespace clipembed::kernels
