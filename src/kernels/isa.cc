#include "kernels/isa.h"

#include <cstdlib>
#include <cstring>

namespace clipembed::kernels {

bool isa_supported(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  static const bool avx2 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  static const bool avx512 = [] {
    __builtin_cpu_init();
    return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512vnni");
  }();
  switch (isa) {
    case Isa::kScalar:
      return true;
    case Isa::kAvx2:
      return avx2;
    case Isa::kAvx512:
      return avx512;
  }
  return false;
#else
  return isa == Isa::kScalar;
#endif
}

Isa active_isa() {
  static const Isa isa = [] {
    Isa wanted = Isa::kAvx512;
    if (const char* forced = std::getenv("CLIPEMBED_ISA")) {
      if (std::strcmp(forced, "scalar") == 0) wanted = Isa::kScalar;
      if (std::strcmp(forced, "avx2") == 0) wanted = Isa::kAvx2;
    }
    if (wanted == Isa::kAvx512 && !isa_supported(Isa::kAvx512)) wanted = Isa::kAvx2;
    if (wanted == Isa::kAvx2 && !isa_supported(Isa::kAvx2)) wanted = Isa::kScalar;
    return wanted;
  }();
  return isa;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
  }
  return "scalar";
}

}  // namespace clipembed::kernels
