// Internal: the decode -> forward pipeline behind `clipembed embed` and `clipembed bench --images`.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include "clipembed/error.h"
#include "clipembed/input.h"
#include "clipembed/model.h"

namespace clipembed::cli {

struct PipelineOptions {
  size_t batch_size = 16;  // Images per forward pass.
  bool normalize = false;
  InputLimits limits;  // How files and URLs are read.
};

// What became of one input: `embedding` (model dimension floats) on success, else null with the
// error's code and message. Valid only during the callback.
struct PipelineResult {
  const std::string& input;
  const float* embedding;
  ErrorCode code;
  const std::string& message;
};

// The input a command-line argument names, by the service's rule for local strings
// (service/inputs.h): an http(s) URL, a data: URI, else a file path.
ImageInput command_line_input(const std::string& argument);

// Embeds every input `next` yields, in order, calling `emit` once per input in that order and
// `batch_done` after each batch's results. Runs on the shared runtime:
// while batch k runs through the network, batch k+1 is read, decoded and cropped by the runtime's
// other threads (its decode tasks are queued behind the forward pass, whose own helper chunks
// queue after them), so decoding fills the gaps of the forward pass instead of taking turns with
// it. At most two batches are in flight, so memory does not depend on the number of inputs.
// Vectors are batch-invariant: each equals the single-image result bit for bit. An error in the
// network itself (not in one input) is thrown.
void run_pipeline(const ClipModel& model, const std::function<std::optional<std::string>()>& next,
                  const PipelineOptions& options,
                  const std::function<void(const PipelineResult&)>& emit,
                  const std::function<void()>& batch_done);

}  // namespace clipembed::cli
