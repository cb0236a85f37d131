// clipembed/model.h: a CLIP model (either or both towers) loaded from a Hugging Face directory.
//
//   auto model = clipembed::ClipModel::load("clip-vit-base-patch32");  // throws Error
//   clipembed::Embedding v = model->embed_image("cat.jpg", {.normalize = true});
//   clipembed::Embedding t = model->embed_text("a photo of a cat", {.normalize = true});
//   auto vs = model->embed_images(std::vector<clipembed::ImageInput>{"a.jpg", "b.png"});
//   model->dimension();  // 512 for ViT-B/32
//
// The directory is described in config.h. Image outputs equal transformers' `image_embeds` (or
// the pooled output of a CLIPVisionModel, which has no projection), text outputs its
// `get_text_features`; both live in one space, so cosine similarity compares them.
//
// Threading rule: a loaded model is immutable and may be used from any number of threads at
// once; weights are memory-mapped and shared, activations belong to each call. Each call computes
// on shared_runtime() and blocks until done; calling from a runtime thread is safe (runtime.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "clipembed/config.h"
#include "clipembed/error.h"
#include "clipembed/image.h"
#include "clipembed/input.h"
#include "clipembed/preprocess.h"

namespace clipembed {

using Embedding = std::vector<float>;

// Every vector is batch-invariant: an image or a text gets the same vector bit for bit alone or
// in any batch, on any CPU (the kernels fix the order of every sum).
struct EmbedOptions {
  bool normalize = false;  // L2-normalise each embedding.
};

// Scales `embedding` to unit L2 length in place (a zero vector stays zero).
void normalize_embedding(std::span<float> embedding);

// How the encoder's matrix products are computed; chosen at load.
enum class Precision {
  kF32,   // float32 throughout: equals transformers to about 1e-6 (the default).
  kInt8,  // Weights quantized at load to 8-bit codes per output channel, activations per token
          // before each product, exact integer products (docs/perf.md has the measured speed and
          // accuracy per model).
  kBf16,  // Weights rounded to bfloat16 at load (half the memory), activations before each
          // product; products of bf16 pairs summed in float32, everything else float32. Fast on
          // CPUs with AVX512_BF16; elsewhere the same bits from a scalar path, many times slower
          // (bf16_kernel() in version.h says which).
};

// "fp32" (also "f32", "float32"), "int8" or "bf16" (also "bfloat16"). "f16"/"fp16" is refused
// with kUnsupported: without AVX512-FP16 a CPU computes it no faster than float32. Other names:
// kInvalidArgument.
Precision parse_precision(const std::string& name);
const char* precision_name(Precision precision);  // "fp32", "int8" or "bf16".

// The buffers of a forward pass (pixel values and activations), kept between calls so that
// repeated batches neither allocate them nor fault their pages in again. Give one to
// embed_crops()/forward() to reuse it; it grows to the largest batch it has run and keeps that
// memory until destroyed. Threading rule: one call at a time per workspace (a pool worker, a
// pipeline stage); a call without one uses a workspace of its own.
class Workspace {
 public:
  Workspace();
  ~Workspace();
  Workspace(Workspace&&) noexcept;
  Workspace& operator=(Workspace&&) noexcept;

  struct Buffers;  // Defined inside the library.

