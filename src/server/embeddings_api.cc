#include "server/embeddings_api.h"

#include <map>

#include "clipembed/input.h"
#include "io/base64.h"
#include "io/json_text.h"
#include "server/request_json.h"

namespace clipembed::server {
namespace {

using Fields = std::map<std::string, JsonField>;

const JsonField* find(const Fields& fields, const std::string& name) {
  const auto it = fields.find(name);
  return it == fields.end() || it->second.kind == JsonField::Kind::kNull ? nullptr : &it->second;
}

std::string optional_string(const Fields& fields, const std::string& name) {
  const JsonField* f = find(fields, name);
  if (f == nullptr) return "";
  if (f->kind != JsonField::Kind::kString) {
    throw bad_request("'" + name + "' must be a string, not " + f->kind_name());
  }
  return f->string;
}

// A field that is a string or a non-empty list of strings; `what` describes an item for messages.
std::vector<std::string> strings(Fields& fields, const std::string& name, const std::string& what,
                                 const std::string& missing_code) {
  const auto it = fields.find(name);
  if (it == fields.end() || it->second.kind == JsonField::Kind::kNull) {
    throw bad_request("'" + name + "' is required", missing_code);
  }
  JsonField& f = it->second;
  if (f.kind == JsonField::Kind::kString) return {std::move(f.string)};
  if (f.kind != JsonField::Kind::kList) {
    throw bad_request("'" + name + "' must be a string or a list of strings, not " + f.kind_name(),
                      "invalid_input");
  }
  if (f.items.empty()) throw bad_request("'" + name + "' is an empty list", missing_code);
  if (f.non_string) {
    throw bad_request(name + "[" + std::to_string(*f.non_string) + "]: must be a string (" + what +
                          "); token-id inputs are not accepted",
                      "invalid_input");
  }
  return std::move(f.items);
}

}  // namespace

EmbeddingsRequest parse_embeddings_request(std::string_view body, size_t max_items) {
  Fields fields = parse_flat_object(body, {.max_list_items = max_items});
  EmbeddingsRequest request;
  request.model = optional_string(fields, "model");
  request.inputs =
      strings(fields, "input", "an image as a data: URI, base64 or an http(s) URL, or a text",
              "missing_input");
  const std::string format = optional_string(fields, "encoding_format");
  if (format == "base64") {
    request.base64_output = true;
  } else if (!format.empty() && format != "float") {
    throw bad_request("'encoding_format' must be \"float\" or \"base64\"");
  }
  const std::string modality = optional_string(fields, "modality");
  if (modality == "image") {
    request.modality = Modality::kImage;
  } else if (modality == "text") {
    request.modality = Modality::kText;
  } else if (!modality.empty()) {
    throw bad_request("'modality' must be \"image\" or \"text\" (or absent: decided per input)",
                      "unsupported_modality");
  }
  if (const JsonField* f = find(fields, "normalize")) {
    if (f->kind != JsonField::Kind::kBool) throw bad_request("'normalize' must be true or false");
    request.normalize = f->boolean;
  }
  if (const JsonField* f = find(fields, "dimensions")) {
    if (f->kind != JsonField::Kind::kInteger) {
      throw bad_request("'dimensions' must be an integer", "unsupported_dimensions");
    }
    request.dimensions = f->number;
  }
  return request;
}

TokenizeRequest parse_tokenize_request(std::string_view body, size_t max_items) {
  Fields fields = parse_flat_object(body, {.max_list_items = max_items});
  TokenizeRequest request;
  request.model = optional_string(fields, "model");
  request.texts =
      strings(fields, fields.count("inputs") != 0 ? "inputs" : "input", "a text", "missing_input");
  return request;
}

std::string tokenize_response(const std::string& model,
                              const std::vector<std::vector<int32_t>>& ids,
                              const std::vector<std::vector<std::string>>& tokens) {
  std::string out = R"({"object": "list", "model": )" + io::json_string(model) + R"(, "data": [)";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i != 0) out += ", ";
    out += R"({"index": )" + std::to_string(i) + R"(, "ids": [)";
    for (size_t j = 0; j < ids[i].size(); ++j) {
      if (j != 0) out += ", ";
      out += std::to_string(ids[i][j]);
    }
    out += R"(], "tokens": [)";
    for (size_t j = 0; j < tokens[i].size(); ++j) {
      if (j != 0) out += ", ";
      out += io::json_string(tokens[i][j]);
    }
    out += "]}";
  }
  out += "]}";
  return out;
}

