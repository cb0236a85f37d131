// Internal: the one tokenizer interface the text tower uses, whatever the family's tokenizer:
// CLIP's byte-level BPE (clip_tokenizer.h), SigLIP's SentencePiece unigram and SigLIP 2's Gemma
// BPE (sentencepiece_tokenizer.h). load() picks the one a model directory holds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "clipembed/config.h"

namespace clipembed::text {

// Immutable after load; encode() may be called from any number of threads at once.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // The tokenizer of a `family` model in `directory`. Throws Error(kModelInvalid) naming the
  // missing or malformed files.
  static std::unique_ptr<Tokenizer> load(const std::string& directory, ModelFamily family,
                                         CheckpointFormat format = CheckpointFormat::kTransformers);
  // The tokenizer files `directory` lacks for `family`, as a message ("" when it has them).
  static std::string missing_files(const std::string& directory, ModelFamily family,
                                   CheckpointFormat format = CheckpointFormat::kTransformers);

  // The ids the model takes for `text`, framed as the family's reference frames them and
  // truncated to `context` ids (SigLIP's are also padded to it). Throws Error(kInvalidText) for
  // invalid UTF-8.
  virtual std::vector<int32_t> encode(std::string_view text, size_t context) const = 0;
  // One past the largest id the tokenizer produces.
  virtual int32_t vocabulary_size() const = 0;
  // The vocabulary's entry for `id` as the tokenizer file spells it (CLIP's byte-level pieces
  // with their "</w>", SentencePiece's with U+2581), or "" for an id it does not have.
  virtual std::string piece(int32_t id) const = 0;
};

}  // namespace clipembed::text
