// Internal: what the running CPU supports, detected once. The one place where kernels are chosen:
// every dispatching kernel asks here, so a single binary runs the best path on any x86-64 CPU.
#pragma once

namespace clipembed::kernels {

struct CpuFeatures {
  bool avx2_fma = false;  // AVX2 and FMA3 (Haswell, Zen and later).
};

// Detected on first call (thread-safe); CLIPEMBED_ISA=scalar forces the portable paths, which the
// tests use to compare every SIMD path against its scalar reference.
const CpuFeatures& cpu_features();

}  // namespace clipembed::kernels