ClassifyRequest parse_classify_request(std::string_view body, size_t max_items) {
  Fields fields = parse_flat_object(body, {.max_list_items = max_items});
  ClassifyRequest request;
  request.model = optional_string(fields, "model");
  if (const JsonField* f = find(fields, "row")) {
    if (f->kind != JsonField::Kind::kInteger || f->number < 0 || f->number > 1e15) {
      throw bad_request("'row' must be a row number of the index");
    }
    if (fields.count("image") != 0 || fields.count("input") != 0) {
      throw bad_request("classify takes images or an index's row, not both");
    }
    request.row = static_cast<size_t>(f->number);
    request.index = optional_string(fields, "index");
  } else {
    request.images = strings(fields, fields.count("image") != 0 ? "image" : "input",
                             "an image as a data: URI, base64 or an http(s) URL", "missing_input");
  }
  request.labels = strings(fields, "labels", "a label", "missing_labels");
  request.label_template = optional_string(fields, "template");
  if (const JsonField* f = find(fields, "top_k")) {
    if (f->kind != JsonField::Kind::kInteger || f->number < 1) {
      throw bad_request("'top_k' must be a positive integer");
    }
    request.top_k = static_cast<size_t>(f->number);
  }
  return request;
}

SearchRequest parse_search_request(std::string_view body, size_t max_k) {
  Fields fields = parse_flat_object(body, {.max_list_items = 1, .max_fields = 8, .objects = true});
  SearchRequest request;
  request.index = optional_string(fields, "index");
  for (const auto& [name, field] : fields) {
    if (name != "index" && name != "k" && name != "query.text" && name != "query.image" &&
        name != "query.row") {
      throw bad_request("unknown field '" + name + "'; a search takes index, query and k");
    }
  }
  if (find(fields, "query.text") != nullptr) request.text = optional_string(fields, "query.text");
  if (find(fields, "query.image") != nullptr)
    request.image = optional_string(fields, "query.image");
  if (const JsonField* f = find(fields, "query.row")) {
    if (f->kind != JsonField::Kind::kInteger || f->number < 0 || f->number > 1e15) {
      throw bad_request("'query.row' must be a row number of the index", "invalid_query");
    }
    request.row = static_cast<size_t>(f->number);
  }
  if (request.text.has_value() + request.image.has_value() + request.row.has_value() != 1) {
    throw bad_request(R"('query' must be {"text": ...}, {"image": ...} or {"row": ...})",
                      "invalid_query");
  }
  if (const JsonField* f = find(fields, "k")) {
    if (f->kind != JsonField::Kind::kInteger || f->number < 1 ||
        f->number > static_cast<double>(max_k)) {
      throw bad_request("'k' must be an integer from 1 to " + std::to_string(max_k), "invalid_k");
    }
    request.k = static_cast<size_t>(f->number);
  }
  return request;
}

std::string search_response(const std::string& index, const std::string& model,
                            const std::vector<SearchHit>& hits) {
  std::string out = R"({"object": "list", "index": )" + io::json_string(index) + R"(, "model": )" +
                    io::json_string(model) + R"(, "data": [)";
  for (size_t r = 0; r < hits.size(); ++r) {
    if (r != 0) out += ", ";
    out += R"({"rank": )" + std::to_string(r + 1) + R"(, "row": )" + std::to_string(hits[r].row) +
           R"(, "path": )" + io::json_string(hits[r].path) + R"(, "score": )";
    io::append_json_float(out, hits[r].score);
    out += '}';
  }
  out += "]}";
  return out;
}

std::string embeddings_response(const std::string& model,
                                const std::vector<std::vector<float>>& vectors, bool base64,
                                size_t prompt_tokens) {
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
  const std::string tokens = std::to_string(prompt_tokens);
  out += R"(, "usage": {"prompt_tokens": )" + tokens + R"(, "total_tokens": )" + tokens + "}}";
  return out;
}

std::string classify_response(const std::string& model,
                              const std::vector<std::vector<LabelScore>>& scores) {
  std::string out = R"({"object": "list", "model": )" + io::json_string(model) + R"(, "data": [)";
  for (size_t i = 0; i < scores.size(); ++i) {
    if (i != 0) out += ", ";
    out += R"({"index": )" + std::to_string(i) + R"(, "labels": [)";
    for (size_t j = 0; j < scores[i].size(); ++j) {
      if (j != 0) out += ", ";
      out += R"({"label": )" + io::json_string(scores[i][j].label) + R"(, "score": )";
      io::append_json_float(out, scores[i][j].score);
      out += '}';
    }
    out += "]}";
  }
  out += "]}";
  return out;
}

}  // namespace clipembed::server
