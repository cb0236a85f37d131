// Internal: CLIP's tokenizer (text::Tokenizer for ModelFamily::kClip) with the semantics of the
// Hugging Face fast tokenizer in tokenizer.json (docs/design.md says where transformers' slow
// tokenizer and OpenAI's differ): normalize, split out <|startoftext|> / <|endoftext|>, split the
// rest with CLIP's pattern, map each piece's bytes to characters (GPT-2's byte-level table),
// byte-pair-encode it with a
// "</w>" end-of-word suffix, and frame the ids with the start and end tokens, truncated to the
// model's context (start, the first context - 2 tokens, end).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "text/tokenizer.h"

namespace clipembed::text {

// Immutable after load apart from its BPE cache (guarded); encode() may be called from any
// number of threads at once.
class ClipTokenizer : public Tokenizer {
 public:
  // Reads tokenizer.json in `directory`, else vocab.json + merges.txt (the same result), else
  // (kOpenClip only) OpenAI's vocabulary built into the library, as open_clip bundles it. Throws
  // Error(kModelInvalid) naming the missing or malformed files. kOpenClip cleans texts as
  // open_clip's tokenizer does (open_clip_cleaning.h) instead of the Hugging Face normalizer.
  static std::unique_ptr<ClipTokenizer> load(
      const std::string& directory, CheckpointFormat format = CheckpointFormat::kTransformers);
  // The tokenizer files `directory` lacks, as a message ("" when it has them, and always for
  // kOpenClip, which falls back to the bundled vocabulary).
  static std::string missing_files(const std::string& directory,
                                   CheckpointFormat format = CheckpointFormat::kTransformers);

  // The ids of `text`, framed and truncated to `context` ids (>= 2), not padded. Throws
  // Error(kInvalidText) for invalid UTF-8.
  std::vector<int32_t> encode(std::string_view text, size_t context) const override;

  int32_t start_id() const { return start_id_; }
  int32_t end_id() const { return end_id_; }
  int32_t vocabulary_size() const override { return vocabulary_size_; }
  std::string piece(int32_t id) const override {
    return id >= 0 && static_cast<size_t>(id) < pieces_.size() ? pieces_[id] : std::string();
  }

 private:
  ClipTokenizer() = default;
  // Takes the vocabulary and merges of vocab.json + merges.txt text; `source` names them.
  void read_vocabulary(std::string_view vocab_json, std::string_view merges,
                       const std::string& source);
  void finish_load();
  // Appends the ids of one pre-tokenized piece (raw UTF-8) to `ids`.
  void encode_piece(std::string_view piece, std::vector<int32_t>& ids) const;
  std::vector<int32_t> byte_pair_encode(const std::vector<int32_t>& symbols) const;

  std::unordered_map<std::string, int32_t> vocabulary_;
  std::vector<std::string> pieces_;  // By id.
  // (left id << 32 | right id) -> (rank, merged id).
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges_;
  int32_t byte_ids_[256] = {};      // The id of each byte's character.
  int32_t byte_end_ids_[256] = {};  // The same with "</w>" (the last character of a piece).
  int32_t start_id_ = -1, end_id_ = -1, vocabulary_size_ = 0;
  CheckpointFormat format_ = CheckpointFormat::kTransformers;
  std::vector<std::pair<std::string, std::string>> merge_strings_;  // Until finish_load().

  // Words seen before (short ones only), bounded: cleared when full.
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace clipembed::text
