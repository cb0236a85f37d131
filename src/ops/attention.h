// Internal op: multi-head scaled dot-product attention (no mask), as in CLIP's vision encoder.
#pragma once

#include <cstdint>

#include "clipembed/runtime.h"

namespace clipembed::ops {

struct AttentionShape {
  int64_t batch = 0;
  int64_t tokens = 0;
  int64_t heads = 0;
  int64_t head_dim = 0;
};

// q, k, v and out are [batch * tokens x heads * head_dim] with row stride `ld`; head h of a row
// uses columns [h * head_dim, (h + 1) * head_dim). Work is split by (image, head) pairs.
void attention(Runtime& runtime, const float* q, const float* k, const float* v, int64_t ld,
               const AttentionShape& shape, float* out, int64_t out_ld);

}  // namespace clipembed::ops
