// Internal: `clipembed bench` on a model with a text tower: texts/s at batch 1 and 32, with the
// tokenizer included and on ids tokenized beforehand, in the same run (tokenizing should cost
// next to nothing).
#pragma once

#include "clipembed/model.h"

namespace clipembed::cli {

// Prints one line per batch size; `seconds` per measurement, `rounds` alternating rounds (the
// best of each side is kept, which discounts a noisy machine rather than either side).
void bench_texts(const ClipModel& model, double seconds, int rounds);

}  // namespace clipembed::cli
