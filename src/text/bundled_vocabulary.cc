// The files are assembled into the object with .incbin (the build passes their directory as
// CLIPEMBED_DATA_DIR): 1.4 MB that a generated C array would make a slow compile of, and that
// reading at run time would tie the library to an install location.
#include "text/bundled_vocabulary.h"

#include "core/incbin.h"

CLIPEMBED_INCBIN(clipembed_bpe_vocab, "clip-bpe/vocab.json")
CLIPEMBED_INCBIN(clipembed_bpe_merges, "clip-bpe/merges.txt")

namespace clipembed::text {

std::string_view bundled_clip_vocab_json() {
  return {clipembed_bpe_vocab_begin,
          static_cast<size_t>(clipembed_bpe_vocab_end - clipembed_bpe_vocab_begin)};
}

std::string_view bundled_clip_merges() {
  return {clipembed_bpe_merges_begin,
          static_cast<size_t>(clipembed_bpe_merges_end - clipembed_bpe_merges_begin)};
}

}  // namespace clipembed::text
