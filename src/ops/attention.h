// Internal op: multi-head scaled dot-product attention over items of their own lengths, with no
// mask (CLIP's vision encoder) or a causal one (its text encoder).
#pragma once

#include <cstdint>
#include <span>

#include "clipembed/runtime.h"

namespace clipembed::ops {

enum class AttentionMask { kNone, kCausal };

struct AttentionShape {
  std::span<const int64_t> item_starts;  // The first row of each item, then the row count.
  int64_t heads = 0;
  int64_t head_dim = 0;
  AttentionMask mask = AttentionMask::kNone;
  // Empty: every row is computed, into its own row of out. Otherwise one row per item (its index
  // among all the rows, inside the item), the only one computed, into out's row i for item i.
  std::span<const int64_t> query_rows = {};
};

// q, k, v are rows with stride `ld` and out rows with stride `out_ld`; head h of a row uses columns
// [h * head_dim, (h + 1) * head_dim). A row attends to the rows of its own item (with a causal
// mask, to those up to and including itself), and its result is the same whichever rows are
// computed. Work is split by (item, head) pairs.
void attention(Runtime& runtime, const float* q, const float* k, const float* v, int64_t ld,
               const AttentionShape& shape, float* out, int64_t out_ld);

}  // namespace clipembed::ops
