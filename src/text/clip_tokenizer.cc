#include "text/clip_tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <queue>
#include <sstream>

#include "clipembed/error.h"
#include "io/file.h"
#include "text/bundled_vocabulary.h"
#include "text/normalizer.h"
#include "text/open_clip_cleaning.h"

namespace clipembed::text {
namespace {

namespace fs = std::filesystem;

constexpr const char* kStart = "<|startoftext|>";
constexpr const char* kEnd = "<|endoftext|>";
// open_clip's own names of the two special tokens (its vocabulary file has no others): the ones
// a text may spell out to mean them.
constexpr const char* kOpenClipStart = "<start_of_text>";
constexpr const char* kOpenClipEnd = "<end_of_text>";
constexpr const char* kEndOfWord = "</w>";
// Pieces up to this many bytes are cached; the cache is cleared when it holds this many words.
constexpr size_t kCachedPieceBytes = 64;
constexpr size_t kCacheWords = 1 << 16;

[[noreturn]] void bad(const std::string& source, const std::string& what) {
  throw Error(ErrorCode::kModelInvalid, source + ": " + what);
}

std::string read_text(const std::string& path) {
  const std::vector<uint8_t> bytes = io::read_file(path);
  return {bytes.begin(), bytes.end()};
}

// GPT-2's byte-level table: printable bytes stand for themselves; the other 68, in byte order,
// for U+0100 onwards. Returns the UTF-8 of each byte's character.
std::vector<std::string> byte_characters() {
  std::vector<std::string> out(256);
  int next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    const int c = printable ? b : next++;
    std::string s;
    if (c < 0x80) {
      s += static_cast<char>(c);
    } else {
      s += static_cast<char>(0xC0 | (c >> 6));
      s += static_cast<char>(0x80 | (c & 0x3F));
    }
    out[static_cast<size_t>(b)] = s;
  }
  return out;
}

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

}  // namespace

std::string ClipTokenizer::missing_files(const std::string& directory, CheckpointFormat format) {
  if (format == CheckpointFormat::kOpenClip) return {};  // The bundled vocabulary serves.
  std::error_code ec;
  if (fs::exists(directory + "/tokenizer.json", ec)) return {};
  if (fs::exists(directory + "/vocab.json", ec) && fs::exists(directory + "/merges.txt", ec)) {
    return {};
  }
  return "model directory '" + directory +
         "' has no tokenizer files (tokenizer.json, or vocab.json and merges.txt)";
}

std::unique_ptr<ClipTokenizer> ClipTokenizer::load(const std::string& directory,
                                                   CheckpointFormat format) {
  if (std::string missing = missing_files(directory, format); !missing.empty()) {
    throw Error(ErrorCode::kModelInvalid, missing);
  }
  std::unique_ptr<ClipTokenizer> t(new ClipTokenizer());
  t->format_ = format;
  const std::string json_path = directory + "/tokenizer.json";
  std::error_code ec;
  if (fs::exists(json_path, ec)) {
    const nlohmann::json root = nlohmann::json::parse(read_text(json_path), nullptr, false);
    if (root.is_discarded() || !root.is_object() || !root.contains("model") ||
        !root["model"].is_object()) {
      bad(json_path, "not a tokenizer.json (no model object)");
    }
    const nlohmann::json& model = root["model"];
    if (model.value("type", "") != "BPE" || !model.contains("vocab") ||
        !model["vocab"].is_object() || !model.contains("merges") || !model["merges"].is_array()) {
      bad(json_path, "the model is not a BPE model with a vocab and merges");
    }
    for (const auto& [token, id] : model["vocab"].items()) {
      if (!id.is_number_integer()) bad(json_path, "vocab entry '" + token + "' has no integer id");
      t->vocabulary_[token] = id.get<int32_t>();
    }
    // Merges are "a b" strings (as transformers' converter writes them) or ["a", "b"] pairs
    // (newer tokenizers).
    for (const nlohmann::json& m : model["merges"]) {
      if (m.is_string()) {
        const std::string s = m.get<std::string>();
        const size_t space = s.find(' ');
        if (space == std::string::npos) bad(json_path, "merge '" + s + "' is not two tokens");
        t->merge_strings_.emplace_back(s.substr(0, space), s.substr(space + 1));
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        t->merge_strings_.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
      } else {
        bad(json_path, "a merge is neither \"a b\" nor [\"a\", \"b\"]");
      }
    }
    if (root.contains("added_tokens") && root["added_tokens"].is_array()) {
      for (const nlohmann::json& added : root["added_tokens"]) {
        if (added.contains("content") && added.contains("id") && added["content"].is_string() &&
            added["id"].is_number_integer()) {
          t->vocabulary_[added["content"].get<std::string>()] = added["id"].get<int32_t>();
        }
      }
    }
  } else if (fs::exists(directory + "/vocab.json", ec)) {
    t->read_vocabulary(read_text(directory + "/vocab.json"), read_text(directory + "/merges.txt"),
                       directory);
  } else {
    // An open_clip checkpoint without tokenizer files: open_clip's own (bundled) vocabulary.
    t->read_vocabulary(bundled_clip_vocab_json(), bundled_clip_merges(), "the bundled vocabulary");
  }
  try {
    t->finish_load();
  } catch (const Error& e) {
    bad(directory, e.what());
  }
  return t;
}

