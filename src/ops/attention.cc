#include "ops/attention.h"

#include <algorithm>
#include <vector>

#include "kernels/attention.h"
#include "kernels/isa.h"

namespace clipembed::ops {

void attention(Runtime& runtime, const float* q, const float* k, const float* v, int64_t ld,
               const AttentionShape& s, float* out, int64_t out_ld) {
  const kernels::Isa isa = kernels::active_isa();
  const int64_t items = static_cast<int64_t>(s.item_starts.size()) - 1;
  const bool causal = s.mask == AttentionMask::kCausal;
  runtime.parallel_for(0, items * s.heads, [&](int64_t begin, int64_t end) {
    // Each thread keeps its scratch from call to call (148 KB a head for ViT-L/14, past malloc's
    // threshold for mapping fresh pages): attention then allocates nothing per call.
    thread_local std::vector<float> scratch;
    for (int64_t pair = begin; pair < end; ++pair) {
      const int64_t item = pair / s.heads, h = pair % s.heads;
      const int64_t row0 = s.item_starts[item], col0 = h * s.head_dim;
      const int64_t n = s.item_starts[item + 1] - row0;
      scratch.resize(static_cast<size_t>(kernels::attention_scratch_floats(n, s.head_dim)));
      const bool every_row = s.query_rows.empty();
      const int64_t first = every_row ? 0 : s.query_rows[static_cast<size_t>(item)] - row0;
      const kernels::QueryRows queries{first, every_row ? n : first + 1};
      const int64_t out_row = every_row ? row0 : item;
      kernels::attention_head(isa, n, queries, s.head_dim, q + row0 * ld + col0,
                              k + row0 * ld + col0, v + row0 * ld + col0, ld, causal,
                              out + out_row * out_ld + col0, out_ld, scratch.data());
    }
  });
}

}  // namespace clipembed::ops
