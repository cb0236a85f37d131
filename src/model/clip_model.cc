// ClipModel: loading, and the image half (the text half is in clip_model_text.cc).
#include <algorithm>
#include <cmath>
#include <optional>

#include "clipembed/error.h"
#include "clipembed/model.h"
#include "clipembed/runtime.h"
#include "model/clip_model_state.h"
#include "model/safetensors.h"

namespace clipembed {
namespace {

// transformers' logit_scale_init_value, for checkpoints without the tensor (a single tower).
constexpr float kInitialLogitScale = 2.6592f;

}  // namespace

void normalize_embedding(std::span<float> v) {
  double sum = 0.0;
  for (float x : v) sum += static_cast<double>(x) * x;
  if (sum <= 0.0) return;
  const float inv = static_cast<float>(1.0 / std::sqrt(sum));
  for (float& x : v) x *= inv;
}

Workspace::Workspace() : buffers_(std::make_unique<Buffers>()) {}
Workspace::~Workspace() = default;
Workspace::Workspace(Workspace&&) noexcept = default;
Workspace& Workspace::operator=(Workspace&&) noexcept = default;

Workspace::Buffers& workspace_buffers(Workspace& workspace) { return *workspace.buffers_; }

Workspace::Buffers& buffers_of(Workspace* workspace, std::optional<Workspace>& own) {
  return workspace_buffers(workspace != nullptr ? *workspace : own.emplace());
}

ClipModel::ClipModel(std::unique_ptr<State> state) : state_(std::move(state)) {}
ClipModel::~ClipModel() = default;

std::shared_ptr<const ClipModel> ClipModel::load(const std::string& directory,
                                                 const LoadOptions& options) {
  return load(ModelConfig::read(directory), options);
}

std::shared_ptr<const ClipModel> ClipModel::load(const ModelConfig& config,
                                                 const LoadOptions& options) {
  auto state = std::make_unique<State>();
  state->config = config;
  state->options = options;
  std::map<std::string, model::TensorAlias> aliases;
  if (config.format == CheckpointFormat::kOpenClip) {
    aliases = model::open_clip_aliases(config.vision ? config.vision->num_hidden_layers : 0,
                                       config.text ? config.text->num_hidden_layers : 0);
  }
  state->weights = std::make_unique<model::WeightFile>(
      std::make_unique<model::SafetensorsFile>(config.directory + "/" + config.weights_file),
      std::move(aliases));
  model::WeightFile& weights = *state->weights;
  Runtime& runtime = shared_runtime();
  if (config.vision && options.vision) {
    state->weights_dtype =
        weights.stored_dtype("vision_model.embeddings.position_embedding.weight");
    state->vision = std::make_unique<model::VisionTransformer>(
        runtime, weights, *state->config.vision, options.precision);
  }
  if (!config.text) {
    state->text_missing = "model '" + config.directory + "' has no text tower";
  } else if (!options.text) {
    state->text_missing = "the text tower of '" + config.directory + "' was not loaded";
    state->text_missing_code = ErrorCode::kInvalidArgument;
  } else if (!config.text_unavailable.empty()) {
    state->text_missing = config.text_unavailable;
    state->text_missing_code = ErrorCode::kModelInvalid;
  } else {
    state->tokenizer = text::Tokenizer::load(config.directory, config.family, config.format);
    if (state->tokenizer->vocabulary_size() > config.text->vocab_size) {
      throw Error(ErrorCode::kModelInvalid,
                  config.directory + ": the tokenizer has " +
                      std::to_string(state->tokenizer->vocabulary_size()) +
                      " tokens but the text tower's vocabulary " +
                      std::to_string(config.text->vocab_size));
    }
    if (state->weights_dtype.empty()) {
      state->weights_dtype = weights.stored_dtype("text_model.embeddings.token_embedding.weight");
    }
    state->text =
        std::make_unique<model::TextTransformer>(runtime, weights, *config.text, options.precision);
  }
  state->logit_scale = std::exp(weights.scalar("logit_scale", kInitialLogitScale));
  state->logit_bias = weights.scalar("logit_bias", 0.0f);
  return std::shared_ptr<const ClipModel>(new ClipModel(std::move(state)));
}

int ClipModel::dimension() const { return state_->config.dimension(); }
bool ClipModel::has_vision() const { return state_->vision != nullptr; }
bool ClipModel::has_text() const { return state_->text != nullptr; }
const ModelConfig& ClipModel::config() const { return state_->config; }
const std::string& ClipModel::directory() const { return state_->config.directory; }
const std::string& ClipModel::weights_dtype() const { return state_->weights_dtype; }
Precision ClipModel::precision() const { return state_->options.precision; }
const InputLimits& ClipModel::input_limits() const { return state_->options.input; }
float ClipModel::logit_scale() const { return state_->logit_scale; }

ModelCapabilities ClipModel::capabilities() const {
  ModelCapabilities c;
  c.dimension = dimension();
  c.images = has_vision();
  c.texts = has_text();
  c.logit_scale = logit_scale();
  c.family = model_family_name(state_->config.family);
  c.format = checkpoint_format_name(state_->config.format);
  if (state_->config.family == ModelFamily::kSiglip) {
    c.logit_bias = state_->logit_bias;
    c.zero_shot = ZeroShotRule::kSigmoid;
  }
  return c;
}

const VisionConfig& ClipModel::vision_config() const {
  if (!has_vision()) {
    throw Error(ErrorCode::kUnsupportedModality,
                "model '" + directory() + "' has no vision tower loaded");
  }
  return *state_->config.vision;
}

const PreprocessConfig& ClipModel::preprocess_config() const {
  vision_config();
  return *state_->config.preprocess;
}

Image ClipModel::preprocess(const Image& image) const {
  return resize_and_crop(image, preprocess_config());
}

void ClipModel::forward(const float* pixel_values, int64_t count, float* out,
                        const EmbedOptions& options, Workspace* workspace) const {
  vision_config();
  Runtime& runtime = shared_runtime();
  std::optional<Workspace> own;
  Workspace::Buffers& buffers = buffers_of(workspace, own);
  auto run = [&] {
    state_->vision->forward(runtime, pixel_values, count, out, buffers.vision);
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

void ClipModel::embed_crops(std::span<const Image* const> crops, float* out,
                            const EmbedOptions& options, Workspace* workspace) const {
  if (crops.empty()) return;
  std::optional<Workspace> own;
  if (workspace == nullptr) workspace = &own.emplace();
  const PreprocessConfig& pre = preprocess_config();
  const auto per_image = int64_t{3} * pre.output_height() * pre.output_width();
  const auto count = static_cast<int64_t>(crops.size());
  float* pixels = model::sized(buffers_of(workspace, own).pixels, per_image * count);
  for (int64_t i = 0; i < count; ++i) {
    to_pixel_values(*crops[static_cast<size_t>(i)], pre, pixels + i * per_image);
  }
  forward(pixels, count, out, options, workspace);
}

std::vector<Embedding> split_rows(const std::vector<float>& rows, size_t count, size_t dim) {
  std::vector<Embedding> result;
  result.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    result.emplace_back(rows.begin() + static_cast<std::ptrdiff_t>(i * dim),
                        rows.begin() + static_cast<std::ptrdiff_t>((i + 1) * dim));
  }
  return result;
}

void ClipModel::embed_images_into(std::span<const ImageInput> inputs, float* out,
                                  const EmbedOptions& options,
                                  std::vector<std::optional<Error>>* errors) const {
  vision_config();
  stream_into(inputs, static_cast<size_t>(dimension()), out, errors, "input",
              [&](const auto& next, const auto& sink) {
                embed_image_stream(next, sink, {.embed = options});
              });
}

std::vector<Embedding> ClipModel::embed_images(std::span<const ImageInput> inputs,
                                               const EmbedOptions& options) const {
  const auto dim = static_cast<size_t>(dimension());
  std::vector<float> out(inputs.size() * dim);
  embed_images_into(inputs, out.data(), options);
  return split_rows(out, inputs.size(), dim);
}

Embedding ClipModel::embed_image(const ImageInput& input, const EmbedOptions& options) const {
  return std::move(embed_images(std::span<const ImageInput>(&input, 1), options).front());
}

}  // namespace clipembed
