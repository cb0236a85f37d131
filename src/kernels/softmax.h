// Internal kernel: numerically stable softmax over each row of [begin, end).
#pragma once

#include <cstdint>

namespace clipembed::kernels {

void softmax_rows(float* x, int64_t ld, int64_t cols, int64_t begin, int64_t end);

}  // namespace clipembed::kernels
