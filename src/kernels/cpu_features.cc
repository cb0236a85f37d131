#include "kernels/cpu_features.h"

#include <cstdlib>
#include <cstring>

namespace clipembed::kernels {

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = [] {
    CpuFeatures f;
    const char* forced = std::getenv("CLIPEMBED_ISA");
    if (forced != nullptr && std::strcmp(forced, "scalar") == 0) return f;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    f.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return f;
  }();
  return features;
}

}  // namespace clipembed::kernels
