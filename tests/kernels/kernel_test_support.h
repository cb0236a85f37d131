// Test support for the kernels: random inputs and the ISA paths this CPU can run.
#pragma once

#include <cstring>
#include <random>
#include <vector>

#include "kernels/isa.h"

namespace clipembed::kernels::testing {

inline std::vector<float> random_floats(size_t count, uint32_t seed, float spread = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, spread);
  std::vector<float> v(count);
  for (float& f : v) f = dist(rng);
  return v;
}

// The SIMD paths this CPU supports (the scalar path is the reference they are compared with).
inline std::vector<Isa> simd_paths() {
  std::vector<Isa> paths;
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (isa_supported(isa)) paths.push_back(isa);
  }
  return paths;
}

inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace clipembed::kernels::testing
