// Internal: what a loaded ClipModel holds and what a Workspace keeps, shared by the model's image
// half (clip_model.cc) and text half (clip_model_text.cc).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

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

// `count` rows of `dim` floats from a contiguous buffer, as the vector-returning forms give them.
std::vector<Embedding> split_rows(const std::vector<float>& rows, size_t count, size_t dim);

}  // namespace clipembed
