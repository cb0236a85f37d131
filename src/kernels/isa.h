// Internal: which instruction set the kernels use, chosen once at start-up from what the CPU has.
// Every SIMD path computes exactly what its scalar reference computes (the same operations in the
// same order, the same polynomial for exp), so the choice changes speed, never a result.
#pragma once

namespace clipembed::kernels {

enum class Isa {
  kScalar,  // Portable C++: the reference every other path is tested against.
  kAvx2,    // AVX2 + FMA (Haswell, Zen and later).
  kAvx512,  // AVX-512 F/BW/DQ/VL, with VNNI for the int8 products (Ice Lake, Zen 4 and later).
};

// The path in use: the best the CPU supports, or CLIPEMBED_ISA=scalar|avx2|avx512 when set (a
// path the CPU lacks falls back to the best one below it). Detected once, thread-safe.
Isa active_isa();

// Whether this CPU can run `isa` (tests use it to run every path that exists here).
bool isa_supported(Isa isa);

const char* isa_name(Isa isa);  // "scalar", "avx2", "avx512".

}  // namespace clipembed::kernels
