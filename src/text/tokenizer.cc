#include "text/tokenizer.h"

#include "text/clip_tokenizer.h"
#include "text/sentencepiece_tokenizer.h"

namespace clipembed::text {

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string& directory, ModelFamily family,
                                           CheckpointFormat format) {
  if (family == ModelFamily::kSiglip) return SentencePieceTokenizer::load(directory);
  return ClipTokenizer::load(directory, format);
}

std::string Tokenizer::missing_files(const std::string& directory, ModelFamily family,
                                     CheckpointFormat format) {
  if (family == ModelFamily::kSiglip) return SentencePieceTokenizer::missing_files(directory);
  return ClipTokenizer::missing_files(directory, format);
}

}  // namespace clipembed::text
