// Internal kernels: the activations the models' MLPs use, applied in the epilogue of a product
// (math_scalar.h defines them).
#pragma once

namespace clipembed::kernels {

enum class Activation {
  kNone,
  kQuickGelu,  // x * sigmoid(1.702 x), transformers' QuickGELUActivation.
  kGelu,       // 0.5 x (1 + erf(x / sqrt 2)), torch's exact GELU.
  kGeluTanh,   // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), gelu_pytorch_tanh (SigLIP).
};

}  // namespace clipembed::kernels