void ClipTokenizer::read_vocabulary(std::string_view vocab_json, std::string_view merges,
                                    const std::string& source) {
  const nlohmann::json vocab = nlohmann::json::parse(vocab_json, nullptr, false);
  if (vocab.is_discarded() || !vocab.is_object()) bad(source + "/vocab.json", "not a JSON object");
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer()) {
      bad(source + "/vocab.json", "entry '" + token + "' has no integer id");
    }
    vocabulary_[token] = id.get<int32_t>();
  }
  std::istringstream lines{std::string(merges)};
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.rfind("#version", 0) == 0) continue;
    const size_t space = line.find(' ');
    if (space == std::string::npos) bad(source + "/merges.txt", "line '" + line + "'");
    merge_strings_.emplace_back(line.substr(0, space), line.substr(space + 1));
  }
}

void ClipTokenizer::finish_load() {
  auto id_of = [&](const std::string& token) {
    const auto it = vocabulary_.find(token);
    if (it == vocabulary_.end()) {
      throw Error(ErrorCode::kModelInvalid, "token '" + token + "' is not in the vocabulary");
    }
    return it->second;
  };
  const std::vector<std::string> bytes = byte_characters();
  for (size_t b = 0; b < 256; ++b) {
    byte_ids_[b] = id_of(bytes[b]);
    byte_end_ids_[b] = id_of(bytes[b] + kEndOfWord);
  }
  merges_.reserve(merge_strings_.size());
  for (size_t rank = 0; rank < merge_strings_.size(); ++rank) {
    const auto& [left, right] = merge_strings_[rank];
    merges_.emplace(pair_key(id_of(left), id_of(right)),
                    std::make_pair(static_cast<int32_t>(rank), id_of(left + right)));
  }
  merge_strings_ = {};
  start_id_ = id_of(kStart);
  end_id_ = id_of(kEnd);
  for (const auto& [token, id] : vocabulary_) {
    if (id < 0) throw Error(ErrorCode::kModelInvalid, "token '" + token + "' has a negative id");
    vocabulary_size_ = std::max(vocabulary_size_, id + 1);
  }
  pieces_.assign(static_cast<size_t>(vocabulary_size_), std::string());
  for (const auto& [token, id] : vocabulary_) pieces_[static_cast<size_t>(id)] = token;
}

