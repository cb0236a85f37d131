#include "server/embeddings_api.h"

#include <nlohmann/json.hpp>

#include "io/base64.h"
#include "io/json_text.h"

namespace clipembed::server {

EmbeddingsRequest parse_embeddings_request(std::string_view body, size_t max_items) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    throw bad_request(std::string("the body is not valid JSON: ") + e.what(), "invalid_json");
  }
  if (!json.is_object()) throw bad_request("the body must be a JSON object", "invalid_json");
  EmbeddingsRequest request;
  if (json.contains("model")) {
    if (!json["model"].is_string()) throw bad_request("'model' must be a string");
    request.model = json["model"].get<std::string>();
  }
  if (!json.contains("input")) throw bad_request("'input' is required", "missing_input");
  const nlohmann::json& input = json["input"];
  if (input.is_string()) {
    request.inputs.push_back(input.get<std::string>());
  } else if (input.is_array()) {
    if (input.empty()) throw bad_request("'input' is an empty list", "missing_input");
    if (input.size() > max_items) {
      throw ApiError{413, "invalid_request_error", "too_many_inputs",
                     "'input' has " + std::to_string(input.size()) + " items; the limit is " +
                         std::to_string(max_items),
                     0};
    }
    for (size_t i = 0; i < input.size(); ++i) {
      if (!input[i].is_string()) {
        throw bad_request("input[" + std::to_string(i) +
                              "]: must be a string (a data: URI, base64 or an http(s) URL)",
                          "invalid_input");
      }
      request.inputs.push_back(input[i].get<std::string>());
    }
  } else {
    throw bad_request("'input' must be a string or a list of strings", "invalid_input");
  }
  if (json.contains("encoding_format")) {
    const nlohmann::json& format = json["encoding_format"];
    if (format == "base64") {
      request.base64_output = true;
    } else if (format != "float") {
      throw bad_request("'encoding_format' must be \"float\" or \"base64\"");
    }
  }
  return request;
}

std::string embeddings_response(const std::string& model,
                                const std::vector<std::vector<float>>& vectors, bool base64) {
  // Written by hand rather than through nlohmann::json, for the floats' shortest form (see
  // io::append_json_floats).
  std::string out = R"({"object": "list", "data": [)";
  for (size_t i = 0; i < vectors.size(); ++i) {
    if (i != 0) out += ", ";
    out += R"({"object": "embedding", "index": )" + std::to_string(i) + R"(, "embedding": )";
    if (base64) {
      // x86-64 and AArch64 are little-endian, the layout OpenAI's base64 embeddings use.
      out += '"';
      out += io::encode_base64(reinterpret_cast<const uint8_t*>(vectors[i].data()),
                               vectors[i].size() * sizeof(float));
      out += '"';
    } else {
      io::append_json_floats(out, vectors[i]);
    }
    out += '}';
  }
  out += R"(], "model": )" + io::json_string(model);
  out += R"(, "usage": {"prompt_tokens": 0, "total_tokens": 0}})";
  return out;
}

}  // namespace clipembed::server
