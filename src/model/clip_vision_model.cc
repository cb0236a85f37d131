#include <sys/stat.h>

#include <algorithm>
#include <cmath>

#include "clipembed/error.h"
#include "clipembed/model.h"
#include "clipembed/runtime.h"
#include "io/file.h"
#include "model/quantized_encoder.h"
#include "model/vision_transformer.h"
#include "model/vision_weights.h"

namespace clipembed {
namespace {

// Images per forward pass inside embed_batch(): bounds activation memory for long lists while
// keeping the matrix products large.
constexpr size_t kMaxForwardBatch = 16;

void l2_normalize(float* v, int64_t n) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(v[i]) * v[i];
  if (sum <= 0.0) return;
  const float inv = static_cast<float>(1.0 / std::sqrt(sum));
  for (int64_t i = 0; i < n; ++i) v[i] *= inv;
}

std::string read_text(const std::string& path) {
  std::vector<uint8_t> bytes = io::read_file(path);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace

struct ClipVisionModel::State {
  std::string directory;
  LoadOptions options;
  VisionConfig config;
  PreprocessConfig preprocess;
  std::unique_ptr<model::VisionWeights> weights;
  std::unique_ptr<model::QuantizedEncoder> quantized;  // Under Precision::kInt8 only.
  std::unique_ptr<model::VisionTransformer> network;
};

ClipVisionModel::ClipVisionModel(std::unique_ptr<State> state) : state_(std::move(state)) {}
ClipVisionModel::~ClipVisionModel() = default;

std::shared_ptr<const ClipVisionModel> ClipVisionModel::load(const std::string& directory,
                                                             const LoadOptions& options) {
  struct stat st {};
  if (::stat(directory.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw Error(ErrorCode::kModelInvalid,
                "model directory '" + directory +
                    "' does not exist (expected config.json, preprocessor_config.json and "
                    "model.safetensors, e.g. a download of openai/clip-vit-base-patch32)");
  }
  auto require = [&](const std::string& name) {
    std::string path = directory + "/" + name;
    struct stat fst {};
    if (::stat(path.c_str(), &fst) != 0) {
      throw Error(ErrorCode::kModelInvalid, "model directory '" + directory + "' has no " + name);
    }
    return path;
  };
  auto state = std::make_unique<State>();
  state->directory = directory;
  state->options = options;
  const std::string config_path = require("config.json");
  state->config = VisionConfig::parse(read_text(config_path), config_path);
  const std::string pre_path = require("preprocessor_config.json");
  state->preprocess = PreprocessConfig::parse(read_text(pre_path), pre_path);
  const PreprocessConfig& pre = state->preprocess;
  if (pre.output_height() != state->config.image_size ||
      pre.output_width() != state->config.image_size) {
    throw Error(ErrorCode::kModelInvalid,
                pre_path + ": images are cropped to " + std::to_string(pre.output_width()) + "x" +
                    std::to_string(pre.output_height()) + " but the model expects " +
                    std::to_string(state->config.image_size) + "x" +
                    std::to_string(state->config.image_size));
  }
  auto file = std::make_unique<model::SafetensorsFile>(require("model.safetensors"));
  state->weights = std::make_unique<model::VisionWeights>(std::move(file), state->config);
  if (options.precision == Precision::kInt8) {
    state->quantized =
        std::make_unique<model::QuantizedEncoder>(shared_runtime(), state->config, *state->weights);
  }
  state->network = std::make_unique<model::VisionTransformer>(state->config, *state->weights,
                                                              state->quantized.get());
  return std::shared_ptr<const ClipVisionModel>(new ClipVisionModel(std::move(state)));
}

int ClipVisionModel::dimension() const { return state_->network->output_dimension(); }
const VisionConfig& ClipVisionModel::vision_config() const { return state_->config; }
const PreprocessConfig& ClipVisionModel::preprocess_config() const { return state_->preprocess; }
const std::string& ClipVisionModel::directory() const { return state_->directory; }
const std::string& ClipVisionModel::weights_dtype() const {
  return state_->weights->stored_dtype();
}
Precision ClipVisionModel::precision() const { return state_->options.precision; }

Image ClipVisionModel::preprocess(const Image& image) const {
  return resize_and_crop(image, state_->preprocess);
}

void ClipVisionModel::forward(const float* pixel_values, int64_t count, float* out,
                              const EmbedOptions& options) const {
  Runtime& runtime = shared_runtime();
  auto run = [&] {
    state_->network->forward(runtime, pixel_values, count, out, options.batch_invariant);
    if (options.normalize) {
      for (int64_t i = 0; i < count; ++i) l2_normalize(out + i * dimension(), dimension());
    }
  };
  // One task for the whole pass: its inner parallel_for calls then split work without a
  // round-trip from outside the runtime per operation.
  if (runtime.in_runtime_thread()) {
    run();
  } else {
    runtime.submit(run).get();
  }
}

std::vector<std::vector<float>> ClipVisionModel::embed_batch(std::span<const Image> images,
                                                             const EmbedOptions& options) const {
  const int64_t side = state_->config.image_size;
  const size_t per_image = static_cast<size_t>(3 * side * side);
  std::vector<std::vector<float>> result;
  result.reserve(images.size());
  for (size_t start = 0; start < images.size(); start += kMaxForwardBatch) {
    const size_t count = std::min(kMaxForwardBatch, images.size() - start);
    std::vector<float> pixels(count * per_image);
    shared_runtime().parallel_for(0, static_cast<int64_t>(count), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        Image crop = preprocess(images[start + i]);
        to_pixel_values(crop, state_->preprocess, pixels.data() + i * per_image);
      }
    });
    std::vector<float> out(count * dimension());
    forward(pixels.data(), static_cast<int64_t>(count), out.data(), options);
    for (size_t i = 0; i < count; ++i) {
      result.emplace_back(out.begin() + i * dimension(), out.begin() + (i + 1) * dimension());
    }
  }
  return result;
}

std::vector<float> ClipVisionModel::embed(const Image& image, const EmbedOptions& options) const {
  return std::move(embed_batch(std::span<const Image>(&image, 1), options).front());
}

std::vector<float> ClipVisionModel::embed_encoded(std::span<const uint8_t> bytes,
                                                  const EmbedOptions& options) const {
  return embed(decode_image(bytes, state_->options.decode), options);
}

std::vector<float> ClipVisionModel::embed_file(const std::string& path,
                                               const EmbedOptions& options) const {
  return embed(read_image_file(path, state_->options.decode), options);
}

}  // namespace clipembed