std::vector<int32_t> ClipTokenizer::byte_pair_encode(const std::vector<int32_t>& symbols) const {
  // The lowest-ranked adjacent pair is merged first, the leftmost among equals, as Hugging Face's
  // BPE does: a heap of candidate pairs over a linked list of symbols, O(n log n) in the piece's
  // length (a megabyte without spaces is one piece).
  struct Symbol {
    int32_t id;
    int32_t prev, next;
  };
  struct Candidate {
    int32_t rank, pos, left, right, merged;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  const auto n = static_cast<int32_t>(symbols.size());
  std::vector<Symbol> word(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i)
    word[static_cast<size_t>(i)] = {symbols[static_cast<size_t>(i)], i - 1, i + 1 < n ? i + 1 : -1};
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  auto consider = [&](int32_t pos) {
    if (pos < 0) return;
    const Symbol& s = word[static_cast<size_t>(pos)];
    if (s.next < 0) return;
    const int32_t right = word[static_cast<size_t>(s.next)].id;
    const auto it = merges_.find(pair_key(s.id, right));
    if (it != merges_.end()) heap.push({it->second.first, pos, s.id, right, it->second.second});
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i);
  std::vector<bool> alive(static_cast<size_t>(n), true);
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    Symbol& s = word[static_cast<size_t>(c.pos)];
    // Skip pairs that an earlier merge changed.
    if (!alive[static_cast<size_t>(c.pos)] || s.id != c.left || s.next < 0 ||
        word[static_cast<size_t>(s.next)].id != c.right) {
      continue;
    }
    const int32_t gone = s.next;
    s.id = c.merged;
    s.next = word[static_cast<size_t>(gone)].next;
    if (s.next >= 0) word[static_cast<size_t>(s.next)].prev = c.pos;
    alive[static_cast<size_t>(gone)] = false;
    consider(s.prev);
    consider(c.pos);
  }
  std::vector<int32_t> ids;
  for (int32_t i = 0; i >= 0 && i < n; i = word[static_cast<size_t>(i)].next) {
    ids.push_back(word[static_cast<size_t>(i)].id);
  }
  return ids;
}

void ClipTokenizer::encode_piece(std::string_view piece, std::vector<int32_t>& ids) const {
  const bool cacheable = piece.size() <= kCachedPieceBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    const auto it = cache_.find(std::string(piece));
    if (it != cache_.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> symbols(piece.size());
  for (size_t i = 0; i < piece.size(); ++i) {
    const auto b = static_cast<uint8_t>(piece[i]);
    symbols[i] = i + 1 == piece.size() ? byte_end_ids_[b] : byte_ids_[b];
  }
  std::vector<int32_t> encoded = byte_pair_encode(symbols);
  ids.insert(ids.end(), encoded.begin(), encoded.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() >= kCacheWords) cache_.clear();
    cache_.emplace(std::string(piece), std::move(encoded));
  }
}

std::vector<int32_t> ClipTokenizer::encode(std::string_view text, size_t context) const {
  const bool open_clip = format_ == CheckpointFormat::kOpenClip;
  const std::string normalized = open_clip ? open_clip_clean(text) : normalize(text);
  const std::string_view all(normalized);
  std::vector<int32_t> ids{start_id_};
  // The first context - 2 tokens are kept: later pieces are not encoded at all, so a long text
  // costs its normalization and split, not its encoding.
  const size_t keep = context - 1;
  size_t pos = 0;
  while (pos < all.size() && ids.size() < keep) {
    // The special tokens are matched in the normalized text (they are normalized added tokens).
    size_t special = all.size(), special_length = 0;
    int32_t special_id = -1;
    for (const auto& [token, id] :
         {std::make_pair(std::string_view(open_clip ? kOpenClipStart : kStart), start_id_),
          std::make_pair(std::string_view(open_clip ? kOpenClipEnd : kEnd), end_id_)}) {
      const size_t at = all.find(token, pos);
      if (at < special) special = at, special_length = token.size(), special_id = id;
    }
    for (std::string_view piece : split_pieces(all.substr(pos, special - pos))) {
      if (ids.size() >= keep) break;
      encode_piece(piece, ids);
    }
    if (special_id >= 0) ids.push_back(special_id);
    pos = special + special_length;
  }
  if (ids.size() > keep) ids.resize(keep);
  ids.push_back(end_id_);
  return ids;
}

}  // namespace clipembed::text
