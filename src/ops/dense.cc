#include "ops/dense.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "clipembed/error.h"
#include "kernels/gemm_bf16.h"
#include "kernels/gemm_f32.h"
#include "kernels/gemm_s8.h"
#include "kernels/isa.h"
#include "kernels/layer_norm.h"
#include "kernels/quantize.h"
#include "ops/layer_norm.h"

namespace clipembed::ops {
namespace {

// Panels per chunk of the split: 4 panels (64 outputs) keep each call long enough to run at speed.
constexpr int64_t kMinPanels = 4;
// Rows per chunk of the row-wise passes: enough to amortise dispatch, few enough to spread.
constexpr int64_t kRowGrain = 8;

// Checks that stacked parts share their input and all have a bias or none; returns the total out.
int64_t stacked_out(std::span<const LinearWeights> parts) {
  if (parts.empty()) throw Error(ErrorCode::kInternal, "a dense layer needs weights");
  int64_t out = 0;
  for (const LinearWeights& part : parts) {
    if (part.in != parts.front().in || (part.bias != nullptr) != (parts.front().bias != nullptr)) {
      throw Error(ErrorCode::kInternal, "stacked layers disagree in input size or bias");
    }
    out += part.out;
  }
  return out;
}

// The parts' biases, stacked (empty when they have none).
std::vector<float> stacked_bias(std::span<const LinearWeights> parts, int64_t out) {
  if (parts.front().bias == nullptr) return {};
  std::vector<float> bias(static_cast<size_t>(out));
  int64_t row = 0;
  for (const LinearWeights& part : parts) {
    std::memcpy(bias.data() + row, part.bias, static_cast<size_t>(part.out) * sizeof(float));
    row += part.out;
  }
  return bias;
}

// Bytes between rows of `bytes`: that, or a cache line more when it is a multiple of 4 KiB (the
// L1 set aliasing activation_stride avoids).
int64_t unaliased_stride_bytes(int64_t bytes) {
  constexpr int64_t kSetPeriod = 4096, kLine = 64;
  return bytes % kSetPeriod == 0 ? bytes + kLine : bytes;
}

// Row `row` of the stacked weight.
const float* stacked_row(std::span<const LinearWeights> parts, int64_t row) {
  for (const LinearWeights& part : parts) {
    if (row < part.out) return part.weight + row * part.in;
    row -= part.out;
  }
  return nullptr;
}

// The panels holding the call's output columns [first_out, end_out) of `out`.
std::pair<int64_t, int64_t> call_panels(const DenseCall& call, int64_t out) {
  const int64_t end = call.end_out == 0 ? out : call.end_out;
  if (!Dense::splits_at(call.first_out) || (end != out && !Dense::splits_at(end)) ||
      call.first_out < 0 || end > out || call.first_out >= end) {
    throw Error(ErrorCode::kInternal, "a dense layer's output columns must be whole panels");
  }
  return {call.first_out / kernels::kPanelWidth, kernels::panel_count(end)};
}

// Packs every panel of the stacked parts with `pack(block, rows, t)`, each panel's rows copied
// first from whichever part they lie in, so the kernel's packing sees one contiguous [16 x k]
// block; panels are spread over the runtime.
template <typename Pack>
void pack_panels(Runtime& runtime, std::span<const LinearWeights> parts, int64_t out, int64_t k,
                 const Pack& pack) {
  runtime.parallel_for(0, kernels::panel_count(out), [&](int64_t begin, int64_t end) {
    std::vector<float> block(static_cast<size_t>(kernels::kPanelWidth * k));
    for (int64_t t = begin; t < end; ++t) {
      const int64_t first = t * kernels::kPanelWidth;
      const int64_t rows = std::min(kernels::kPanelWidth, out - first);
      for (int64_t j = 0; j < rows; ++j) {
        std::memcpy(block.data() + j * k, stacked_row(parts, first + j),
                    static_cast<size_t>(k) * sizeof(float));
      }
      pack(block.data(), rows, t);
    }
  });
}

}  // namespace

int64_t activation_stride(int64_t width) {
  return unaliased_stride_bytes(width * int64_t{sizeof(float)}) / int64_t{sizeof(float)};
}

int64_t activation_code_stride(int64_t width) {
  return unaliased_stride_bytes(kernels::padded_k(width));
}

int64_t activation_half_stride(int64_t width) {
  return unaliased_stride_bytes(2 * kernels::bf16_pairs(width) * int64_t{sizeof(uint16_t)}) /
         int64_t{sizeof(uint16_t)};
}

Dense Dense::float32(Runtime& runtime, std::span<const LinearWeights> parts) {
  Dense d;
  d.out_ = stacked_out(parts);
  d.in_ = parts.front().in;
  d.bias_ = stacked_bias(parts, d.out_);
  const int64_t k = d.in_;
  d.packed_f32_ =
      kernels::AlignedBuffer<float>(static_cast<size_t>(kernels::packed_f32_size(d.out_, k)));
  pack_panels(runtime, parts, d.out_, k, [&](const float* block, int64_t rows, int64_t t) {
    kernels::pack_f32_panel(block, rows, k, d.packed_f32_.data() + t * kernels::kPanelWidth * k);
  });
  return d;
}

Dense Dense::bf16(Runtime& runtime, std::span<const LinearWeights> parts) {
  Dense d;
  d.out_ = stacked_out(parts);
  d.in_ = parts.front().in;
  d.bias_ = stacked_bias(parts, d.out_);
  const int64_t k = d.in_, panel_size = 2 * kernels::kPanelWidth * kernels::bf16_pairs(k);
  d.packed_bf16_ =
      kernels::AlignedBuffer<uint16_t>(static_cast<size_t>(kernels::packed_bf16_size(d.out_, k)));
  pack_panels(runtime, parts, d.out_, k, [&](const float* block, int64_t rows, int64_t t) {
    kernels::pack_bf16_panel(block, rows, k, d.packed_bf16_.data() + t * panel_size);
  });
  return d;
}

Dense Dense::int8(Runtime& runtime, std::span<const LinearWeights> parts) {
  Dense d;
  d.out_ = stacked_out(parts);
  d.in_ = parts.front().in;
  d.quantized_ = true;
  d.bias_ = stacked_bias(parts, d.out_);
  d.scale_.resize(static_cast<size_t>(d.out_));
  d.code_sum_.resize(static_cast<size_t>(d.out_));
  const int64_t k = d.in_, panels = kernels::panel_count(d.out_);
  d.packed_s8_ =
      kernels::AlignedBuffer<int8_t>(static_cast<size_t>(kernels::packed_s8_size(d.out_, k)));
  runtime.parallel_for(0, panels, [&](int64_t begin, int64_t end) {
    std::vector<int8_t> codes(static_cast<size_t>(kernels::kPanelWidth * k));
    for (int64_t t = begin; t < end; ++t) {
      const int64_t first = t * kernels::kPanelWidth;
      const int64_t rows = std::min(kernels::kPanelWidth, d.out_ - first);
      for (int64_t j = 0; j < rows; ++j) {
        kernels::quantize_weight_rows(stacked_row(parts, first + j), k, 0, 1,
                                      kernels::kWeightCodeMax, codes.data() + j * k,
                                      d.scale_.data() + first + j, d.code_sum_.data() + first + j);
      }
      kernels::pack_s8_panel(codes.data(), rows, k,
                             d.packed_s8_.data() + t * kernels::kPanelWidth * kernels::padded_k(k));
    }
  });
  return d;
}

size_t Dense::owned_bytes() const {
  return packed_f32_.size() * sizeof(float) + packed_s8_.size() +
         packed_bf16_.size() * sizeof(uint16_t) + (bias_.size() + scale_.size()) * sizeof(float) +
         code_sum_.size() * sizeof(int32_t);
}

void Dense::apply(Runtime& runtime, const float* x, int64_t x_ld, int64_t m, float* y, int64_t y_ld,
                  const DenseCall& call, DenseScratch& scratch) const {
  if (m == 0) return;
  const kernels::Isa isa = kernels::active_isa();
  const auto [first_panel, end_panel] = call_panels(call, out_);
  const float* bias = bias_.empty() ? nullptr : bias_.data();
  if (packed_bf16_.size() != 0) {
    // The rows in bf16 first (spread by rows), then the product (spread by panels).
    const int64_t ldh = activation_half_stride(in_);
    scratch.halves.resize(static_cast<size_t>(m * ldh));
    runtime.parallel_for(
        0, m,
        [&](int64_t begin, int64_t end) {
          kernels::convert_bf16_rows(isa, x, x_ld, in_, begin, end, scratch.halves.data(), ldh);
        },
        kRowGrain);
    const kernels::Epilogue epilogue{bias, call.act, call.accumulate};
    runtime.parallel_for(
        first_panel, end_panel,
        [&](int64_t begin, int64_t end) {
          kernels::gemm_bf16(isa, m, out_, in_, scratch.halves.data(), ldh, packed_bf16_.data(),
                             begin, end, y, y_ld, epilogue);
        },
        kMinPanels);
    return;
  }
  if (!quantized_) {
    const kernels::Epilogue epilogue{bias, call.act, call.accumulate};
    runtime.parallel_for(
        first_panel, end_panel,
        [&](int64_t begin, int64_t end) {
          kernels::gemm_f32(isa, m, out_, in_, x, x_ld, packed_f32_.data(), begin, end, y, y_ld,
                            epilogue);
        },
        kMinPanels);
    return;
  }
  apply_int8(runtime, m, y, y_ld, call, scratch, [&](int64_t begin, int64_t end) {
    kernels::quantize_activation_rows(x, x_ld, in_, begin, end, kernels::kActivationCodeMax,
                                      scratch.codes.data(), activation_code_stride(in_),
                                      scratch.scale.data(), scratch.zero.data());
  });
}

void Dense::apply_normalized(Runtime& runtime, const float* x, int64_t x_ld, const InputNorm& norm,
                             float* h, int64_t h_ld, int64_t m, float* y, int64_t y_ld,
                             const DenseCall& call, DenseScratch& scratch) const {
  if (m == 0) return;
  if (!quantized_) {
    layer_norm(runtime, x, x_ld, h, h_ld, m, in_, norm.gamma, norm.beta, norm.eps);
    apply(runtime, h, h_ld, m, y, y_ld, call, scratch);
    return;
  }
  apply_int8(runtime, m, y, y_ld, call, scratch, [&](int64_t begin, int64_t end) {
    // A block of normalised rows at a time, in this thread's buffer, quantized while in L1: the
    // same two kernels on the same floats as layer_norm() then apply(), so the same codes.
    thread_local std::vector<float> rows;
    rows.resize(static_cast<size_t>(kRowGrain * in_));
    const int64_t ldq = activation_code_stride(in_);
    for (int64_t r = begin; r < end; r += kRowGrain) {
      const int64_t n = std::min(kRowGrain, end - r);
      kernels::layer_norm(x + r * x_ld, x_ld, rows.data(), in_, in_, 0, n, norm.gamma, norm.beta,
                          norm.eps);
      kernels::quantize_activation_rows(rows.data(), in_, in_, 0, n, kernels::kActivationCodeMax,
                                        scratch.codes.data() + r * ldq, ldq,
                                        scratch.scale.data() + r, scratch.zero.data() + r);
    }
  });
}

void Dense::apply_int8(Runtime& runtime, int64_t m, float* y, int64_t y_ld, const DenseCall& call,
                       DenseScratch& scratch,
                       const std::function<void(int64_t, int64_t)>& quantize) const {
  const kernels::Isa isa = kernels::active_isa();
  const auto [first_panel, end_panel] = call_panels(call, out_);
  const float* bias = bias_.empty() ? nullptr : bias_.data();
  // Activations are quantized per row (per token) just before the product, into rows padded with
  // zero codes to whole groups of four. The quantizer writes every code below in_, so only the
  // padding is cleared, not the whole buffer at every product.
  const int64_t kp = kernels::padded_k(in_), ldq = activation_code_stride(in_);
  scratch.codes.resize(static_cast<size_t>(m * ldq));
  for (int64_t i = 0; kp > in_ && i < m; ++i) {
    std::fill(scratch.codes.begin() + i * ldq + in_, scratch.codes.begin() + i * ldq + kp, 0);
  }
  scratch.scale.resize(static_cast<size_t>(m));
  scratch.zero.resize(static_cast<size_t>(m));
  runtime.parallel_for(0, m, quantize, kRowGrain);
  const kernels::QuantizedEpilogue epilogue{
      scratch.scale.data(), scratch.zero.data(), scale_.data(), code_sum_.data(), bias, call.act,
      call.accumulate};
  runtime.parallel_for(
      first_panel, end_panel,
      [&](int64_t begin, int64_t end) {
        kernels::gemm_s8(isa, m, out_, in_, scratch.codes.data(), ldq, packed_s8_.data(), begin,
                         end, y, y_ld, epilogue);
      },
      kMinPanels);
}

}  // namespace clipembed::ops
