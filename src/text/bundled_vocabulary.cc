// The files are assembled into the object with .incbin (the build passes their directory as
// CLIPEMBED_DATA_DIR): 1.4 MB that a generated C array would make a slow compile of, and that
// reading at run time would tie the library to an install location.
#include "text/bundled_vocabulary.h"

#define CLIPEMBED_INCBIN(symbol, file)         \
  __asm__(                                     \
      ".section .rodata\n"                     \
      ".global " #symbol                       \
      "_begin\n"                               \
      ".hidden " #symbol "_begin\n" #symbol    \
      "_begin:\n"                              \
      ".incbin \"" CLIPEMBED_DATA_DIR "/" file \
      "\"\n"                                   \
      ".global " #symbol                       \
      "_end\n"                                 \
      ".hidden " #symbol "_end\n" #symbol      \
      "_end:\n"                                \
      ".previous\n");                          \
  extern "C" const char symbol##_begin[];      \
  extern "C" const char symbol##_end[];

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
