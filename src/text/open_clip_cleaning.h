// Internal: the text cleaning of open_clip's tokenizer, which runs before CLIP's pattern split
// and BPE instead of the Hugging Face normalizer:
//
//   text = ftfy.fix_text(text); text = html.unescape(html.unescape(text)).strip()
//   text = re.sub(r"\s+", " ", text).strip().lower()
//
// ftfy is a Python library with no C or C++ counterpart, so the parts of fix_text that change
// real captions are written here, each as ftfy 6.3 does it: HTML entities (repeated until none is
// left, and only in text without '<'), UTF-8 read as Windows-1252 or Latin-1 (runs of such
// mojibake decoded back), C1 controls as Windows-1252, Latin ligatures, fullwidth forms, curly
// quotes, line breaks, terminal escapes and control characters removed, NFC. ftfy's other
// heuristics (other legacy encodings, the "badness" score for ambiguous runs, upper-case entity
// names) are not reproduced. html.unescape is Python's, with HTML5's named references.
#pragma once

#include <string>
#include <string_view>

namespace clipembed::text {

// The cleaned, lowercased text open_clip's BPE sees. Throws Error(kInvalidText) when `text` is
// not valid UTF-8.
std::string open_clip_clean(std::string_view text);

// Python's html.unescape (exposed for tests).
std::u32string html_unescape(const std::u32string& text);

}  // namespace clipembed::text
