#include "text/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "clipembed/error.h"
#include "io/file.h"
#include "text/normalizer.h"

namespace clipembed::text {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Python's str.isspace(), which str.strip() and the regex \s use: Unicode White_Space plus the
// four information separators U+001C..U+001F.
bool is_python_space(char32_t c) { return is_white_space(c) || (c >= 0x1C && c <= 0x1F); }

// Python's string.punctuation, which SiglipTokenizer removes from every piece.
bool is_ascii_punctuation(char c) {
  return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') ||
         (c >= '{' && c <= '~');
}

// The text without the whitespace (by `space`) at its start (`left`) or its end.
template <typename Space>
std::string_view strip(std::string_view text, bool left, Space space) {
  while (!text.empty()) {
    if (left) {
      size_t length = 0;
      if (!space(decode_at(text, 0, &length))) break;
      text.remove_prefix(length);
    } else {
      // The last code point starts at the last byte that is not a continuation byte.
      size_t start = text.size() - 1;
      while (start > 0 && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) --start;
      size_t length = 0;
      if (!space(decode_at(text, start, &length))) break;
      text.remove_suffix(text.size() - start);
    }
  }
  return text;
}

// SiglipTokenizer.canonicalize_text: ASCII punctuation removed, runs of whitespace made one
// space, the ends stripped.
std::string canonicalize(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool in_space = false;
  for (size_t i = 0; i < text.size();) {
    size_t length = 0;
    const char32_t c = decode_at(text, i, &length);
    if (length == 1 && is_ascii_punctuation(text[i])) {
      i += length;
      continue;
    }
    if (is_python_space(c)) {
      if (!in_space) out += ' ';
      in_space = true;
    } else {
      out.append(text.substr(i, length));
      in_space = false;
    }
    i += length;
  }
  return std::string(strip(strip(out, true, is_python_space), false, is_python_space));
}

std::string read_text(const std::string& path) {
  const std::vector<uint8_t> bytes = io::read_file(path);
  return {bytes.begin(), bytes.end()};
}

json read_json(const std::string& path) {
  json j = json::parse(read_text(path), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    throw Error(ErrorCode::kModelInvalid, path + ": not a JSON object");
  }
  return j;
}

// A token named in tokenizer_config.json: a string, or an object with "content".
std::string token_text(const json& config, const char* key, const std::string& fallback) {
  if (!config.contains(key)) return fallback;
  const json& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) {
    return v["content"].get<std::string>();
  }
  return fallback;
}

bool flag(const json& j, const char* key) {
  return j.contains(key) && j[key].is_boolean() && j[key].get<bool>();
}

// The SentencePiece model with add_dummy_prefix off (both Hugging Face tokenizers encode pieces
// without it) and, for Gemma's, no removal of extra whitespace (its tokenizer.json only turns
// spaces into U+2581). A NormalizerSpec (field 3 of ModelProto) appended to the serialized model
// is merged into the model's own, as protobuf merges repeated message fields: only the named
// flags change.
std::string with_normalizer_overrides(std::string model, bool keep_whitespace) {
  // NormalizerSpec: add_dummy_prefix = 3, remove_extra_whitespaces = 4 (varints).
  const std::string dummy_prefix_off("\x18\x00", 2);
  const std::string whitespace_kept("\x20\x00", 2);
  const std::string spec = dummy_prefix_off + (keep_whitespace ? whitespace_kept : "");
  model += '\x1a';  // Field 3, length-delimited.
  model += static_cast<char>(spec.size());
  model += spec;
  return model;
}

}  // namespace

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::string SentencePieceTokenizer::missing_files(const std::string& directory) {
  std::error_code ec;
  if (fs::exists(directory + "/spiece.model", ec) ||
      fs::exists(directory + "/tokenizer.model", ec)) {
    return {};
  }
  if (fs::exists(directory + "/tokenizer.json", ec)) {
    return "model directory '" + directory +
           "' has tokenizer.json but not the tokenizer.model it comes with (SigLIP 2's Gemma "
           "tokenizer is read from tokenizer.model)";
  }
  return "model directory '" + directory +
         "' has no SentencePiece tokenizer (spiece.model for SigLIP, tokenizer.model for SigLIP 2)";
}

