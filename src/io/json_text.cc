#include "io/json_text.h"

#include <charconv>
#include <cmath>
#include <cstdint>

namespace clipembed::io {
namespace {

// Bytes of the valid UTF-8 sequence starting at text[i], or 0 (overlong forms, surrogates and code
// points past U+10FFFF are invalid, as in RFC 3629).
size_t utf8_length(std::string_view text, size_t i) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(text[i + k]); };
  const uint8_t c = b(0);
  const size_t left = text.size() - i;
  auto continuation = [&](size_t k) { return k < left && (b(k) & 0xC0) == 0x80; };
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return continuation(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!continuation(1) || !continuation(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;   // Overlong.
    if (c == 0xED && b(1) >= 0xA0) return 0;  // UTF-16 surrogates.
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!continuation(1) || !continuation(2) || !continuation(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;   // Overlong.
    if (c == 0xF4 && b(1) >= 0x90) return 0;  // Past U+10FFFF.
    return 4;
  }
  return 0;
}

void append_escape(std::string& out, unsigned code) {
  static const char kHex[] = "0123456789abcdef";
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(code >> shift) & 0xF];
}

void append_utf8(std::string& out, uint32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

}  // namespace

std::string json_string(std::string_view text) {
  std::string out = "\"";
  out.reserve(text.size() + 2);
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    const size_t length = utf8_length(text, i);
    if (length == 0) {
      append_escape(out, 0xDC00u + static_cast<uint8_t>(c));  // A byte that is not UTF-8.
      ++i;
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<uint8_t>(c) < 0x20 || c == 0x7F) {
          append_escape(out, static_cast<uint8_t>(c));
        } else if (length == 3 && text.substr(i, 2) == "\xE2\x80" &&
                   (text[i + 2] == '\xA8' || text[i + 2] == '\xA9')) {
          // U+2028 and U+2029 are line breaks to Python's str.splitlines() and to JavaScript
          // before ES2019: escaped, a JSON line stays one line for every reader.
          append_escape(out, text[i + 2] == '\xA8' ? 0x2028u : 0x2029u);
        } else {
          out.append(text.substr(i, length));
        }
    }
    i += length;
  }
  out += '"';
  return out;
}

std::optional<std::string> parse_json_string(std::string_view literal) {
  if (literal.size() < 2 || literal.front() != '"' || literal.back() != '"') return std::nullopt;
  std::string out;
  auto hex4 = [&](size_t at, uint32_t* value) {
    if (at + 4 > literal.size() - 1) return false;
    *value = 0;
    for (size_t k = at; k < at + 4; ++k) {
      const char h = literal[k];
      const int digit = h >= '0' && h <= '9'   ? h - '0'
                        : h >= 'a' && h <= 'f' ? h - 'a' + 10
                        : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                               : -1;
      if (digit < 0) return false;
      *value = *value * 16 + static_cast<uint32_t>(digit);
    }
    return true;
  };
  for (size_t i = 1; i + 1 < literal.size(); ++i) {
    const char c = literal[i];
    if (c == '"' || static_cast<uint8_t>(c) < 0x20) return std::nullopt;
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i >= literal.size() - 1) return std::nullopt;
    switch (literal[i]) {
      case '"':
      case '\\':
      case '/':
        out += literal[i];
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        uint32_t code = 0;
        if (!hex4(i + 1, &code)) return std::nullopt;
        i += 4;
        if (code >= 0xDC80 && code <= 0xDCFF) {
          out += static_cast<char>(code - 0xDC00);  // An escaped byte (surrogateescape).
        } else if (code >= 0xD800 && code <= 0xDBFF) {
          uint32_t low = 0;
          if (i + 2 >= literal.size() || literal[i + 1] != '\\' || literal[i + 2] != 'u' ||
              !hex4(i + 3, &low) || low < 0xDC00 || low > 0xDFFF) {
            return std::nullopt;
          }
          i += 6;
          append_utf8(out, 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00));
        } else if (code >= 0xDC00 && code <= 0xDFFF) {
          return std::nullopt;
        } else {
          append_utf8(out, code);
        }
        break;
      }
      default:
        return std::nullopt;
    }
  }
  return out;
}

void append_json_float(std::string& out, float value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, ec == std::errc() ? end : buf);
}

void append_json_floats(std::string& out, std::span<const float> values) {
  out += '[';
  for (size_t i = 0; i < values.size(); ++i) {
    if (i != 0) out += ", ";
    append_json_float(out, values[i]);
  }
  out += ']';
}

}  // namespace clipembed::io
