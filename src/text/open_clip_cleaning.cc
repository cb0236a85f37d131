#include "text/open_clip_cleaning.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <utility>

#include "text/normalizer.h"

namespace clipembed::text {
namespace {

struct Entity {
  std::string_view name, value;
};

// Python's html.entities.html5, sorted by name.
constexpr Entity kEntities[] = {
#include "text/html_entities.inc"
};

const Entity* find_entity(std::string_view name) {
  const auto* it = std::lower_bound(std::begin(kEntities), std::end(kEntities), name,
                                    [](const Entity& e, std::string_view n) { return e.name < n; });
  return it != std::end(kEntities) && it->name == name ? it : nullptr;
}

// Windows-1252 for bytes 0x80-0x9F; the five bytes it leaves undefined stand for themselves (the
// "sloppy" codec of ftfy, and html.unescape's table of invalid character references).
constexpr std::array<char32_t, 32> kCp1252High = {
    0x20AC, 0x81,   0x201A, 0x192,  0x201E, 0x2026, 0x2020, 0x2021, 0x2C6,  0x2030, 0x160,
    0x2039, 0x152,  0x8D,   0x17D,  0x8F,   0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x2DC,  0x2122, 0x161,  0x203A, 0x153,  0x9D,   0x17E,  0x178};

std::u32string decode(std::string_view text) {
  check_utf8(text);
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t length = 0;
    out += decode_at(text, i, &length);
    i += length;
  }
  return out;
}

std::string encode(const std::u32string& text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) append_utf8(out, c);
  return out;
}

void append(std::u32string& out, std::string_view utf8) { out += decode(utf8); }

bool is_hex(char32_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_digit(char32_t c) { return c >= '0' && c <= '9'; }
bool is_alnum(char32_t c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// html.unescape's value of a numeric reference.
void append_numeric(std::u32string& out, uint64_t n) {
  constexpr char32_t kReplacement = 0xFFFD;
  if (n == 0 || (n >= 0xD800 && n <= 0xDFFF) || n > 0x10FFFF) {
    out += kReplacement;
  } else if (n >= 0x80 && n <= 0x9F) {
    out += kCp1252High[n - 0x80];
  } else if ((n >= 0x1 && n <= 0x8) || n == 0xB || (n >= 0xE && n <= 0x1F) ||
             (n >= 0x7F && n <= 0x9F) || (n >= 0xFDD0 && n <= 0xFDEF) || (n & 0xFFFE) == 0xFFFE) {
    // Python's _invalid_codepoints: dropped.
  } else {
    out += static_cast<char32_t>(n);
  }
}

// ftfy's unescape_html: only complete references `&#?[0-9A-Za-z]{1,24};` that name an HTML5
// entity (with its ';') or a number.
std::u32string ftfy_unescape(const std::u32string& s) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    if (s[i] == '&') {
      size_t j = i + 1;
      const bool numeric = j < s.size() && s[j] == '#';
      if (numeric) ++j;
      const size_t start = j;
      while (j < s.size() && j - start < 24 && is_alnum(s[j])) ++j;
      if (j > start && j < s.size() && s[j] == ';') {
        const std::u32string whole = s.substr(i, j + 1 - i);
        std::string name = encode(whole.substr(1));
        if (!numeric) {
          if (const Entity* e = find_entity(name)) {
            append(out, e->value);
            i = j + 1;
            continue;
          }
        } else {
          const std::u32string value = html_unescape(whole);
          if (value.find(';') == std::u32string::npos) {
            out += value;
            i = j + 1;
            continue;
          }
        }
      }
    }
    out += s[i++];
  }
  return out;
}

// The Windows-1252 byte (sloppy) a character stands for, or -1.
int sloppy_byte(char32_t c) {
  if (c < 0x80 || (c >= 0xA0 && c <= 0xFF)) return static_cast<int>(c);
  for (int b = 0; b < 32; ++b) {
    if (kCp1252High[b] == c) return 0x80 + b;
  }
  return -1;
}

// Runs of UTF-8 that were read as Windows-1252 or Latin-1, decoded back.
std::u32string fix_mojibake(const std::u32string& s) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    const int lead = sloppy_byte(s[i]);
    const int more = lead >= 0xC2 && lead <= 0xDF   ? 1
                     : lead >= 0xE0 && lead <= 0xEF ? 2
                     : lead >= 0xF0 && lead <= 0xF4 ? 3
                                                    : 0;
    if (more > 0 && i + static_cast<size_t>(more) < s.size()) {
      std::string bytes(1, static_cast<char>(lead));
      for (int k = 1; k <= more; ++k) {
        const int b = sloppy_byte(s[i + static_cast<size_t>(k)]);
        if (b < 0x80 || b > 0xBF) break;
        bytes += static_cast<char>(b);
      }
      utf8proc_int32_t c = 0;
      if (bytes.size() == static_cast<size_t>(more) + 1 &&
          utf8proc_iterate(reinterpret_cast<const uint8_t*>(bytes.data()),
                           static_cast<utf8proc_ssize_t>(bytes.size()),
                           &c) == static_cast<utf8proc_ssize_t>(bytes.size())) {
        out += static_cast<char32_t>(c);
        i += bytes.size();
        continue;
      }
    }
    out += s[i++];
  }
  return out;
}