std::unique_ptr<SentencePieceTokenizer> SentencePieceTokenizer::load(const std::string& directory) {
  if (std::string missing = missing_files(directory); !missing.empty()) {
    throw Error(ErrorCode::kModelInvalid, missing);
  }
  std::unique_ptr<SentencePieceTokenizer> t(new SentencePieceTokenizer());
  std::error_code ec;
  const bool siglip = fs::exists(directory + "/spiece.model", ec);
  t->style_ = siglip ? Style::kSiglip : Style::kGemma;
  const std::string model_path = directory + (siglip ? "/spiece.model" : "/tokenizer.model");
  t->processor_ = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const auto status = t->processor_->LoadFromSerializedProto(
      with_normalizer_overrides(read_text(model_path), /*keep_whitespace=*/!siglip));
  if (!status.ok()) {
    throw Error(ErrorCode::kModelInvalid,
                model_path + ": not a SentencePiece model (" + status.ToString() + ")");
  }
  t->vocabulary_size_ = t->processor_->GetPieceSize();

  json config = json::object();
  if (const std::string path = directory + "/tokenizer_config.json"; fs::exists(path, ec)) {
    config = read_json(path);
  }
  // SiglipTokenizer lower-cases unless told not to; Gemma's does not.
  t->lower_case_ = siglip && (!config.contains("do_lower_case") || flag(config, "do_lower_case"));
  if (config.contains("added_tokens_decoder") && config["added_tokens_decoder"].is_object()) {
    for (const auto& [id, token] : config["added_tokens_decoder"].items()) {
      if (!token.is_object() || !token.contains("content") || !token["content"].is_string()) {
        continue;
      }
      t->added_.push_back({token["content"].get<std::string>(), std::stoi(id),
                           flag(token, "lstrip"), flag(token, "rstrip")});
    }
  } else if (const std::string path = directory + "/tokenizer.json"; fs::exists(path, ec)) {
    const json tokenizer = read_json(path);
    if (tokenizer.contains("added_tokens") && tokenizer["added_tokens"].is_array()) {
      for (const json& token : tokenizer["added_tokens"]) {
        if (!token.is_object() || !token.contains("content") || !token.contains("id")) continue;
        t->added_.push_back({token["content"].get<std::string>(), token["id"].get<int32_t>(),
                             flag(token, "lstrip"), flag(token, "rstrip")});
      }
    }
  }
  if (t->added_.empty()) {
    // The special pieces the reference tokenizers add by default.
    const std::vector<std::string> names =
        siglip ? std::vector<std::string>{"</s>", "<unk>"}
               : std::vector<std::string>{"<pad>", "<eos>", "<bos>", "<unk>"};
    for (const std::string& name : names) {
      t->added_.push_back({name, t->processor_->PieceToId(name), siglip, siglip});
    }
  }
  std::sort(t->added_.begin(), t->added_.end(), [](const AddedToken& a, const AddedToken& b) {
    return a.content.size() > b.content.size();
  });
  auto id_of = [&](const std::string& token) {
    for (const AddedToken& a : t->added_) {
      if (a.content == token) return a.id;
    }
    const int id = t->processor_->PieceToId(token);
    if (t->processor_->IsUnknown(id) && token != "<unk>") {
      throw Error(ErrorCode::kModelInvalid, model_path + " has no token '" + token + "'");
    }
    return static_cast<int32_t>(id);
  };
  t->end_id_ = id_of(token_text(config, "eos_token", siglip ? "</s>" : "<eos>"));
  t->pad_id_ = id_of(token_text(config, "pad_token", siglip ? "</s>" : "<pad>"));
  if (siglip) {
    t->unk_text_ = token_text(config, "unk_token", "<unk>");
    std::vector<int> unk_ids;
    if (t->processor_->Encode(t->unk_text_, &unk_ids).ok()) t->unk_text_ids_ = unk_ids.size();
  }
  const int space = t->processor_->PieceToId("\u2581");
  t->space_piece_id_ = t->processor_->IsUnknown(space) ? -1 : space;
  for (const AddedToken& a : t->added_) {
    t->vocabulary_size_ = std::max(t->vocabulary_size_, a.id + 1);
  }
  return t;
}

