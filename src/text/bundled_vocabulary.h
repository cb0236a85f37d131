// Internal: OpenAI's CLIP BPE vocabulary, built into the library (data/clip-bpe: vocab.json and
// merges.txt as Hugging Face's openai/clip-* repositories ship them; the same ids as open_clip's
// bpe_simple_vocab_16e6.txt.gz, which open_clip bundles the same way). It is the tokenizer of an
// OpenCLIP checkpoint whose directory has no tokenizer files.
#pragma once

#include <string_view>

namespace clipembed::text {

std::string_view bundled_clip_vocab_json();
std::string_view bundled_clip_merges();

}  // namespace clipembed::text