std::u32string single_character_fixes(const std::u32string& s) {
  static const std::pair<char32_t, std::u32string_view> kLigatures[] = {
      {0x132, U"IJ"},       {0x133, U"ij"},  {0x149, U"\u02BCn"}, {0x1F1, U"DZ"},
      {0x1F2, U"Dz"},       {0x1F3, U"dz"},  {0x1C4, U"D\u017D"}, {0x1C5, U"D\u017E"},
      {0x1C6, U"d\u017E"},  {0x1C7, U"LJ"},  {0x1C8, U"Lj"},      {0x1C9, U"lj"},
      {0x1CA, U"NJ"},       {0x1CB, U"Nj"},  {0x1CC, U"nj"},      {0xFB00, U"ff"},
      {0xFB01, U"fi"},      {0xFB02, U"fl"}, {0xFB03, U"ffi"},    {0xFB04, U"ffl"},
      {0xFB05, U"\u017Ft"}, {0xFB06, U"st"}};
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char32_t c = s[i];
    // fix_c1_controls: C1 controls as the Windows-1252 characters they were.
    if (c >= 0x80 && c <= 0x9F) c = kCp1252High[c - 0x80];
    const auto* lig = std::find_if(std::begin(kLigatures), std::end(kLigatures),
                                   [c](const auto& l) { return l.first == c; });
    if (lig != std::end(kLigatures)) {
      out += lig->second;
      continue;
    }
    // fix_character_width: the ideographic space, and fullwidth / halfwidth forms by NFKC.
    if (c == 0x3000) {
      out += ' ';
      continue;
    }
    if (c >= 0xFF01 && c <= 0xFFEF) {
      std::string one;
      append_utf8(one, c);
      utf8proc_uint8_t* mapped = nullptr;
      const utf8proc_ssize_t n = utf8proc_map(
          reinterpret_cast<const uint8_t*>(one.data()), static_cast<utf8proc_ssize_t>(one.size()),
          &mapped,
          static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT));
      const std::unique_ptr<uint8_t, decltype(&std::free)> owned(mapped, &std::free);
      if (n > 0) {
        append(out,
               std::string_view(reinterpret_cast<const char*>(mapped), static_cast<size_t>(n)));
        continue;
      }
    }
    // uncurl_quotes.
    if (c == 0x2BC || (c >= 0x2018 && c <= 0x201B)) c = '\'';
    if (c >= 0x201C && c <= 0x201F) c = '"';
    // fix_line_breaks.
    if (c == '\r') {
      if (i + 1 < s.size() && s[i + 1] == '\n') continue;
      c = '\n';
    }
    if (c == 0x2028 || c == 0x2029 || c == 0x85) c = '\n';
    out += c;
  }
  return out;
}

bool is_removed_control(char32_t c) {
  return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
         (c >= 0x206A && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
}

// remove_terminal_escapes (ESC [ digits-and-semicolons letter) and remove_control_chars.
std::u32string remove_escapes_and_controls(const std::u32string& s) {
  std::u32string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == 0x1B && i + 1 < s.size() && s[i + 1] == '[') {
      size_t j = i + 2;
      while (j < s.size() && (is_digit(s[j]) || s[j] == ';')) ++j;
      if (j < s.size() && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z'))) {
        i = j;
        continue;
      }
    }
    if (!is_removed_control(s[i])) out += s[i];
  }
  return out;
}

