// Internal op: one Linear layer (y = x W^T + b, W stored [out x in] as in PyTorch) whose weights
// are packed once, at load, in the precision the model was loaded with (float32 panels, bf16
// pairs or int8 codes), behind one call. The encoder is written once against it, as CTranslate2's
// Dense layer is over its precisions. Work is split across the runtime by output panels, so each
// thread streams its own slice of the weights.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "clipembed/runtime.h"
#include "kernels/activation.h"
#include "kernels/aligned_buffer.h"
#include "kernels/gemm_f32.h"

namespace clipembed::ops {

using Activation = kernels::Activation;

struct LinearWeights {
  const float* weight = nullptr;  // [out x in], row-major.
  const float* bias = nullptr;    // [out], or nullptr.
  int64_t in = 0;
  int64_t out = 0;
};

// How one application of a layer ends.
struct DenseCall {
  Activation act = Activation::kNone;
  bool accumulate = false;  // y += x W^T + b (a residual add); act must then be kNone.
  // The output columns computed, [first_out, end_out) (0: out()), both where Dense::splits_at();
  // the others of y are left as they are. Each column's sums are its own, so they are the same
  // bits either way.
  int64_t first_out = 0;
  int64_t end_out = 0;
};

// The row stride, in floats, for a buffer of activations `width` floats wide: the width, plus one
// cache line when rows would otherwise sit a multiple of 4 KiB apart. A product reads the rows of
// a tile (14 on AVX-512) side by side, and rows 4 KiB apart all fall in one set of L1 (64 sets of
// 64-byte lines on every x86 core we meet), more rows than it has ways, so they evicted each other
// at every step (docs/perf.md: 15-20% of such a product).
int64_t activation_stride(int64_t width);
// The same for the int8 path's codes of activations `width` values wide: bytes between rows.
int64_t activation_code_stride(int64_t width);

// The same for the bf16 path's activations: values (uint16_t) between rows, even.
int64_t activation_half_stride(int64_t width);

// The layer norm of a pre-norm transformer's block, run on a product's input rows first.
struct InputNorm {
  const float* gamma = nullptr;  // [in]
  const float* beta = nullptr;   // [in]
  float eps = 0.0f;
};

// Per-call buffers of the int8 and bf16 paths (the activations' codes or bf16 values), reused
// from layer to layer.
struct DenseScratch {
  std::vector<uint16_t> halves;  // [rows x activation_half_stride(in)]
  std::vector<uint8_t> codes;    // [rows x padded in, padded as activation_stride's rows are]
  std::vector<float> scale;      // [rows]
  std::vector<int32_t> zero;     // [rows]
};

// Immutable after construction; any number of threads may apply() it at once. Every row's
// result depends on that row alone (kernels/gemm_f32.h, gemm_s8.h): batches are invariant.
class Dense {
 public:
  Dense() = default;

  // Float32 weights, packed for the kernels. Several parts sharing their input (e.g. query, key
  // and value) are stacked by output into one product.
  static Dense float32(Runtime& runtime, std::span<const LinearWeights> parts);
  // Weights quantized per output channel to 8-bit codes, then packed (parts stacked alike).
  static Dense int8(Runtime& runtime, std::span<const LinearWeights> parts);
  // Weights rounded to bf16 and packed in pairs; products of bf16 pairs summed in float32
  // (kernels/gemm_bf16.h), the activations rounded to bf16 before each product.
  static Dense bf16(Runtime& runtime, std::span<const LinearWeights> parts);

  int64_t in() const { return in_; }
  int64_t out() const { return out_; }
  // Whether a call's output columns may start or end at `column` (whole panels of the kernels).
  static bool splits_at(int64_t column) { return column % kernels::kPanelWidth == 0; }
  bool quantized() const { return quantized_; }
  // Bytes this layer owns (packed weights, scales, sums and biases).
  size_t owned_bytes() const;

  // y[m x out()] = act(x[m x in()] W^T + b), or y += ... with call.accumulate; x's rows are
  // `x_ld` floats apart, y's `y_ld`.
  void apply(Runtime& runtime, const float* x, int64_t x_ld, int64_t m, float* y, int64_t y_ld,
             const DenseCall& call, DenseScratch& scratch) const;
  // The same over contiguous rows.
  void apply(Runtime& runtime, const float* x, int64_t m, float* y, const DenseCall& call,
             DenseScratch& scratch) const {
    apply(runtime, x, in_, m, y, out_, call, scratch);
  }
  // y = act(layer_norm(x) W^T + b) (or y += ...), the same bits as ops::layer_norm into `h`
  // followed by apply() on h. The float32 path does just that (h then holds the normalised rows,
  // `h_ld` floats apart), and so does the bf16 path; the int8 path normalises and quantizes each
  // block of rows while it is in L1, since the codes are all its product reads, and leaves h
  // unwritten.
  void apply_normalized(Runtime& runtime, const float* x, int64_t x_ld, const InputNorm& norm,
                        float* h, int64_t h_ld, int64_t m, float* y, int64_t y_ld,
                        const DenseCall& call, DenseScratch& scratch) const;

 private:
  // The int8 product of rows [0, m) once `quantize(begin, end)` has written the codes, scales
  // and zero points of rows [begin, end) into scratch (rows split across the runtime).
  void apply_int8(Runtime& runtime, int64_t m, float* y, int64_t y_ld, const DenseCall& call,
                  DenseScratch& scratch,
                  const std::function<void(int64_t, int64_t)>& quantize) const;

  int64_t in_ = 0, out_ = 0;
  bool quantized_ = false;
  kernels::AlignedBuffer<float> packed_f32_;
  kernels::AlignedBuffer<int8_t> packed_s8_;
  kernels::AlignedBuffer<uint16_t> packed_bf16_;
  std::vector<float> bias_;        // [out], or empty.
  std::vector<float> scale_;       // Int8: [out] per-channel scales.
  std::vector<int32_t> code_sum_;  // Int8: [out] sums of each channel's codes.
};

}  // namespace clipembed::ops
