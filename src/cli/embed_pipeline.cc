#include "cli/embed_pipeline.h"

#include <future>
#include <memory>
#include <vector>

#include "cli/input_list.h"
#include "clipembed/runtime.h"
#include "io/url_fetcher.h"

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

void decode_into(const ClipVisionModel& model, Slot* slot) {
  try {
    slot->crop = model.preprocess(load_input(slot->input));
  } catch (const Error& e) {
    slot->code = e.code();
    slot->message = e.what();
  } catch (const std::exception& e) {
    slot->message = e.what();
  }
}

std::unique_ptr<Batch> start_batch(const ClipVisionModel& model,
                                   const std::function<std::optional<std::string>()>& next,
                                   size_t size) {
  auto batch = std::make_unique<Batch>();
  batch->slots.reserve(size);
  while (batch->slots.size() < size) {
    std::optional<std::string> input = next();
    if (!input) break;
    batch->slots.emplace_back().input = std::move(*input);
  }
  for (Slot& slot : batch->slots) {
    batch->decoding.push_back(
        shared_runtime().submit([&model, &slot] { decode_into(model, &slot); }));
  }
  return batch;
}

}  // namespace

Image load_input(const std::string& input) {
  if (!is_url(input)) return read_image_file(input);
  auto promise = std::make_shared<std::promise<std::vector<uint8_t>>>();
  auto future = promise->get_future();
  io::UrlFetcher::instance().fetch(input, io::UrlOptions{},
                                   [promise](std::vector<uint8_t>* body, const Error* error) {
                                     if (error != nullptr) {
                                       promise->set_exception(std::make_exception_ptr(*error));
                                     } else {
                                       promise->set_value(std::move(*body));
                                     }
                                   });
  const std::vector<uint8_t> bytes = shared_runtime().wait(future);
  try {
    return decode_image(bytes);
  } catch (const Error& e) {
    throw Error(e.code(), input + ": " + e.what());
  }
}

void run_pipeline(const ClipVisionModel& model,
                  const std::function<std::optional<std::string>()>& next,
                  const PipelineOptions& options,
                  const std::function<void(const PipelineResult&)>& emit,
                  const std::function<void()>& batch_done) {
  Runtime& runtime = shared_runtime();
  const PreprocessConfig& pre = model.preprocess_config();
  const size_t per_image = size_t{3} * pre.output_height() * pre.output_width();
  const size_t dim = static_cast<size_t>(model.dimension());
  const size_t batch_size = std::max<size_t>(1, options.batch_size);
  std::vector<float> pixels, vectors;
  std::unique_ptr<Batch> current = start_batch(model, next, batch_size);
  while (!current->slots.empty()) {
    current->wait();
    pixels.clear();
    for (const Slot& slot : current->slots) {
      if (!slot.crop) continue;
      pixels.resize(pixels.size() + per_image);
      to_pixel_values(*slot.crop, pre, pixels.data() + pixels.size() - per_image);
    }
    const auto good = static_cast<int64_t>(pixels.size() / per_image);
    vectors.resize(static_cast<size_t>(good) * dim);
    // The forward pass is queued first, then the next batch's decode tasks: one runtime thread
    // starts the pass while the others decode, then join the pass's remaining chunks.
    std::future<void> forward = runtime.submit([&] {
      if (good > 0) {
        model.forward(pixels.data(), good, vectors.data(),
                      {.normalize = options.normalize, .batch_invariant = true});
      }
    });
    std::unique_ptr<Batch> upcoming = start_batch(model, next, batch_size);
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