std::u32string nfc(const std::u32string& s) {
  const std::string utf8 = encode(s);
  if (utf8.empty()) return {};
  utf8proc_uint8_t* composed = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(
      reinterpret_cast<const uint8_t*>(utf8.data()), static_cast<utf8proc_ssize_t>(utf8.size()),
      &composed, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  const std::unique_ptr<uint8_t, decltype(&std::free)> owned(composed, &std::free);
  if (n < 0) return s;
  return decode(std::string_view(reinterpret_cast<const char*>(composed), static_cast<size_t>(n)));
}

// One line of ftfy.fix_text (ftfy fixes each line on its own), repeated until nothing changes.
std::u32string ftfy_fix_line(std::u32string s) {
  const bool html = s.find('<') == std::u32string::npos;
  for (int round = 0; round < 16; ++round) {
    const std::u32string before = s;
    if (html) s = ftfy_unescape(s);
    s = fix_mojibake(s);
    s = single_character_fixes(s);
    s = remove_escapes_and_controls(s);
    s = nfc(s);
    if (s == before) break;
  }
  return s;
}

bool is_cased(char32_t c) {
  const auto u = static_cast<utf8proc_int32_t>(c);
  const utf8proc_category_t k = utf8proc_category(u);
  return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT ||
         utf8proc_tolower(u) != u || utf8proc_toupper(u) != u;
}

bool is_case_ignorable(char32_t c) {
  switch (c) {
    case '\'':
    case '.':
    case ':':
    case '^':
    case '`':
    case 0xB7:
    case 0x2018:
    case 0x2019:
    case 0x2024:
    case 0x2027:
    case 0xFE13:
    case 0xFE52:
    case 0xFE55:
    case 0xFF07:
    case 0xFF0E:
    case 0xFF1A:
      return true;
    default:
      break;
  }
  const utf8proc_category_t k = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_ME || k == UTF8PROC_CATEGORY_CF ||
         k == UTF8PROC_CATEGORY_LM || k == UTF8PROC_CATEGORY_SK;
}

// Python's str.lower(): each character's full lowercase mapping, and capital sigma as final
// sigma after a cased letter where no cased letter follows.
std::string python_lower(const std::u32string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != 0x3A3) {
      append_lowercase(out, s[i]);
      continue;
    }
    size_t j = i;
    while (j > 0 && is_case_ignorable(s[j - 1])) --j;
    bool final_sigma = j > 0 && is_cased(s[j - 1]);
    if (final_sigma) {
      size_t k = i + 1;
      while (k < s.size() && is_case_ignorable(s[k])) ++k;
      final_sigma = k == s.size() || !is_cased(s[k]);
    }
    append_utf8(out, final_sigma ? 0x3C2 : 0x3C3);
  }
  return out;
}

}  // namespace

std::u32string html_unescape(const std::u32string& s) {
  if (s.find('&') == std::u32string::npos) return s;
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    if (s[i] != '&') {
      out += s[i++];
      continue;
    }
    size_t j = i + 1;
    if (j < s.size() && s[j] == '#') {
      const bool hex = j + 1 < s.size() && (s[j + 1] == 'x' || s[j + 1] == 'X');
      size_t k = j + (hex ? 2 : 1);
      const size_t digits = k;
      uint64_t n = 0;
      while (k < s.size() && (hex ? is_hex(s[k]) : is_digit(s[k]))) {
        const char32_t d = s[k];
        const uint64_t v = is_digit(d) ? d - '0' : (d | 0x20) - 'a' + 10;
        n = std::min<uint64_t>(n * (hex ? 16 : 10) + v, uint64_t{1} << 40);
        ++k;
      }
      if (k > digits) {
        if (k < s.size() && s[k] == ';') ++k;
        append_numeric(out, n);
        i = k;
        continue;
      }
      out += s[i++];
      continue;
    }
    // [^\t\n\f <&#;]{1,32};?
    size_t k = j;
    while (k < s.size() && k - j < 32 && s[k] != '\t' && s[k] != '\n' && s[k] != '\f' &&
           s[k] != ' ' && s[k] != '<' && s[k] != '&' && s[k] != '#' && s[k] != ';') {
      ++k;
    }
    if (k == j) {
      out += s[i++];
      continue;
    }
    if (k < s.size() && s[k] == ';') ++k;
    const std::u32string name = s.substr(j, k - j);
    if (const Entity* e = find_entity(encode(name))) {
      append(out, e->value);
    } else {
      // The longest prefix (of at least two characters) that is an entity, as html.unescape.
      bool found = false;
      for (size_t x = name.size() - 1; x > 1; --x) {
        if (const Entity* p = find_entity(encode(name.substr(0, x)))) {
          append(out, p->value);
          out += name.substr(x);
          found = true;
          break;
        }
      }
      if (!found) out += U"&" + name;
    }
    i = k;
  }
  return out;
}

std::string open_clip_clean(std::string_view text) {
  const std::u32string all = decode(text);
  // ftfy.fix_text, line by line.
  std::u32string fixed;
  for (size_t start = 0; start < all.size();) {
    size_t end = all.find('\n', start);
    end = end == std::u32string::npos ? all.size() : end + 1;
    fixed += ftfy_fix_line(all.substr(start, end - start));
    start = end;
  }
  fixed = html_unescape(html_unescape(fixed));
  // Whitespace runs to one space, stripped (Python's \s and str.strip()).
  std::u32string spaced;
  for (char32_t c : fixed) {
    if (is_white_space(c)) {
      if (!spaced.empty() && spaced.back() != ' ') spaced += ' ';
    } else {
      spaced += c;
    }
  }
  if (!spaced.empty() && spaced.back() == ' ') spaced.pop_back();
  return python_lower(spaced);
}

}  // namespace clipembed::text
