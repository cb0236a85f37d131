// Internal: zero-shot classification, the one orchestration every front end uses (the CLI's
// `classify`, the HTTP API's /v1/classify, Python's Model.classify): labels are put in a template,
// embedded as texts once, and each image's labels scored under the model's rule (softmax for
// CLIP, sigmoid for SigLIP: model.h's zero_shot_scores) and ranked.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "clipembed/model.h"

namespace clipembed::service {

// The template a family's reference pipeline puts labels in when none is given
// ("a photo of a {}." for CLIP, "This is a photo of {}." for SigLIP, as transformers' zero-shot
// pipeline).
std::string default_label_template(const ModelCapabilities& model);

// The texts to embed for `labels`: each put in `label_template` at its "{}" (the empty template
// takes the model's default). Throws Error(kInvalidArgument) when there are no labels or the
// template has no "{}".
std::vector<std::string> label_prompts(std::span<const std::string> labels,
                                       const std::string& label_template,
                                       const ModelCapabilities& model);

// One image's labels, best first (at most top_k; 0: all), scored under the model's rule.
std::vector<LabelScore> rank_labels_for(const ModelCapabilities& model,
                                        std::span<const float> image_embedding,
                                        std::span<const Embedding> label_embeddings,
                                        std::span<const std::string> labels, size_t top_k);

}  // namespace clipembed::service
