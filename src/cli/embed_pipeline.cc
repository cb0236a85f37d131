#include "cli/embed_pipeline.h"

#include <future>
#include <memory>
#include <vector>

#include "clipembed/runtime.h"
#include "image/image_loader.h"
#include "service/inputs.h"

namespace clipembed::cli {
namespace {

struct Slot {
  std::string input;
  std::optional<Image> crop;
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

// One batch: its inputs and the decode tasks filling in their crops. Held by pointer so the
// tasks' references to the slots stay valid, and never destroyed before its tasks have finished
// (an exception may unwind past a batch still decoding).
struct Batch {
  std::vector<Slot> slots;
  std::vector<std::future<void>> decoding;

  Batch() = default;
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;
  ~Batch() { wait(); }
  void wait() {
    for (std::future<void>& f : decoding) {
      if (f.valid()) shared_runtime().wait(f);  // Decode tasks store their errors in the slot.
    }
  }
};

void decode_into(const ClipModel& model, const InputLimits& limits, Slot* slot) {
  try {
    slot->crop = model.preprocess(image::load_image(command_line_input(slot->input), limits));
  } catch (const Error& e) {
    slot->code = e.code();
    slot->message = e.what();
  } catch (const std::exception& e) {
    slot->message = e.what();
  }
}

std::unique_ptr<Batch> start_batch(const ClipModel& model,
                                   const std::function<std::optional<std::string>()>& next,
                                   size_t size, const InputLimits& limits) {
  auto batch = std::make_unique<Batch>();
  batch->slots.reserve(size);
  while (batch->slots.size() < size) {
    std::optional<std::string> input = next();
    if (!input) break;
    batch->slots.emplace_back().input = std::move(*input);
  }
  for (Slot& slot : batch->slots) {
    batch->decoding.push_back(
        shared_runtime().submit([&model, &limits, &slot] { decode_into(model, limits, &slot); }));
  }
  return batch;
}

}  // namespace

ImageInput command_line_input(const std::string& argument) {
  return service::local_image(argument);
}

void run_pipeline(const ClipModel& model, const std::function<std::optional<std::string>()>& next,
                  const PipelineOptions& options,
                  const std::function<void(const PipelineResult&)>& emit,
                  const std::function<void()>& batch_done) {
  Runtime& runtime = shared_runtime();
  const size_t dim = static_cast<size_t>(model.dimension());
  const size_t batch_size = std::max<size_t>(1, options.batch_size);
  std::vector<const Image*> crops;
  std::vector<float> vectors;
  Workspace workspace;  // One forward pass at a time: its buffers serve every batch.
  std::unique_ptr<Batch> current = start_batch(model, next, batch_size, options.limits);
  while (!current->slots.empty()) {
    current->wait();
    crops.clear();
    for (const Slot& slot : current->slots) {
      if (slot.crop) crops.push_back(&*slot.crop);
    }
    vectors.resize(crops.size() * dim);
    // The forward pass is queued first, then the next batch's decode tasks: one runtime thread
    // starts the pass while the others decode, then join the pass's remaining chunks.
    std::future<void> forward = runtime.submit([&] {
      model.embed_crops(crops, vectors.data(), {.normalize = options.normalize}, &workspace);
    });
    std::unique_ptr<Batch> upcoming = start_batch(model, next, batch_size, options.limits);
    runtime.wait(forward);
    size_t row = 0;
    for (const Slot& slot : current->slots) {
      const float* embedding = slot.crop ? vectors.data() + dim * row++ : nullptr;
      emit(PipelineResult{slot.input, embedding, slot.code, slot.message});
    }
    batch_done();
    current = std::move(upcoming);
  }
}

}  // namespace clipembed::cli
