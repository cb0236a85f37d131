// Internal: what a loaded ClipModel holds and what a Workspace keeps, shared by the model's image
// half (clip_model.cc) and text half (clip_model_text.cc).
#pragma once

#include <algorithm>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "clipembed/error.h"
#include "clipembed/model.h"
#include "model/activations.h"
#include "model/text_transformer.h"
#include "model/vision_transformer.h"
#include "model/weight_file.h"
#include "text/tokenizer.h"

namespace clipembed {

struct Workspace::Buffers {
  std::vector<float> pixels;
  model::VisionActivations vision;
  model::TextActivations text;
};

struct ClipModel::State {
  ModelConfig config;
  LoadOptions options;
  std::string weights_dtype;
  float logit_scale = 0;  // exp() of the checkpoint's logit_scale.
  float logit_bias = 0;   // SigLIP's logit_bias (0 for CLIP).
  std::unique_ptr<model::WeightFile> weights;
  std::unique_ptr<model::VisionTransformer> vision;  // Null without a vision tower.
  std::unique_ptr<model::TextTransformer> text;      // Null without a usable text tower.
  std::unique_ptr<text::Tokenizer> tokenizer;
  // Why there is no text tower, as the error text methods throw (and its code).
  ErrorCode text_missing_code = ErrorCode::kUnsupportedModality;
  std::string text_missing;
};

Workspace::Buffers& workspace_buffers(Workspace& workspace);
// Buffers of `workspace`, or of `own` (made here) when it is null.
Workspace::Buffers& buffers_of(Workspace* workspace, std::optional<Workspace>& own);

// The _into forms over the model's stream (`stream(next, sink)`): rows of `dim` floats into `out`
// in input order. With `errors`, each failure is recorded there; without, the first one ends the
// reading and is thrown, naming the input as "<noun> i" when there are several.
template <typename Input, typename Stream>
void stream_into(std::span<const Input> inputs, size_t dim, float* out,
                 std::vector<std::optional<Error>>* errors, const char* noun, Stream stream) {
  if (errors != nullptr) errors->assign(inputs.size(), std::nullopt);
  size_t taken = 0;
  std::optional<std::pair<size_t, Error>> first_failure;
  stream(
      [&]() -> std::optional<Input> {
        if (taken == inputs.size() || first_failure) return std::nullopt;
        return inputs[taken++];
      },
      [&](size_t i, const float* embedding, const Error* error) {
        if (embedding != nullptr) {
          std::copy_n(embedding, dim, out + i * dim);
        } else if (errors != nullptr) {
          (*errors)[i] = *error;
        } else if (!first_failure) {
          first_failure.emplace(i, *error);
        }
      });
  if (first_failure) {
    const auto& [i, error] = *first_failure;
    if (inputs.size() == 1) throw error;
    throw Error(error.code(), std::string(noun) + " " + std::to_string(i) + ": " + error.what());
  }
}

// `count` rows of `dim` floats from a contiguous buffer, as the vector-returning forms give them.
std::vector<Embedding> split_rows(const std::vector<float>& rows, size_t count, size_t dim);

}  // namespace clipembed
