#include "cli/embed_pipeline.h"

#include <deque>

#include "service/inputs.h"

namespace clipembed::cli {

ImageInput command_line_input(const std::string& argument) {
  return service::local_image(argument);
}

void run_pipeline(const ClipModel& model, const std::function<std::optional<std::string>()>& next,
                  const PipelineOptions& options,
                  const std::function<void(const PipelineResult&)>& emit,
                  const std::function<void()>& batch_done) {
  // The stream answers in input order, so the arguments in flight wait in order beside it.
  std::deque<std::string> pending;
  model.embed_image_stream(
      [&]() -> std::optional<ImageInput> {
        std::optional<std::string> argument = next();
        if (!argument) return std::nullopt;
        pending.push_back(std::move(*argument));
        return command_line_input(pending.back());
      },
      [&](size_t, const float* embedding, const Error* error) {
        const std::string input = std::move(pending.front());
        pending.pop_front();
        const std::string message = error != nullptr ? error->what() : "";
        emit(PipelineResult{input, embedding,
                            error != nullptr ? error->code() : ErrorCode::kInternal, message});
      },
      {.batch_size = options.batch_size, .embed = {.normalize = options.normalize}}, batch_done);
}

}  // namespace clipembed::cli
