// Internal: the CLI's adapter over the library's one batch path (ClipModel::embed_image_stream)
// for `clipembed embed`, `classify`, `index` and `bench --images`: command-line strings in, the
// string with its result out.
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

// Embeds every input `next` yields, in order, under the model's input limits (files and URLs are
// read as LoadOptions::input says), calling `emit` once per input in that order and `batch_done`
// after each batch's results: ClipModel::embed_image_stream, which overlaps the reading of batch
// k+1 with batch k's forward pass and keeps at most two batches in flight. An error in the
// network itself (not in one input) is thrown.
void run_pipeline(const ClipModel& model, const std::function<std::optional<std::string>()>& next,
                  const PipelineOptions& options,
                  const std::function<void(const PipelineResult&)>& emit,
                  const std::function<void()>& batch_done);

}  // namespace clipembed::cli
