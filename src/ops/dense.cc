#include "ops/dense.h"

#include <algorithm>
#include <cstring>

#include "clipembed/error.h"

namespace clipembed::ops {
namespace {

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

}  // namespace

Dense Dense::float32(std::span<const LinearWeights> parts) {
  Dense d;
  d.in_ = parts.empty() ? 0 : parts.front().in;
  d.out_ = stacked_out(parts);
  if (parts.size() == 1) {
    d.float_ = parts.front();
    return d;
  }
  d.stacked_.resize(static_cast<size_t>(d.out_ * d.in_));
  if (parts.front().bias != nullptr) d.stacked_bias_.resize(static_cast<size_t>(d.out_));
  int64_t row = 0;
  for (const LinearWeights& part : parts) {
    std::memcpy(d.stacked_.data() + row * d.in_, part.weight,
                static_cast<size_t>(part.out * part.in) * sizeof(float));
    if (part.bias != nullptr) {
      std::memcpy(d.stacked_bias_.data() + row, part.bias,
                  static_cast<size_t>(part.out) * sizeof(float));
    }
    row += part.out;
  }
  d.float_ = {d.stacked_.data(), d.stacked_bias_.empty() ? nullptr : d.stacked_bias_.data(), d.in_,
              d.out_};
  return d;
}

Dense Dense::int8(Runtime& runtime, std::span<const LinearWeights> parts) {
  Dense d;
  stacked_out(parts);
  d.codes_ = QuantizedLinear::quantize(runtime, parts);
  d.in_ = d.codes_.in;
  d.out_ = d.codes_.out;
  d.quantized_ = true;
  return d;
}

size_t Dense::owned_bytes() const {
  if (quantized_) {
    return codes_.weight.size() + (codes_.scale.size() + codes_.bias.size()) * sizeof(float) +
           codes_.code_sum.size() * sizeof(int32_t);
  }
  return (stacked_.size() + stacked_bias_.size()) * sizeof(float);
}

void Dense::apply(Runtime& runtime, const float* x, int64_t m, float* y, const DenseCall& call,
                  DenseScratch& scratch) const {
  if (!quantized_) {
    linear(runtime, x, m, float_, y, call.act, call.accumulate, call.item_starts);
    return;
  }
  quantize_rows(runtime, x, m, in_, scratch.codes);
  const size_t product = static_cast<size_t>(m * out_);
  if (scratch.product.size() < product) scratch.product.resize(product);
  linear_int8(runtime, scratch.codes, codes_, scratch.product.data(), y, call.act, call.accumulate);
}

}  // namespace clipembed::ops
