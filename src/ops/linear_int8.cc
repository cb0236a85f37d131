#include "ops/linear_int8.h"

#include <cstring>

#include "clipembed/error.h"
#include "kernels/gemm_int8.h"
#include "kernels/quantize.h"

namespace clipembed::ops {
namespace {

// Rows per chunk of the row-wise passes: enough to amortise dispatch, few enough to spread.
constexpr int64_t kRowGrain = 8;
// Column slices of at least 64 outputs keep each integer product large enough to run at speed.
constexpr int64_t kMinColumns = 64;

}  // namespace

QuantizedLinear QuantizedLinear::quantize(Runtime& runtime, std::span<const LinearWeights> parts) {
  QuantizedLinear q;
  if (parts.empty()) return q;
  q.in = parts.front().in;
  const bool has_bias = parts.front().bias != nullptr;
  for (const LinearWeights& part : parts) {
    if (part.in != q.in || (part.bias != nullptr) != has_bias) {
      throw Error(ErrorCode::kInternal, "stacked int8 layers disagree in input size or bias");
    }
    q.out += part.out;
  }
  q.weight.resize(static_cast<size_t>(q.out * q.in));
  q.scale.resize(static_cast<size_t>(q.out));
  q.code_sum.resize(static_cast<size_t>(q.out));
  if (has_bias) q.bias.resize(static_cast<size_t>(q.out));
  int64_t first = 0;
  for (const LinearWeights& part : parts) {
    runtime.parallel_for(
        0, part.out,
        [&](int64_t begin, int64_t end) {
          // This part's rows land after the parts before it.
          kernels::quantize_weight_rows(part.weight, q.in, begin, end, kernels::kWeightCodeMax,
                                        q.weight.data() + first * q.in, q.scale.data() + first,
                                        q.code_sum.data() + first);
        },
        kRowGrain);
    if (has_bias) {
      std::memcpy(q.bias.data() + first, part.bias, static_cast<size_t>(part.out) * sizeof(float));
    }
    first += part.out;
  }
  return q;
}

void quantize_rows(Runtime& runtime, const float* x, int64_t m, int64_t k, QuantizedRows& out) {
  out.rows = m;
  out.cols = k;
  out.codes.resize(static_cast<size_t>(m * k));
  out.scale.resize(static_cast<size_t>(m));
  out.zero.resize(static_cast<size_t>(m));
  runtime.parallel_for(
      0, m,
      [&](int64_t begin, int64_t end) {
        kernels::quantize_activation_rows(x, k, k, begin, end, kernels::kActivationCodeMax,
                                          out.codes.data(), k, out.scale.data(), out.zero.data());
      },
      kRowGrain);
}

void linear_int8(Runtime& runtime, const QuantizedRows& x, const QuantizedLinear& w,
                 int32_t* product, float* y, kernels::Activation act, bool accumulate) {
  const int64_t m = x.rows;
  runtime.parallel_for(
      0, w.out,
      [&](int64_t begin, int64_t end) {
        kernels::gemm_u8s8(m, end - begin, w.in, x.codes.data(), x.cols,
                           w.weight.data() + begin * w.in, w.in, product + begin, w.out);
        kernels::dequantize_product(product, w.out, 0, m, begin, end, x.scale.data(), x.zero.data(),
                                    w.scale.data(), w.code_sum.data(),
                                    w.bias.empty() ? nullptr : w.bias.data(), accumulate, y, w.out);
        if (act != kernels::Activation::kNone) {
          kernels::bias_activation(y, w.out, 0, m, begin, end, nullptr, act);
        }
      },
      kMinColumns);
}

}  // namespace clipembed::ops
