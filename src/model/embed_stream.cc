// ClipModel's one batch path for many inputs (embed_image_stream, embed_text_stream), and the
// input -> crop path it shares with the pool (input_crop.h).
#include <future>
#include <memory>
#include <new>
#include <optional>
#include <vector>

#include "clipembed/error.h"
#include "clipembed/model.h"
#include "clipembed/runtime.h"
#include "image/image_loader.h"
#include "image/open_clip_preprocess.h"
#include "model/input_crop.h"

namespace clipembed {
namespace model {

// open_clip's checkpoints resize the image as Pillow opened it (open_clip_preprocess.h), so their
// decode keeps what the RGB canvas loses; the others preprocess the RGB canvas.
Image crop_of(const ClipModel& model, const ImageInput& input, image::DecodeMemory* memory) {
  const PreprocessConfig& config = model.preprocess_config();
  if (config.style != PreprocessStyle::kOpenClip) {
    return model.preprocess(image::load_image(input, model.input_limits(), memory));
  }
  image::SourcePixels source;
  const Image rgb = image::load_image(input, model.input_limits(), memory, &source);
  return image::resize_and_crop_as_opened(rgb, source, config);
}

Image crop_of_download(const ClipModel& model, const std::string& url,
                       std::span<const uint8_t> bytes, image::DecodeMemory* memory) {
  const PreprocessConfig& config = model.preprocess_config();
  if (config.style != PreprocessStyle::kOpenClip) {
    return model.preprocess(image::decode_downloaded(url, bytes, model.input_limits(), memory));
  }
  image::SourcePixels source;
  const Image rgb = image::decode_downloaded(url, bytes, model.input_limits(), memory, &source);
  return image::resize_and_crop_as_opened(rgb, source, config);
}

}  // namespace model

namespace {

// Images per forward pass when the caller leaves it to the model: bounds activation memory for
// long lists while keeping the matrix products large.
constexpr size_t kImageBatch = 16;
// Texts per forward pass likewise: a text is at most 77 rows, so this keeps the products large
// and the activations small.
constexpr size_t kTextBatch = 64;

size_t batch_size_or(size_t requested, size_t model_choice) {
  return requested == 0 ? model_choice : requested;
}

// One input of a batch: what it is, and once its task has run, what it became.
template <typename Input, typename Prepared>
struct Slot {
  explicit Slot(Input in) : input(std::move(in)) {}
  Input input;
  std::optional<Prepared> ready;
  std::optional<Error> error;
};

// One batch: its slots and the tasks preparing them. Held by pointer so the tasks' references to
// the slots stay valid, and never destroyed before its tasks have finished (an exception may
// unwind past a batch still preparing).
template <typename Input, typename Prepared>
struct Batch {
  std::vector<Slot<Input, Prepared>> slots;
  std::vector<std::future<void>> tasks;

  Batch() = default;
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;
  ~Batch() { wait(); }
  void wait() {
    for (std::future<void>& f : tasks) {
      if (f.valid()) shared_runtime().wait(f);  // Tasks store their errors in the slot.
    }
  }
};

// The pipeline shared by both modalities: `prepare` turns an input into what the network takes
// (a crop, token ids) on a runtime task, `forward` runs a batch of them into rows of `out`.
template <typename Input, typename Prepared, typename Prepare, typename Forward>
void run_stream(const std::function<std::optional<Input>()>& next, const StreamSink& sink,
                size_t batch_size, size_t dim, const std::function<void()>& batch_done,
                Prepare prepare, Forward forward) {
  using BatchT = Batch<Input, Prepared>;
  auto start_batch = [&] {
    auto batch = std::make_unique<BatchT>();
    batch->slots.reserve(batch_size);
    while (batch->slots.size() < batch_size) {
      std::optional<Input> input = next();
      if (!input) break;
      batch->slots.emplace_back(std::move(*input));
    }
    for (auto& slot : batch->slots) {
      batch->tasks.push_back(shared_runtime().submit([&prepare, &slot] {
        try {
          slot.ready.emplace(prepare(slot.input));
        } catch (const Error& e) {
          slot.error = e;
        } catch (const std::bad_alloc&) {
          slot.error = Error(ErrorCode::kMemoryExhausted, "not enough memory for this input now");
        } catch (const std::exception& e) {
          slot.error = Error(ErrorCode::kInternal, e.what());
        }
      }));
    }
    return batch;
  };
  Runtime& runtime = shared_runtime();
  Workspace workspace;  // One forward pass at a time: its buffers serve every batch.
  std::vector<Prepared*> prepared;
  std::vector<float> vectors;
  size_t index = 0;
  std::unique_ptr<BatchT> current = start_batch();
  while (!current->slots.empty()) {
    current->wait();
    prepared.clear();
    for (auto& slot : current->slots) {
      if (slot.ready) prepared.push_back(&*slot.ready);
    }
    vectors.resize(prepared.size() * dim);
    // The forward pass is queued first, then the next batch's tasks: one runtime thread starts
    // the pass while the others prepare, then join the pass's remaining chunks.
    std::future<void> pass = runtime.submit([&] { forward(prepared, vectors.data(), workspace); });
    std::unique_ptr<BatchT> upcoming = start_batch();
    runtime.wait(pass);
    size_t row = 0;
    for (auto& slot : current->slots) {
      if (slot.ready) {
        sink(index++, vectors.data() + dim * row++, nullptr);
      } else {
        sink(index++, nullptr, &*slot.error);
      }
    }
    if (batch_done) batch_done();
    current = std::move(upcoming);
  }
}

}  // namespace

void ClipModel::embed_image_stream(const std::function<std::optional<ImageInput>()>& next,
                                   const StreamSink& sink, const StreamOptions& options,
                                   const std::function<void()>& batch_done) const {
  vision_config();
  run_stream<ImageInput, Image>(
      next, sink, batch_size_or(options.batch_size, kImageBatch), static_cast<size_t>(dimension()),
      batch_done, [this](const ImageInput& input) { return model::crop_of(*this, input); },
      [this, &options](std::vector<Image*>& crops, float* out, Workspace& workspace) {
        const std::vector<const Image*> batch(crops.begin(), crops.end());
        embed_crops(batch, out, options.embed, &workspace);
      });
}

void ClipModel::embed_text_stream(const std::function<std::optional<std::string>()>& next,
                                  const StreamSink& sink, const StreamOptions& options,
                                  const std::function<void()>& batch_done) const {
  tokenize("");  // Says at once why a model cannot take texts.
  run_stream<std::string, std::vector<int32_t>>(
      next, sink, batch_size_or(options.batch_size, kTextBatch), static_cast<size_t>(dimension()),
      batch_done, [this](const std::string& text) { return tokenize(text); },
      [this, &options](std::vector<std::vector<int32_t>*>& ids, float* out, Workspace& workspace) {
        std::vector<std::vector<int32_t>> batch;
        batch.reserve(ids.size());
        for (std::vector<int32_t>* t : ids) batch.push_back(std::move(*t));
        embed_token_ids(batch, out, options.embed, &workspace);
      });
}

}  // namespace clipembed
