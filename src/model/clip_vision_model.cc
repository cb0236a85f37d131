#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>

#include "clipembed/error.h"
#include "clipembed/model.h"
#include "clipembed/runtime.h"
#include "image/image_loader.h"
#include "io/file.h"
#include "model/activations.h"
#include "model/safetensors.h"
#include "model/vision_transformer.h"
#include "model/weight_file.h"

namespace clipembed {
namespace {

// Images per forward pass inside embed_images(): bounds activation memory for long lists while
// keeping the matrix products large.
constexpr size_t kMaxForwardBatch = 16;

std::string read_text(const std::string& path) {
  std::vector<uint8_t> bytes = io::read_file(path);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace

void normalize_embedding(std::span<float> v) {
  double sum = 0.0;
  for (float x : v) sum += static_cast<double>(x) * x;
  if (sum <= 0.0) return;
  const float inv = static_cast<float>(1.0 / std::sqrt(sum));
  for (float& x : v) x *= inv;
}

ModelConfig ModelConfig::read(const std::string& directory) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(directory, ec)) {
    throw Error(ErrorCode::kModelInvalid,
                "model directory '" + directory +
                    "' does not exist (expected config.json, preprocessor_config.json and "
                    "model.safetensors, e.g. a download of openai/clip-vit-base-patch32)");
  }
  auto require = [&](const std::string& name) {
    std::string path = directory + "/" + name;
    if (!fs::exists(path, ec)) {
      throw Error(ErrorCode::kModelInvalid, "model directory '" + directory + "' has no " + name);
    }
    return path;
  };
  ModelConfig config;
  config.directory = directory;
  const std::string config_path = require("config.json");
  config.vision = VisionConfig::parse(read_text(config_path), config_path);
  const std::string pre_path = require("preprocessor_config.json");
  config.preprocess = PreprocessConfig::parse(read_text(pre_path), pre_path);
  const PreprocessConfig& pre = config.preprocess;
  if (pre.output_height() != config.vision.image_size ||
      pre.output_width() != config.vision.image_size) {
    throw Error(ErrorCode::kModelInvalid,
                pre_path + ": images are cropped to " + std::to_string(pre.output_width()) + "x" +
                    std::to_string(pre.output_height()) + " but the model expects " +
                    std::to_string(config.vision.image_size) + "x" +
                    std::to_string(config.vision.image_size));
  }
  const std::string weights = require("model.safetensors");
  if (config.vision.vision_only &&
      model::SafetensorsFile(weights).find("visual_projection.weight") == nullptr) {
    config.vision.projection_dim = 0;  // A CLIPVisionModel: its pooled output is the embedding.
  }
  return config;
}

struct Workspace::Buffers {
  model::VisionActivations vision;
};

Workspace::Workspace() : buffers_(std::make_unique<Buffers>()) {}
Workspace::~Workspace() = default;
Workspace::Workspace(Workspace&&) noexcept = default;
Workspace& Workspace::operator=(Workspace&&) noexcept = default;

struct ClipVisionModel::State {
  ModelConfig config;
  LoadOptions options;
  std::string weights_dtype;
  std::unique_ptr<model::WeightFile> weights;
  std::unique_ptr<model::VisionTransformer> network;
};

ClipVisionModel::ClipVisionModel(std::unique_ptr<State> state) : state_(std::move(state)) {}
ClipVisionModel::~ClipVisionModel() = default;

std::shared_ptr<const ClipVisionModel> ClipVisionModel::load(const std::string& directory,
                                                             const LoadOptions& options) {
  return load(ModelConfig::read(directory), options);
}

std::shared_ptr<const ClipVisionModel> ClipVisionModel::load(const ModelConfig& config,
                                                             const LoadOptions& options) {
  auto state = std::make_unique<State>();
  state->config = config;
  state->options = options;
  state->weights = std::make_unique<model::WeightFile>(
      std::make_unique<model::SafetensorsFile>(config.directory + "/model.safetensors"));
  state->weights_dtype = state->weights->stored_dtype("vision_model.embeddings.class_embedding");
  state->network = std::make_unique<model::VisionTransformer>(
      shared_runtime(), *state->weights, state->config.vision, options.precision);
  return std::shared_ptr<const ClipVisionModel>(new ClipVisionModel(std::move(state)));
}

int ClipVisionModel::dimension() const { return state_->network->output_dimension(); }
const ModelConfig& ClipVisionModel::config() const { return state_->config; }
const VisionConfig& ClipVisionModel::vision_config() const { return state_->config.vision; }
const PreprocessConfig& ClipVisionModel::preprocess_config() const {
  return state_->config.preprocess;
}
const std::string& ClipVisionModel::directory() const { return state_->config.directory; }
const std::string& ClipVisionModel::weights_dtype() const { return state_->weights_dtype; }
Precision ClipVisionModel::precision() const { return state_->options.precision; }
const InputLimits& ClipVisionModel::input_limits() const { return state_->options.input; }

Image ClipVisionModel::preprocess(const Image& image) const {
  return resize_and_crop(image, state_->config.preprocess);
}

void ClipVisionModel::forward(const float* pixel_values, int64_t count, float* out,
                              const EmbedOptions& options, Workspace* workspace) const {
  Runtime& runtime = shared_runtime();
  std::optional<Workspace> own;
  Workspace& buffers = workspace != nullptr ? *workspace : own.emplace();
  auto run = [&] {
    state_->network->forward(runtime, pixel_values, count, out, options.batch_invariant,
                             buffers.buffers_->vision);
    if (options.normalize) {
      const auto dim = static_cast<size_t>(dimension());
      for (int64_t i = 0; i < count; ++i) normalize_embedding({out + i * dim, dim});
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

void ClipVisionModel::embed_crops(std::span<const Image* const> crops, float* out,
                                  const EmbedOptions& options, Workspace* workspace) const {
  if (crops.empty()) return;
  std::optional<Workspace> own;
  Workspace& buffers = workspace != nullptr ? *workspace : own.emplace();
  const PreprocessConfig& pre = state_->config.preprocess;
  const auto per_image = int64_t{3} * pre.output_height() * pre.output_width();
  const auto count = static_cast<int64_t>(crops.size());
  float* pixels = model::sized(buffers.buffers_->vision.pixels, per_image * count);
  for (int64_t i = 0; i < count; ++i) {
    to_pixel_values(*crops[static_cast<size_t>(i)], pre, pixels + i * per_image);
  }
  forward(pixels, count, out, options, &buffers);
}

std::vector<Embedding> ClipVisionModel::embed_images(std::span<const ImageInput> inputs,
                                                     const EmbedOptions& options) const {
  const auto dim = static_cast<size_t>(dimension());
  std::vector<Embedding> result;
  result.reserve(inputs.size());
  Workspace workspace;
  for (size_t start = 0; start < inputs.size(); start += kMaxForwardBatch) {
    const size_t count = std::min(kMaxForwardBatch, inputs.size() - start);
    std::vector<Image> crops(count);
    shared_runtime().parallel_for(0, static_cast<int64_t>(count), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const ImageInput& input = inputs[start + static_cast<size_t>(i)];
        try {
          crops[static_cast<size_t>(i)] =
              preprocess(image::load_image(input, state_->options.input));
        } catch (const Error& err) {
          if (inputs.size() == 1) throw;
          throw Error(err.code(), "input " + std::to_string(start + static_cast<size_t>(i)) + ": " +
                                      err.what());
        }
      }
    });
    std::vector<const Image*> batch(count);
    for (size_t i = 0; i < count; ++i) batch[i] = &crops[i];
    std::vector<float> out(count * dim);
    embed_crops(batch, out.data(), options, &workspace);
    for (size_t i = 0; i < count; ++i) {
      result.emplace_back(out.begin() + static_cast<std::ptrdiff_t>(i * dim),
                          out.begin() + static_cast<std::ptrdiff_t>((i + 1) * dim));
    }
  }
  return result;
}

Embedding ClipVisionModel::embed_image(const ImageInput& input, const EmbedOptions& options) const {
  return std::move(embed_images(std::span<const ImageInput>(&input, 1), options).front());
}

}  // namespace clipembed