void SentencePieceTokenizer::encode_piece(std::string_view piece, std::vector<int32_t>& ids) const {
  const std::string text = style_ == Style::kSiglip ? canonicalize(piece) : std::string(piece);
  if (text.empty()) return;
  std::vector<int> encoded;
  const auto status = processor_->Encode(unk_text_ + text, &encoded);
  if (!status.ok()) throw Error(ErrorCode::kInvalidText, status.ToString());
  const size_t skip = encoded.size() >= unk_text_ids_ ? unk_text_ids_ : 0;
  ids.insert(ids.end(), encoded.begin() + static_cast<std::ptrdiff_t>(skip), encoded.end());
}

std::vector<int32_t> SentencePieceTokenizer::encode(std::string_view input, size_t context) const {
  check_utf8(input);
  std::string text;
  if (style_ == Style::kSiglip) {
    // SiglipTokenizer.tokenize: U+2581 is read as a space, and one is put in front.
    text = "\u2581";
    for (size_t i = 0; i < input.size();) {
      if (input.substr(i).starts_with("\u2581")) {
        text += ' ';
        i += 3;
      } else {
        text += input[i++];
      }
    }
  } else {
    text = input;
  }
  auto added_at = [&](std::string_view rest) -> const AddedToken* {
    for (const AddedToken& a : added_) {
      if (rest.starts_with(a.content)) return &a;
    }
    return nullptr;
  };
  if (lower_case_) {
    // Every character but those of the added tokens, each on its own (as the reference's regex
    // does, so no context rule such as the final sigma applies); "." does not match a newline,
    // which has no lowercase anyway.
    std::string lowered;
    lowered.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
      if (const AddedToken* a = added_at(std::string_view(text).substr(i))) {
        lowered += a->content;
        i += a->content.size();
        continue;
      }
      size_t length = 0;
      append_lowercase(lowered, decode_at(text, i, &length));
      i += length;
    }
    text = std::move(lowered);
  }
  // Split at the added tokens; their lstrip/rstrip take the whitespace beside them.
  struct Part {
    std::string_view text;
    const AddedToken* token = nullptr;
  };
  std::vector<Part> parts;
  const std::string_view all(text);
  size_t start = 0;
  for (size_t i = 0; i < all.size();) {
    const AddedToken* a = added_at(all.substr(i));
    if (a == nullptr) {
      ++i;
      continue;
    }
    parts.push_back({all.substr(start, i - start)});
    parts.push_back({all.substr(i, a->content.size()), a});
    i += a->content.size();
    start = i;
  }
  parts.push_back({all.substr(start)});
  auto space = [&](char32_t c) {
    return style_ == Style::kSiglip ? is_python_space(c) : is_white_space(c);
  };
  for (size_t k = 0; k < parts.size(); ++k) {
    if (parts[k].token == nullptr) continue;
    if (parts[k].token->lstrip && k > 0) parts[k - 1].text = strip(parts[k - 1].text, false, space);
    if (parts[k].token->rstrip && k + 1 < parts.size()) {
      parts[k + 1].text = strip(parts[k + 1].text, true, space);
    }
  }
  std::vector<int32_t> ids;
  size_t first_token_at = 0;  // Where the first added token's id went, if any.
  bool seen_token = false;
  for (const Part& part : parts) {
    if (ids.size() >= context) break;  // Enough to fill the context: the rest is cut anyway.
    if (part.token != nullptr) {
      if (!seen_token) first_token_at = ids.size(), seen_token = true;
      ids.push_back(part.token->id);
    } else {
      encode_piece(part.text, ids);
    }
  }
  // SiglipTokenizer drops the lone U+2581 piece it put in front of a text starting with an added
  // token.
  if (style_ == Style::kSiglip && seen_token && first_token_at == 1 && ids[0] == space_piece_id_) {
    ids.erase(ids.begin());
  }
  const size_t keep = context - 1;
  if (ids.size() > keep) ids.resize(keep);
  // SiglipTokenizer adds </s> unless the ids end with it; Gemma's post-processor always adds it.
  if (style_ == Style::kGemma || ids.empty() || ids.back() != end_id_) ids.push_back(end_id_);
  ids.resize(context, pad_id_);
  return ids;
}

std::string SentencePieceTokenizer::piece(int32_t id) const {
  for (const AddedToken& a : added_) {
    if (a.id == id) return a.content;
  }
  if (id < 0 || id >= processor_->GetPieceSize()) return {};
  return processor_->IdToPiece(id);
}

}  // namespace clipembed::text
