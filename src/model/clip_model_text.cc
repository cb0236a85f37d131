// ClipModel: the text half (tokenizing, text embeddings, zero-shot label scores).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "clipembed/error.h"
#include "clipembed/model.h"
#include "clipembed/runtime.h"
#include "model/clip_model_state.h"

namespace clipembed {
std::vector<int32_t> ClipModel::tokenize(std::string_view text) const {
  if (!has_text()) throw Error(state_->text_missing_code, state_->text_missing);
  return state_->tokenizer->encode(
      text, static_cast<size_t>(state_->config.text->max_position_embeddings));
}

std::string ClipModel::token_text(int32_t id) const {
  if (!has_text()) throw Error(state_->text_missing_code, state_->text_missing);
  return state_->tokenizer->piece(id);
}

void ClipModel::embed_token_ids(std::span<const std::vector<int32_t>> ids, float* out,
                                const EmbedOptions& options, Workspace* workspace) const {
  if (!has_text()) throw Error(state_->text_missing_code, state_->text_missing);
  if (ids.empty()) return;
  Runtime& runtime = shared_runtime();
  std::optional<Workspace> own;
  Workspace::Buffers& buffers = buffers_of(workspace, own);
  auto run = [&] {
    state_->text->forward(runtime, ids, out, buffers.text);
    if (options.normalize) {
      const auto dim = static_cast<size_t>(dimension());
      for (size_t i = 0; i < ids.size(); ++i) normalize_embedding({out + i * dim, dim});
    }
  };
  if (runtime.in_runtime_thread()) {
    run();
  } else {
    runtime.submit(run).get();
  }
}

void ClipModel::embed_texts_into(std::span<const std::string> texts, float* out,
                                 const EmbedOptions& options,
                                 std::vector<std::optional<Error>>* errors) const {
  if (!has_text()) throw Error(state_->text_missing_code, state_->text_missing);
  stream_into(texts, static_cast<size_t>(dimension()), out, errors, "text",
              [&](const auto& next, const auto& sink) {
                embed_text_stream(next, sink, {.embed = options});
              });
}

std::vector<Embedding> ClipModel::embed_texts(std::span<const std::string> texts,
                                              const EmbedOptions& options) const {
  const auto dim = static_cast<size_t>(dimension());
  std::vector<float> out(texts.size() * dim);
  embed_texts_into(texts, out.data(), options);
  return split_rows(out, texts.size(), dim);
}

Embedding ClipModel::embed_text(std::string_view text, const EmbedOptions& options) const {
  const std::string owned(text);
  return std::move(embed_texts(std::span<const std::string>(&owned, 1), options).front());
}

std::vector<float> ClipModel::label_probabilities(
    std::span<const float> image_embedding, std::span<const Embedding> label_embeddings) const {
  return zero_shot_scores(capabilities(), image_embedding, label_embeddings);
}

const char* zero_shot_rule_name(ZeroShotRule rule) {
  return rule == ZeroShotRule::kSigmoid ? "sigmoid" : "softmax";
}

std::vector<float> zero_shot_scores(const ModelCapabilities& model,
                                    std::span<const float> image_embedding,
                                    std::span<const Embedding> label_embeddings) {
  auto norm = [](std::span<const float> v) {
    double s = 0;
    for (float x : v) s += double{x} * x;
    return std::sqrt(s);
  };
  const double image_norm = norm(image_embedding);
  std::vector<double> logits(label_embeddings.size());
  for (size_t j = 0; j < label_embeddings.size(); ++j) {
    const Embedding& label = label_embeddings[j];
    if (label.size() != image_embedding.size()) {
      throw Error(ErrorCode::kInvalidArgument, "label and image embeddings differ in dimension");
    }
    double dot = 0;
    for (size_t k = 0; k < label.size(); ++k) dot += double{image_embedding[k]} * label[k];
    const double denominator = image_norm * norm(label);
    logits[j] = double{model.logit_scale} * (denominator > 0 ? dot / denominator : 0.0) +
                double{model.logit_bias};
  }
  std::vector<float> scores(logits.size());
  if (model.zero_shot == ZeroShotRule::kSigmoid) {
    for (size_t j = 0; j < logits.size(); ++j) {
      scores[j] = static_cast<float>(1.0 / (1.0 + std::exp(-logits[j])));
    }
    return scores;
  }
  const double max = logits.empty() ? 0 : *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (double& l : logits) sum += (l = std::exp(l - max));
  for (size_t j = 0; j < logits.size(); ++j) scores[j] = static_cast<float>(logits[j] / sum);
  return scores;
}

std::string label_prompt(std::string_view label_template, std::string_view label) {
  std::string out(label_template);
  const size_t at = out.find("{}");
  if (at != std::string::npos) out.replace(at, 2, label);
  return out;
}

std::vector<LabelScore> rank_labels(std::span<const std::string> labels,
                                    std::span<const float> scores, size_t top_k) {
  if (labels.size() != scores.size()) {
    throw Error(ErrorCode::kInvalidArgument, "one score per label is needed");
  }
  std::vector<size_t> order(labels.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t x, size_t y) { return scores[x] > scores[y]; });
  const size_t count = top_k == 0 ? order.size() : std::min(top_k, order.size());
  std::vector<LabelScore> ranked;
  ranked.reserve(count);
  for (size_t i = 0; i < count; ++i) ranked.push_back({labels[order[i]], scores[order[i]]});
  return ranked;
}

}  // namespace clipembed
