// Internal: the one fan-out of a group of inputs over an Embedder, for every caller that needs
// the group's results together: the Embedder's own future-returning forms (a result per input)
// and the service core behind the HTTP API (the first failure answers for the group, as OpenAI's
// API does, and cancels the rest).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "clipembed/embedder.h"

namespace clipembed::pool {

enum class FailurePolicy {
  kPerInput,   // Every input gets its result or its own error; done once all have finished.
  kFailFirst,  // The first failure ends the group at once: the others are cancelled.
};

struct GroupOutcome {
  std::vector<EmbeddingResult> results;  // One per input (with kFailFirst, complete unless failed).
  std::optional<size_t> failed;          // kFailFirst: the input whose failure ended the group.
  EmbedTiming timing;                    // The slowest input's (TEI's queue and compute times).
};
using GroupDone = std::function<void(GroupOutcome& outcome)>;

// Submits `inputs` as one group (Embedder::submit) and calls `done` exactly once, on whichever
// thread completes the group. With kFailFirst the group's cancellation is cancelled on the first
// failure (`cancellation` if given, else one of its own).
void submit_group(Embedder& embedder, std::vector<EmbedInput> inputs, const EmbedOptions& options,
                  FailurePolicy policy, std::shared_ptr<Cancellation> cancellation, GroupDone done);

}  // namespace clipembed::pool
