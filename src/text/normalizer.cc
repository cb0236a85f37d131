#include "text/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>
#include <memory>

#include "clipembed/error.h"

namespace clipembed::text {

char32_t decode_at(std::string_view text, size_t i, size_t* length) {
  utf8proc_int32_t c = 0;
  const utf8proc_ssize_t n = utf8proc_iterate(reinterpret_cast<const uint8_t*>(text.data() + i),
                                              static_cast<utf8proc_ssize_t>(text.size() - i), &c);
  *length = n > 0 ? static_cast<size_t>(n) : 1;
  return static_cast<char32_t>(c < 0 ? 0xFFFD : c);
}

void append_utf8(std::string& out, char32_t c) {
  uint8_t buffer[4];
  const utf8proc_ssize_t n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(c), buffer);
  out.append(reinterpret_cast<const char*>(buffer), static_cast<size_t>(n));
}

void append_lowercase(std::string& out, char32_t c) {
  if (c == 0x130) {  // The one unconditional lowercase mapping to two code points.
    out += 'i';
    append_utf8(out, 0x307);
  } else {
    append_utf8(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
  }
}

void check_utf8(std::string_view text) {
  const utf8proc_ssize_t n =
      utf8proc_decompose(reinterpret_cast<const uint8_t*>(text.data()),
                         static_cast<utf8proc_ssize_t>(text.size()), nullptr, 0, UTF8PROC_STABLE);
  if (n < 0) {
    throw Error(ErrorCode::kInvalidText,
                std::string("the text is not valid UTF-8 (") + utf8proc_errmsg(n) + ")");
  }
}

namespace {

bool is_letter(char32_t c) {
  const utf8proc_category_t k = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
}

bool is_number(char32_t c) {
  const utf8proc_category_t k = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO;
}

// Bytes of the contraction ('s, 't, 're, 've, 'm, 'll, 'd) starting at text[i], or 0.
size_t contraction_at(std::string_view text, size_t i) {
  if (text[i] != '\'' || i + 1 >= text.size()) return 0;
  const std::string_view rest = text.substr(i + 1);
  // No alternative is a prefix of another, so their order does not matter.
  for (std::string_view suffix : {"s", "t", "re", "ve", "m", "ll", "d"}) {
    if (rest.starts_with(suffix)) return 1 + suffix.size();
  }
  return 0;
}

}  // namespace

bool is_white_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

std::string normalize(std::string_view text) {
  if (text.empty()) return {};
  utf8proc_uint8_t* composed = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(
      reinterpret_cast<const uint8_t*>(text.data()), static_cast<utf8proc_ssize_t>(text.size()),
      &composed, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) {
    throw Error(ErrorCode::kInvalidText,
                std::string("the text is not valid UTF-8 (") + utf8proc_errmsg(n) + ")");
  }
  const std::unique_ptr<uint8_t, decltype(&std::free)> owned(composed, &std::free);
  const std::string_view nfc(reinterpret_cast<const char*>(composed), static_cast<size_t>(n));
  std::string out;
  out.reserve(nfc.size());
  bool in_space = false;
  for (size_t i = 0; i < nfc.size();) {
    size_t length = 0;
    const char32_t c = decode_at(nfc, i, &length);
    i += length;
    if (is_white_space(c)) {
      if (!in_space) out += ' ';
      in_space = true;
      continue;
    }
    in_space = false;
    append_lowercase(out, c);
  }
  return out;
}

std::vector<std::string_view> split_pieces(std::string_view text) {
  std::vector<std::string_view> pieces;
  size_t i = 0;
  while (i < text.size()) {
    if (const size_t n = contraction_at(text, i); n > 0) {
      pieces.push_back(text.substr(i, n));
      i += n;
      continue;
    }
    size_t length = 0;
    const char32_t c = decode_at(text, i, &length);
    if (is_white_space(c)) {
      i += length;
      continue;
    }
    size_t end = i + length;
    if (is_letter(c)) {
      while (end < text.size()) {
        const char32_t next = decode_at(text, end, &length);
        if (!is_letter(next)) break;
        end += length;
      }
    } else if (!is_number(c)) {  // A run of what is neither space, letter nor number.
      while (end < text.size()) {
        const char32_t next = decode_at(text, end, &length);
        if (is_white_space(next) || is_letter(next) || is_number(next)) break;
        end += length;
      }
    }
    pieces.push_back(text.substr(i, end - i));
    i = end;
  }
  return pieces;
}

}  // namespace clipembed::text
