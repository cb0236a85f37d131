// Internal: the SigLIP family's tokenizers, both over SentencePiece (Debian's libsentencepiece,
// the reference implementation) with the framing of their Hugging Face tokenizers:
// - SigLIP (spiece.model, SiglipTokenizer): U+2581 read as a space; lower-cased (do_lower_case)
//   except the added tokens; split at the added tokens (</s>, <unk>), whose lstrip/rstrip take the
//   spaces beside them; each piece stripped of ASCII punctuation, its whitespace runs made one
//   space, then encoded without SentencePiece's dummy prefix (behind the text of <unk>, whose
//   ids are then dropped, as SiglipTokenizer does); </s> appended unless the ids end with it.
// - SigLIP 2 (tokenizer.model beside Gemma's tokenizer.json): split at the added tokens (<pad>,
//   <eos>, <bos>, <unk>, ...), each piece encoded as is (spaces become U+2581; no prefix, no
//   lower-casing, byte fallback), <eos> appended.
// Both truncate to context - 1 ids plus the end id, and pad to `context` with the pad id: the
// model pools the last position, padding included.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "text/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace clipembed::text {

class SentencePieceTokenizer : public Tokenizer {
 public:
  // Reads spiece.model (SigLIP) or tokenizer.model (SigLIP 2) in `directory`, with
  // tokenizer_config.json's added tokens, lower-casing, end and pad tokens (or tokenizer.json's
  // added tokens). Throws Error(kModelInvalid) naming the missing or malformed file.
  static std::unique_ptr<SentencePieceTokenizer> load(const std::string& directory);
  static std::string missing_files(const std::string& directory);
  ~SentencePieceTokenizer() override;

  std::vector<int32_t> encode(std::string_view text, size_t context) const override;
  int32_t vocabulary_size() const override { return vocabulary_size_; }
  std::string piece(int32_t id) const override;

 private:
  enum class Style { kSiglip, kGemma };
  struct AddedToken {
    std::string content;
    int32_t id = 0;
    bool lstrip = false, rstrip = false;
  };
  SentencePieceTokenizer() = default;
  // Appends the ids of a piece of text between added tokens.
  void encode_piece(std::string_view piece, std::vector<int32_t>& ids) const;

  Style style_ = Style::kSiglip;
  bool lower_case_ = false;
  std::vector<AddedToken> added_;  // Longest first: the longest match wins where two start.
  int32_t end_id_ = 1, pad_id_ = 0, space_piece_id_ = -1, vocabulary_size_ = 0;
  // SigLIP encodes each piece after its unknown token's text and drops that text's ids, so that
  // SentencePiece does not strip the piece's leading U+2581 (SiglipTokenizer._tokenize).
  std::string unk_text_;
  size_t unk_text_ids_ = 0;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
};

}  // namespace clipembed::text
