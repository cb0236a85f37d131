#include <string>

#include "clipembed/error.h"
#include "clipembed/model.h"

namespace clipembed {

Precision parse_precision(const std::string& name) {
  if (name == "fp32" || name == "f32" || name == "float32") return Precision::kF32;
  if (name == "int8") return Precision::kInt8;
  if (name == "bf16" || name == "bfloat16") return Precision::kBf16;
  if (name == "f16" || name == "fp16" || name == "float16") {
    // Without AVX512-FP16 a CPU computes float16 by converting to float32 (no faster).
    throw Error(ErrorCode::kUnsupported,
                "precision '" + name +
                    "' is not available: float16 compute is no faster than fp32 on the CPUs "
                    "clipembed supports; use bf16, or int8 for speed");
  }
  throw Error(ErrorCode::kInvalidArgument,
              "unknown precision '" + name + "' (expected fp32, int8 or bf16)");
}

const char* precision_name(Precision precision) {
  switch (precision) {
    case Precision::kInt8:
      return "int8";
    case Precision::kBf16:
      return "bf16";
    case Precision::kF32:
      break;
  }
  return "fp32";
}

}  // namespace clipembed
