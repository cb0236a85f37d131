#include "service/zero_shot.h"

#include "clipembed/error.h"

namespace clipembed::service {

std::string default_label_template(const ModelCapabilities& model) {
  // transformers' zero-shot-image-classification pipeline formats SigLIP's labels this way (its
  // default hypothesis_template for that family); CLIP's prompts follow the CLIP paper.
  if (model.family == "siglip") return "This is a photo of {}.";
  return "a photo of a {}.";
}

std::vector<std::string> label_prompts(std::span<const std::string> labels,
                                       const std::string& label_template,
                                       const ModelCapabilities& model) {
  const std::string used = label_template.empty() ? default_label_template(model) : label_template;
  if (used.find("{}") == std::string::npos) {
    throw Error(ErrorCode::kInvalidArgument, "the template must contain {} where the label goes");
  }
  if (labels.empty()) throw Error(ErrorCode::kInvalidArgument, "no labels to classify with");
  std::vector<std::string> prompts;
  prompts.reserve(labels.size());
  for (const std::string& label : labels) prompts.push_back(label_prompt(used, label));
  return prompts;
}

std::vector<LabelScore> rank_labels_for(const ModelCapabilities& model,
                                        std::span<const float> image_embedding,
                                        std::span<const Embedding> label_embeddings,
                                        std::span<const std::string> labels, size_t top_k) {
  return rank_labels(labels, zero_shot_scores(model, image_embedding, label_embeddings), top_k);
}

}  // namespace clipembed::service
