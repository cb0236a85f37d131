// Internal: the text side's Unicode steps, with the semantics of the Hugging Face fast tokenizer
// that CLIP repositories ship (tokenizer.json): its normalizer (NFC, whitespace runs to one space,
// lowercase character by character) and its pre-tokenizer split (CLIP's pattern). Unicode data
// comes from utf8proc; the pattern is matched by hand over code points, which needs no regex
// engine and is linear in the text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace clipembed::text {

// NFC, then every run of Unicode White_Space to one " ", then each character lowercased on its
// own (full mapping: U+0130 becomes "i" + U+0307; capital sigma is always U+03C3). Throws
// Error(kInvalidText) when `text` is not valid UTF-8.
std::string normalize(std::string_view text);

// The pieces of CLIP's pre-tokenizer pattern, in order:
//   's|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// (what it does not match, the whitespace, is dropped). `text` must be valid UTF-8.
std::vector<std::string_view> split_pieces(std::string_view text);

// True for the code points of Unicode's White_Space property.
bool is_white_space(char32_t c);

// The code point at text[i] of valid UTF-8; sets `length` to its byte count.
char32_t decode_at(std::string_view text, size_t i, size_t* length);
void append_utf8(std::string& out, char32_t c);
// Appends `c` lowercased on its own (full mapping: U+0130 becomes "i" + U+0307; no context, so
// capital sigma is always U+03C3), as both Rust's and Python's lowercase of one character.
void append_lowercase(std::string& out, char32_t c);
// Throws Error(kInvalidText) unless `text` is valid UTF-8.
void check_utf8(std::string_view text);

}  // namespace clipembed::text
