// Internal: the API's request and response bodies.
//
// POST /v1/embeddings (and /embeddings), OpenAI's shape with infinity's and TEI's fields:
//   {"model": M, "input": STRING | [STRING...], "encoding_format": "float" | "base64",
//    "modality": "image" | "text", "normalize": BOOL, "dimensions": N}
//   -> {"object": "list", "data": [{"object": "embedding", "index": i, "embedding": ...}],
//       "model": M, "usage": {"prompt_tokens": 0, "total_tokens": 0}}
// With "base64", each embedding is the base64 of its little-endian float32 values, as OpenAI's.
// Without "modality", each input that is an http(s) URL, a data: URI or base64 of a known image
// format is an image, and anything else a text.
//
// POST /v1/classify: {"model": M, "image": STRING | [STRING...], "labels": [STRING...],
//   "template": "a photo of a {}.", "top_k": K}
//   -> {"object": "list", "model": M, "data": [{"index": i, "labels": [{"label", "score"}...]}]}
// with the same rule as `clipembed classify` (service/zero_shot.h): scores under the model's rule
// (a softmax over labels for CLIP), sorted by score.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clipembed/index.h"
#include "clipembed/model.h"
#include "server/api_error.h"
#include "service/inputs.h"

namespace clipembed::server {

using service::Modality;

struct EmbeddingsRequest {
  std::string model;  // "" when the request names none (the server's default applies).
  std::vector<std::string> inputs;
  bool base64_output = false;
  Modality modality = Modality::kAuto;
  std::optional<bool> normalize;     // The server's default when absent.
  std::optional<double> dimensions;  // Checked against the model's once it is known.
};

struct ClassifyRequest {
  std::string model;
  std::vector<std::string> images;
  // Or {"index": NAME, "row": N}: the stored vector of an indexed image (the search page's labels).
  std::string index;
  std::optional<size_t> row;
  std::vector<std::string> labels;
  std::string label_template;  // "" takes the model's default (service/zero_shot.h).
  size_t top_k = 0;            // 0: every label.
};

// POST /v1/search: {"index": NAME, "query": {"text": T} | {"image": IMAGE}, "k": 10}.
struct SearchRequest {
  std::string index;  // "" when the request names none (the only index applies).
  std::optional<std::string> text, image;
  std::optional<size_t> row;  // {"row": N}: the index's own vector of row N ("more like this").
  size_t k = 10;
};

// Parse and validate a body; throw ApiError (400, or 413 past `max_items` inputs or labels).
EmbeddingsRequest parse_embeddings_request(std::string_view body, size_t max_items);

// POST /tokenize: {"model"?: ..., "input" (or TEI's "inputs"): a text or a list of texts}.
struct TokenizeRequest {
  std::string model;
  std::vector<std::string> texts;
};
TokenizeRequest parse_tokenize_request(std::string_view body, size_t max_items);
// {"object": "list", "model": ..., "data": [{"index": i, "ids": [...], "tokens": [...]}]}.
std::string tokenize_response(const std::string& model,
                              const std::vector<std::vector<int32_t>>& ids,
                              const std::vector<std::vector<std::string>>& tokens);
ClassifyRequest parse_classify_request(std::string_view body, size_t max_items);
// Throws ApiError 400 unless the query is one text or one image and 1 <= k <= max_k.
SearchRequest parse_search_request(std::string_view body, size_t max_k);

// `vectors`: one per input, in order. (usage counts stay 0: images have no tokens, and texts are
// tokenized inside the pool.)
// `prompt_tokens`: the token ids of the request's texts (images count none).
std::string embeddings_response(const std::string& model,
                                const std::vector<std::vector<float>>& vectors, bool base64,
                                size_t prompt_tokens = 0);

// `ranked[i]`: image i's labels, best first (rank_labels()).
std::string classify_response(const std::string& model,
                              const std::vector<std::vector<LabelScore>>& ranked);
// {"object": "list", "index": NAME, "model": M, "data": [{"rank": 1, "path": P, "score": S}...]}
std::string search_response(const std::string& index, const std::string& model,
                            const std::vector<SearchHit>& hits);

}  // namespace clipembed::server
