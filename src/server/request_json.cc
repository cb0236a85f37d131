#include "server/request_json.h"

#include <nlohmann/json.hpp>

#include "server/api_error.h"

namespace clipembed::server {
namespace {

using json = nlohmann::json;

// The SAX events of one flat object. Each event returns false to stop the parse at once, with
// `problem` saying why (nlohmann then reports no error of its own).
class FlatObjectReader {
 public:
  explicit FlatObjectReader(const JsonLimits& limits) : limits_(limits) {}

  bool null() { return scalar(JsonField{}); }
  bool boolean(bool value) {
    JsonField f;
    f.kind = JsonField::Kind::kBool;
    f.boolean = value;
    return scalar(std::move(f));
  }
  bool number_integer(json::number_integer_t value) { return integer(static_cast<double>(value)); }
  bool number_unsigned(json::number_unsigned_t value) {
    return integer(static_cast<double>(value));
  }
  bool number_float(json::number_float_t value, const json::string_t& /*text*/) {
    JsonField f;
    f.kind = JsonField::Kind::kNumber;
    f.number = value;
    return scalar(std::move(f));
  }
  bool string(json::string_t& value) {
    if (depth_ == 2) {
      current_->items.push_back(std::move(value));
      return count_item();
    }
    JsonField f;
    f.kind = JsonField::Kind::kString;
    f.string = std::move(value);
    return scalar(std::move(f));
  }
  bool binary(json::binary_t& /*value*/) { return stop("binary values are not JSON"); }

  bool start_object(std::size_t /*size*/) {
    if (depth_ == 0) {
      depth_ = 1;
      return true;
    }
    if (depth_ == 1 && limits_.objects && parent_.empty()) {
      parent_ = key_;
      return true;
    }
    return stop("field '" + key_ + "' holds an object; fields are strings, numbers, booleans " +
                "or lists of strings");
  }
  bool key(json::string_t& name) {
    if (fields_.size() >= limits_.max_fields) {
      return stop("more than " + std::to_string(limits_.max_fields) + " fields");
    }
    key_ = parent_.empty() ? std::move(name) : parent_ + "." + name;
    return true;
  }
  bool end_object() {
    if (!parent_.empty()) {
      parent_.clear();  // Back in the body's own object.
      return true;
    }
    depth_ = 0;
    return true;
  }
  bool start_array(std::size_t /*size*/) {
    if (depth_ == 0) return stop("the body must be a JSON object");
    if (!parent_.empty()) return stop("field '" + key_ + "' is a list inside an object");
    if (depth_ == 2) {
      return stop("field '" + key_ + "' nests lists; it must be a string or a list of strings");
    }
    depth_ = 2;
    current_ = &fields_[key_];
    *current_ = JsonField{};
    current_->kind = JsonField::Kind::kList;
    return true;
  }
  bool end_array() {
    depth_ = 1;
    current_ = nullptr;
    return true;
  }
  bool parse_error(std::size_t /*position*/, const std::string& /*token*/,
                   const nlohmann::detail::exception& e) {
    if (problem_.empty()) problem_ = std::string("the body is not valid JSON: ") + e.what();
    return false;
  }

  std::map<std::string, JsonField> take() { return std::move(fields_); }
  const std::string& problem() const { return problem_; }
  int status() const { return status_; }
  const std::string& code() const { return code_; }

 private:
  bool integer(double value) {
    JsonField f;
    f.kind = JsonField::Kind::kInteger;
    f.number = value;
    return scalar(std::move(f));
  }
  // A value: a field's, or a list item that is not a string (kept as "" and noted).
  bool scalar(JsonField value) {
    if (depth_ == 0) return stop("the body must be a JSON object");
    if (depth_ == 2) {
      if (!current_->non_string) current_->non_string = current_->items.size();
      current_->items.emplace_back();
      return count_item();
    }
    fields_[key_] = std::move(value);
    return true;
  }
  bool count_item() {
    if (current_->items.size() > limits_.max_list_items) {
      status_ = 413;
      code_ = key_ == "input" ? "too_many_inputs" : "too_many_items";
      return stop("'" + key_ + "' has more than " + std::to_string(limits_.max_list_items) +
                  " items (the limit)");
    }
    return true;
  }
  bool stop(std::string why) {
    problem_ = std::move(why);
    return false;
  }

  const JsonLimits& limits_;
  std::map<std::string, JsonField> fields_;
  std::string key_;
  std::string parent_;            // The field whose object is being read, if any.
  JsonField* current_ = nullptr;  // The list being read (depth 2).
  int depth_ = 0;                 // 0 outside the object, 1 in it, 2 in a field's list.
  std::string problem_;
  int status_ = 400;
  std::string code_ = "invalid_json";
};

}  // namespace

const char* JsonField::kind_name() const {
  switch (kind) {
    case Kind::kNull:
      return "null";
    case Kind::kBool:
      return "a boolean";
    case Kind::kInteger:
    case Kind::kNumber:
      return "a number";
    case Kind::kString:
      return "a string";
    case Kind::kList:
      return "a list";
  }
  return "a value";
}

std::map<std::string, JsonField> parse_flat_object(std::string_view body,
                                                   const JsonLimits& limits) {
  FlatObjectReader reader(limits);
  const bool ok = json::sax_parse(body.begin(), body.end(), &reader);
  if (!ok) {
    throw ApiError{reader.status(), "invalid_request_error", reader.code(), reader.problem(), 0};
  }
  return reader.take();
}

}  // namespace clipembed::server
