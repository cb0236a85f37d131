#include <string>

#include "clipembed/error.h"
#include "clipembed/model.h"

namespace clipembed {

Precision parse_precision(const std::string& name) {
  if (name == "fp32" || name == "f32" || name == "float32") return Precision::kF32;
  if (name == "int8") return Precision::kInt8;
  if (name == "f16" || name == "fp16" || name == "float16" || name == "bf16") {
    // Measured (docs/perf.md): without AVX512-FP16 a CPU computes half precision by converting to
    // float32 (no faster), and bf16 products ran at half of float32's speed.
    throw Error(ErrorCode::kUnsupported,
                "precision '" + name +
                    "' is not available: half-precision compute is no faster than fp32 on the "
                    "CPUs clipembed supports; use fp32, or int8 for speed");
  }
  throw Error(ErrorCode::kInvalidArgument,
              "unknown precision '" + name + "' (expected fp32 or int8)");
}

const char* precision_name(Precision precision) {
  return precision == Precision::kInt8 ? "int8" : "fp32";
}

}  // namespace clipembed