 private:
  friend Buffers& workspace_buffers(Workspace& workspace);
  std::unique_ptr<Buffers> buffers_;
};

// How a model turns image-label logits into zero-shot scores.
enum class ZeroShotRule {
  kSoftmax,  // CLIP: a softmax over the labels of exp(logit_scale) * cosine (they sum to 1).
  kSigmoid,  // SigLIP: sigmoid(exp(logit_scale) * cosine + logit_bias) per label, independent.
};
const char* zero_shot_rule_name(ZeroShotRule rule);  // "softmax" or "sigmoid".

// What a model can do, in the one vocabulary of the C++ API, Python and the HTTP API (/info,
// /v1/models): read from its config and weights, without touching the network.
struct ModelCapabilities {
  std::string family = "clip";  // The checkpoint's architecture, e.g. "clip".
  // Whose code wrote the checkpoint, "transformers" or "open_clip" (checkpoint_format_name()):
  // it decides the reference its vectors equal.
  std::string format = "transformers";
  int dimension = 0;
  bool images = false;    // Has a vision tower.
  bool texts = false;     // Has a text tower and its tokenizer.
  float logit_scale = 0;  // exp(logit_scale): the temperature of the image-text logits.
  float logit_bias = 0;   // Added to the logits (SigLIP); 0 for CLIP.
  ZeroShotRule zero_shot = ZeroShotRule::kSoftmax;
};

// Zero-shot scores of one image against labels under a model's rule (unnormalised inputs are
// fine: cosines are used). Throws kInvalidArgument when the dimensions differ.
std::vector<float> zero_shot_scores(const ModelCapabilities& model,
                                    std::span<const float> image_embedding,
                                    std::span<const Embedding> label_embeddings);

struct LoadOptions {
  InputLimits input;  // Limits applied when the model reads inputs (files, URLs, base64).
  Precision precision = Precision::kF32;
  // Which towers to load when the checkpoint has them: a program that embeds only images (or
  // only texts) need not hold the other tower's weights.
  bool vision = true;
  bool text = true;
};

// The one batch path for many inputs (ClipModel::embed_image_stream / embed_text_stream).
struct StreamOptions {
  // Inputs per forward pass; 0 is the model's own choice (16 images, 64 texts: larger batches
  // gain nothing on a CPU and hold more memory).
  size_t batch_size = 0;
  EmbedOptions embed;
};
// What became of input `index` (0, 1, ... in the order the source gave them): its vector
// (dimension() floats, valid during the call) or its error (one of the two is null).
using StreamSink = std::function<void(size_t index, const float* embedding, const Error* error)>;

class ClipModel {
 public:
  // Loads a model directory. Throws Error: kIo for unreadable files, kModelInvalid for
  // malformed or mismatched configs and weights, kUnsupported for unsupported settings.
  static std::shared_ptr<const ClipModel> load(const std::string& directory,
                                               const LoadOptions& options = {});
  // Loads from configs already read (ModelConfig::read), without reading them again.
  static std::shared_ptr<const ClipModel> load(const ModelConfig& config,
                                               const LoadOptions& options = {});
  ~ClipModel();
  ClipModel(const ClipModel&) = delete;
  ClipModel& operator=(const ClipModel&) = delete;

  int dimension() const;
  bool has_vision() const;  // Image methods throw kUnsupportedModality without it.
  bool has_text() const;    // Text methods throw kUnsupportedModality without it (or
                            // kModelInvalid naming the missing tokenizer files).
  const ModelConfig& config() const;
  const VisionConfig& vision_config() const;          // Throws without a vision tower.
  const PreprocessConfig& preprocess_config() const;  // Throws without a vision tower.
  const std::string& directory() const;
  // How the checkpoint stores the weights ("F32", "F16", "BF16"); they are used as float32, or
  // quantized to int8 at load under Precision::kInt8.
  const std::string& weights_dtype() const;
  Precision precision() const;
  const InputLimits& input_limits() const;
  // exp(logit_scale): the temperature of CLIP's image-text logits (100 for the OpenAI models).
  float logit_scale() const;
  ModelCapabilities capabilities() const;

  // The crop the network sees for a decoded image.
  Image preprocess(const Image& image) const;

  // Reads (under input_limits()), preprocesses and embeds one input. Throws Error.
  Embedding embed_image(const ImageInput& input, const EmbedOptions& options = {}) const;
  // One vector per input, in order; inputs are read and preprocessed in parallel and run through
  // the network in batches. Throws the first input's error (naming its index).
  std::vector<Embedding> embed_images(std::span<const ImageInput> inputs,
                                      const EmbedOptions& options = {}) const;

