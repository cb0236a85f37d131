// Internal: the server's request bodies, read without building a tree of the whole body.
//
// Every API body is a flat JSON object: its fields are scalars or lists of strings
// ({"model": "m", "input": ["...", "..."], "normalize": true}). A SAX pass (nlohmann's) keeps
// just those values and stops at the first thing out of bounds: nesting deeper than a field's
// list (100k '[' cost nothing), more list items than the route allows, or more fields than any
// request needs. Memory is therefore the body plus its strings, whatever the body holds.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace clipembed::server {

struct JsonField {
  enum class Kind { kNull, kBool, kInteger, kNumber, kString, kList };
  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0;  // kInteger and kNumber.
  std::string string;
  // kList: its items, each a string; `non_string` is the index of the first item that is not.
  std::vector<std::string> items;
  std::optional<size_t> non_string;

  const char* kind_name() const;
};

struct JsonLimits {
  size_t max_list_items = 2048;  // Items of one list field (more: too_many_inputs, 413).
  size_t max_fields = 64;        // Fields of the object.
  // Fields may also hold an object of scalars ({"query": {"text": "a cat"}}), read as fields
  // named "query.text". Off for the routes whose bodies have none.
  bool objects = false;
};

// The fields of a flat JSON object. Throws ApiError: 400 invalid_json (not JSON, not an object,
// nested deeper than a list of scalars), 413 too_many_inputs (a list over max_list_items).
std::map<std::string, JsonField> parse_flat_object(std::string_view body, const JsonLimits& limits);

}  // namespace clipembed::server
