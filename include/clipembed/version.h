// clipembed/version.h: which clipembed this is.
//
//   std::printf("clipembed %s (%s)\n", clipembed::version(), clipembed::build_commit());
//
// Thread-safe: constants.
#pragma once

namespace clipembed {

// The release version, e.g. "0.1.0".
const char* version();
// The git commit the library was built from (short hash), or "unknown".
const char* build_commit();
// The instruction set the kernels use on this CPU: "avx512", "avx2" or "scalar" (the best the CPU
// has, or the one CLIPEMBED_ISA forces).
const char* kernel_isa();
// The path of bf16 products (Precision::kBf16) on this CPU: "avx512_bf16", or "scalar" where the
// CPU lacks AVX512_BF16 (or CLIPEMBED_ISA forces a lower path): the same bits, many times slower.
const char* bf16_kernel();

}  // namespace clipembed