  // The bulk form the others end in: writes row i of `out` (inputs.size() x dimension() floats)
  // for input i, reading and preprocessing a batch of inputs in parallel while nothing else runs
  // through the network, then running it as one batch. With `errors` (resized to inputs.size()),
  // a failing input leaves its row untouched and its own error lands in (*errors)[i] while the
  // others go on; without, the failure of the lowest index is thrown, its message naming it.
  void embed_images_into(std::span<const ImageInput> inputs, float* out,
                         const EmbedOptions& options = {},
                         std::vector<std::optional<Error>>* errors = nullptr) const;
  // The same for texts: a text that is not valid UTF-8 fails alone (kInvalidText).
  void embed_texts_into(std::span<const std::string> texts, float* out,
                        const EmbedOptions& options = {},
                        std::vector<std::optional<Error>>* errors = nullptr) const;

  // The library's one batcher for many inputs: embeds every input `next` yields (nullopt ends
  // the stream), calling `sink` once per input in the order they came, and `batch_done` (if
  // set) after each batch's results. While batch k runs through the network, batch k+1 is read,
  // decoded and cropped (or tokenized) on the runtime's other threads, so reading fills the
  // forward pass's idle moments; at most two batches are in flight, so memory does not depend on
  // the number of inputs. A bad input fails alone (its error goes to the sink); an error of the
  // network itself is thrown. embed_images(), embed_texts(), their _into forms, the CLI and
  // Python all go through these. Vectors are batch-invariant, as everywhere.
  void embed_image_stream(const std::function<std::optional<ImageInput>()>& next,
                          const StreamSink& sink, const StreamOptions& options = {},
                          const std::function<void()>& batch_done = {}) const;
  void embed_text_stream(const std::function<std::optional<std::string>()>& next,
                         const StreamSink& sink, const StreamOptions& options = {},
                         const std::function<void()>& batch_done = {}) const;

  // The one image batch path: runs preprocessed crops (preprocess()) through the network as one
  // batch and writes crops.size() x dimension() floats to `out`. Every image embedding ends here.
  void embed_crops(std::span<const Image* const> crops, float* out,
                   const EmbedOptions& options = {}, Workspace* workspace = nullptr) const;

  // Runs the network on pixel values already normalised: `count` x 3 x H x W floats, channels
  // first. Writes count x dimension() floats to `out`.
  void forward(const float* pixel_values, int64_t count, float* out,
               const EmbedOptions& options = {}, Workspace* workspace = nullptr) const;

  // The token ids of a text as the Hugging Face fast tokenizer gives them (start and end tokens
  // included, truncated to the context). Throws kInvalidText for invalid UTF-8.
  std::vector<int32_t> tokenize(std::string_view text) const;
  // The vocabulary's entry for a token id as the tokenizer file spells it ("" for an unknown id).
  std::string token_text(int32_t id) const;

  Embedding embed_text(std::string_view text, const EmbedOptions& options = {}) const;
  std::vector<Embedding> embed_texts(std::span<const std::string> texts,
                                     const EmbedOptions& options = {}) const;

  // The one text batch path: runs tokenized texts (tokenize()) through the text tower as one
  // batch and writes ids.size() x dimension() floats to `out`. A batch computes only what each
  // text needs (up to its end token), so a text's vector never depends on its batch.
  void embed_token_ids(std::span<const std::vector<int32_t>> ids, float* out,
                       const EmbedOptions& options = {}, Workspace* workspace = nullptr) const;

  // Zero-shot classification scores under the model's rule (zero_shot_scores()): for CLIP the
  // softmax over labels of logit_scale() * cosine(image, label), as transformers'
  // logits_per_image.softmax(-1). Inputs need not be normalized.
  std::vector<float> label_probabilities(std::span<const float> image_embedding,
                                         std::span<const Embedding> label_embeddings) const;

 private:
  struct State;
  explicit ClipModel(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// One label's zero-shot score.
struct LabelScore {
  std::string label;
  float score = 0;
};

// The text a label is embedded as: `label_template` with its "{}" replaced by the label
// ("a photo of a {}." and "cat" give "a photo of a cat."). A template without "{}" is kept whole.
std::string label_prompt(std::string_view label_template, std::string_view label);

// Labels with their scores (label_probabilities()), best first, equal scores in label order; at
// most `top_k` of them (0: all).
std::vector<LabelScore> rank_labels(std::span<const std::string> labels,
                                    std::span<const float> scores, size_t top_k = 0);

}  // namespace clipembed
