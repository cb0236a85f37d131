#include "io/base64.h"

#include <array>
#include <limits>
#include <string>

#include "clipembed/error.h"

namespace clipembed::io {
namespace {

// Value of each base64 character, or kInvalid.
constexpr uint8_t kInvalid = 0xFF;

constexpr std::array<uint8_t, 256> make_table() {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = kInvalid;
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < kAlphabet.size(); ++i) {
    t[static_cast<uint8_t>(kAlphabet[i])] = static_cast<uint8_t>(i);
  }
  return t;
}

constexpr std::array<uint8_t, 256> kTable = make_table();

[[noreturn]] void fail(const std::string& why) {
  throw Error(ErrorCode::kInvalidBase64, "invalid base64: " + why);
}

// Strips a data: URI prefix, checking that it declares base64 image data.
std::string_view payload_of(std::string_view text) {
  if (text.substr(0, 5) != "data:") return text;
  const size_t comma = text.find(',');
  if (comma == std::string_view::npos) fail("data URI has no ',' before its data");
  const std::string_view header = text.substr(5, comma - 5);
  if (header.size() < 7 || header.substr(header.size() - 7) != ";base64") {
    fail("data URI is not ;base64 encoded");
  }
  if (header.substr(0, 6) != "image/" && header != ";base64") {
    fail("data URI media type '" + std::string(header.substr(0, header.size() - 7)) +
         "' is not an image");
  }
  return text.substr(comma + 1);
}

// Checks base64 data (a data: URI's prefix already stripped) and appends its bytes to *out, when
// out is not null: one walk for decoding and for checking alone.
void walk(std::string_view data, size_t max_decoded_bytes, std::vector<uint8_t>* out) {
  if (data.empty()) fail("no data");
  if (data.size() % 4 != 0) {
    fail("length " + std::to_string(data.size()) + " is not a multiple of 4 (missing padding?)");
  }
  size_t padding = 0;
  if (data.back() == '=') padding = data[data.size() - 2] == '=' ? 2 : 1;
  const size_t decoded = data.size() / 4 * 3 - padding;
  if (decoded > max_decoded_bytes) {
    fail("decoded size " + std::to_string(decoded) + " exceeds the limit of " +
         std::to_string(max_decoded_bytes) + " bytes");
  }
  if (out != nullptr) out->reserve(decoded);
  for (size_t i = 0; i < data.size(); i += 4) {
    const bool last = i + 4 == data.size();
    uint32_t group = 0;
    for (size_t k = 0; k < 4; ++k) {
      const char c = data[i + k];
      uint32_t v = kTable[static_cast<uint8_t>(c)];
      if (c == '=' && last && k >= 4 - padding) {
        v = 0;
      } else if (v == kInvalid) {
        fail("character " + std::to_string(i + k) + " is not in the base64 alphabet");
      }
      group = (group << 6) | v;
    }
    if (out != nullptr) {
      out->push_back(static_cast<uint8_t>(group >> 16));
      if (!last || padding < 2) out->push_back(static_cast<uint8_t>(group >> 8));
      if (!last || padding < 1) out->push_back(static_cast<uint8_t>(group));
    }
    // Canonical encodings leave the bits under the padding zero; anything else is corrupt.
    if (last &&
        ((padding == 1 && (group & 0xFF) != 0) || (padding == 2 && (group & 0xFFFF) != 0))) {
      fail("non-zero bits under the padding");
    }
  }
}

}  // namespace

std::vector<uint8_t> decode_base64(std::string_view text, size_t max_decoded_bytes) {
  std::vector<uint8_t> out;
  walk(payload_of(text), max_decoded_bytes, &out);
  return out;
}

void check_base64(std::string_view text) {
  walk(payload_of(text), std::numeric_limits<size_t>::max(), nullptr);
}

std::string encode_base64(const uint8_t* data, size_t size) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    const uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < size) {
    const uint32_t v = (uint32_t{data[i]} << 16) | (i + 1 < size ? uint32_t{data[i + 1]} << 8 : 0);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < size ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace clipembed::io
