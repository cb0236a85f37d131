// Internal: `clipembed bench --images DIR`, the end-to-end pipeline against the forward pass alone.
#pragma once

#include <string>

#include "clipembed/model.h"

namespace clipembed::cli {

// Embeds up to `limit` images from `dir` through the CLI's pipeline (read, decode, crop, forward)
// and, in the same run, runs the forward pass alone on the same crops; prints both rates and
// their ratio. Each is the best of `rounds` alternating rounds, which discounts interference
// from a noisy machine rather than either side. Throws Error on an unusable directory.
void bench_pipeline(const ClipModel& model, const std::string& dir, size_t limit, size_t batch_size,
                    int rounds);

}  // namespace clipembed::cli
