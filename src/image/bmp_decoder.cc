// BMP and DIB, written by hand: no maintained Debian library decodes BMP the way Pillow does, and
// the format is small. Follows Pillow 9.4's BmpImagePlugin (Debian 12's, the reference of the
// project's fixtures), also where later releases changed:
//  - the header sizes of real versions only: OS/2 v1 (12), Windows v3 (40), OS/2 v2 (64), v4
//    (108), v5 (124); any other is refused, as Pillow refuses it;
//  - 1/4/8-bit palettes (grey ramp beyond the stored entries); a palette image whose pixel
//    offset says the pixels follow the header at once has them after the palette (Pillow 9.0+);
//  - 16-bit 5-5-5 and 5-6-5, 24-bit, 32-bit with 8-bit channel masks (alpha dropped);
//  - RLE8 and RLE4 with Pillow 9.4's rules: a delta escape reads four bytes and skips by the
//    last two (Pillow 12.2 reads two), an RLE4 absolute run of odd length reads length / 2 bytes
//    (two pixels each), runs are padded to the file's 16-bit words, and RLE data that ends before
//    the bitmap is an error (Pillow: "not enough image data");
//  - a DIB (the same without the 14-byte file header, as on the clipboard) is recognised by its
//    header size, as Pillow recognises it, with its pixels right after the header and palette.
#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "clipembed/error.h"
#include "image/decoders.h"

namespace clipembed::image {
namespace {

[[noreturn]] void fail(const std::string& why) {
  throw Error(ErrorCode::kImageDecode, "invalid BMP: " + why);
}

uint32_t le32(std::span<const uint8_t> b, size_t at) {
  if (at + 4 > b.size()) fail("header is truncated");
  return uint32_t{b[at]} | (uint32_t{b[at + 1]} << 8) | (uint32_t{b[at + 2]} << 16) |
         (uint32_t{b[at + 3]} << 24);
}
uint16_t le16(std::span<const uint8_t> b, size_t at) {
  if (at + 2 > b.size()) fail("header is truncated");
  return static_cast<uint16_t>(b[at] | (b[at + 1] << 8));
}

struct Header {
  int64_t width = 0, height = 0;
  bool top_down = false;
  int bits = 0;
  uint32_t compression = 0;
  uint32_t colors = 0;
  uint32_t masks[4] = {0, 0, 0, 0};  // red, green, blue, alpha
  size_t palette_offset = 0;
  int palette_entry_size = 4;
  size_t pixels_offset = 0;
};

constexpr uint32_t kRgb = 0, kRle8 = 1, kRle4 = 2, kBitfields = 3, kAlphaBitfields = 6;

// The header of a BMP (`start` 14, after the file header) or a DIB (`start` 0).
Header parse_header(std::span<const uint8_t> b, size_t start) {
  Header h;
  const size_t file_offset = start == 0 ? 0 : le32(b, 10);
  const uint32_t size = le32(b, start);
  if (size == 12) {
    h.width = le16(b, start + 4);
    h.height = le16(b, start + 6);
    h.bits = le16(b, start + 10);
    h.palette_entry_size = 3;
  } else if (size == 40 || size == 64 || size == 108 || size == 124) {
    h.width = static_cast<int32_t>(le32(b, start + 4));
    int32_t height = static_cast<int32_t>(le32(b, start + 8));
    h.top_down = height < 0;
    h.height = h.top_down ? -static_cast<int64_t>(height) : height;
    h.bits = le16(b, start + 14);
    h.compression = le32(b, start + 16);
    h.colors = le32(b, start + 32);
    if (h.compression == kBitfields || h.compression == kAlphaBitfields) {
      // Masks follow a 40-byte header, and are part of larger ones.
      const int count = (size >= 56 || h.compression == kAlphaBitfields) ? 4 : 3;
      for (int i = 0; i < count; ++i) h.masks[i] = le32(b, start + 40 + 4 * i);
    }
  } else {
    fail("unsupported header size " + std::to_string(size) +
         " (BMP versions have 12, 40, 64, 108 or 124)");
  }
  h.palette_offset = start + size;
  if (size == 40 && h.compression == kBitfields) h.palette_offset += 12;
  if (size == 40 && h.compression == kAlphaBitfields) h.palette_offset += 16;
  const uint64_t colors = h.colors != 0 ? h.colors : (uint64_t{1} << std::min(h.bits, 32));
  const uint64_t palette_bytes = h.bits <= 8 ? colors * h.palette_entry_size : 0;
  if (start == 0) {
    // A DIB's pixels follow its header and palette.
    h.pixels_offset = h.palette_offset + palette_bytes;
  } else if (file_offset == 14 + size && h.bits <= 8) {
    // The offset says the pixels follow the header at once, but a palette is there: Pillow (9.0+)
    // reads them after the palette (four bytes an entry, whatever the header's entry size).
    h.pixels_offset = file_offset + 4 * colors;
  } else {
    h.pixels_offset = file_offset;
  }
  return h;
}

std::array<uint8_t, 768> read_palette(std::span<const uint8_t> b, const Header& h) {
  std::array<uint8_t, 768> palette{};
  for (int i = 0; i < 256; ++i) palette[3 * i] = palette[3 * i + 1] = palette[3 * i + 2] = i;
  uint32_t count = h.colors != 0 ? h.colors : (1u << h.bits);
  if (count > 65536) fail("unsupported palette size");
  for (uint32_t i = 0; i < count && i < 256; ++i) {
    size_t at = h.palette_offset + i * h.palette_entry_size;
    if (at + 3 > b.size()) fail("palette is truncated");
    palette[3 * i] = b[at + 2];
    palette[3 * i + 1] = b[at + 1];
    palette[3 * i + 2] = b[at];
  }
  return palette;
}

// Pillow's bmp RLE decoder, producing one palette index per pixel, rows bottom-up.
std::vector<uint8_t> decode_rle(std::span<const uint8_t> b, const Header& h) {
  const size_t w = static_cast<size_t>(h.width), total = w * static_cast<size_t>(h.height);
  const bool rle4 = h.compression == kRle4;
  std::vector<uint8_t> data;
  data.reserve(total);
  size_t pos = h.pixels_offset, x = 0;
  while (data.size() < total && pos + 2 <= b.size()) {
    uint32_t count = b[pos], value = b[pos + 1];
    pos += 2;
    if (count != 0) {
      if (x + count > w) count = x < w ? static_cast<uint32_t>(w - x) : 0;
      for (uint32_t i = 0; i < count; ++i) {
        data.push_back(rle4 ? ((i % 2 == 0) ? value >> 4 : value & 15) : value);
      }
      x += count;
    } else if (value == 0) {  // End of line.
      while (data.size() % w != 0) data.push_back(0);
      x = 0;
    } else if (value == 1) {  // End of bitmap.
      break;
    } else if (value == 2) {  // Delta.
      // Pillow 9.4 reads the two offset bytes, then reads two more and takes those as the
      // offsets (later releases read two); its image is the reference, so we read as it does.
      if (pos + 2 > b.size()) break;
      if (pos + 4 > b.size()) fail("RLE delta is cut short");
      const size_t skip = b[pos + 2] + static_cast<size_t>(b[pos + 3]) * w;
      pos += 4;
      data.resize(std::min(total, data.size() + skip), 0);
      x = data.size() % w;
    } else {  // Absolute run.
      size_t bytes = rle4 ? value / 2 : value;
      size_t got = std::min(bytes, b.size() - pos);
      for (size_t i = 0; i < got; ++i) {
        if (rle4) {
          data.push_back(b[pos + i] >> 4);
          data.push_back(b[pos + i] & 15);
        } else {
          data.push_back(b[pos + i]);
        }
      }
      pos += got;
      if (got < bytes) break;
      x += value;
      if (pos % 2 != 0) ++pos;  // Runs are padded to 16-bit words of the file.
    }
  }
  if (data.size() < total) {
    // Pillow 9.4 refuses a bitmap its RLE data does not fill (an end-of-bitmap code or the end of
    // the file before the last pixel): "not enough image data".
    fail("RLE data ends before the bitmap does (" + std::to_string(data.size()) + " of " +
         std::to_string(total) + " pixels)");
  }
  data.resize(total);
  return data;
}

int mask_shift(uint32_t mask) {
  int s = 0;
  while (s < 32 && ((mask >> s) & 1) == 0) ++s;
  return s;
}

// Pixel value -> RGB for 16 and 32-bit images.
struct ChannelMasks {
  uint32_t mask[3];
  int shift[3];
  int max[3];
};

ChannelMasks channel_masks(const Header& h) {
  uint32_t r = h.masks[0], g = h.masks[1], bl = h.masks[2];
  if (h.compression == kRgb) {
    if (h.bits == 16) {
      r = 0x7c00, g = 0x3e0, bl = 0x1f;
    } else {
      r = 0xff0000, g = 0xff00, bl = 0xff;
    }
  }
  ChannelMasks m{};
  const uint32_t masks[3] = {r, g, bl};
  for (int c = 0; c < 3; ++c) {
    m.mask[c] = masks[c];
    m.shift[c] = mask_shift(masks[c]);
    m.max[c] = masks[c] == 0 ? 0 : static_cast<int>(masks[c] >> m.shift[c]);
  }
  const bool ok16 = h.bits == 16 && ((r == 0x7c00 && g == 0x3e0 && bl == 0x1f) ||
                                     (r == 0xf800 && g == 0x7e0 && bl == 0x1f));
  const bool ok32 = h.bits == 32 && m.max[0] == 255 && m.max[1] == 255 && m.max[2] == 255;
  if (!ok16 && !ok32) {
    throw Error(ErrorCode::kUnsupported, "unsupported BMP bit-field layout");
  }
  return m;
}

// The mode Pillow opens a BMP in: a palette of only its own grey levels is dropped ("1" for two
// colours black and white, else "L"); 32 bits with an 0xFF000000 alpha mask are "RGBA".
PilMode mode_of(const Header& h, const std::array<uint8_t, 768>& palette) {
  if (h.bits > 8) {
    const bool alpha = h.bits == 32 &&
                       (h.compression == kBitfields || h.compression == kAlphaBitfields) &&
                       h.masks[3] == 0xFF000000u;
    return alpha ? PilMode::kRgba : PilMode::kRgb;
  }
  const uint32_t colors = h.colors != 0 ? h.colors : (1u << h.bits);
  for (uint32_t i = 0; i < colors && i < 256; ++i) {
    const uint8_t level = colors == 2 ? static_cast<uint8_t>(i * 255) : static_cast<uint8_t>(i);
    if (palette[3 * i] != level || palette[3 * i + 1] != level || palette[3 * i + 2] != level) {
      return PilMode::kP;
    }
  }
  return colors == 2 ? PilMode::k1 : PilMode::kL;
}

}  // namespace

bool is_dib(std::span<const uint8_t> b) {
  if (b.size() < 16) return false;
  const uint32_t size = le32(b, 0);
  return size == 12 || size == 40 || size == 64 || size == 108 || size == 124;
}

Image decode_bmp(std::span<const uint8_t> b, const DecodeLimits& options) {
  const bool dib = b.size() < 2 || b[0] != 'B' || b[1] != 'M';
  if (b.size() < (dib ? 16 : 26)) fail("file is too short");
  Header h = parse_header(b, dib ? 0 : 14);
  const bool rle = h.compression == kRle8 || h.compression == kRle4;
  check_dimensions(h.width, h.height, options, "BMP");
  // Uncompressed pixels must all be in the file. Checking before the canvas is reserved or
  // allocated keeps a 60-byte header that claims 9000x9000 from costing 243 MB (or a place in the
  // decode budget) on its way to failing.
  if (!rle && h.bits > 0) {
    const uint64_t stride = ((static_cast<uint64_t>(h.width) * h.bits + 31) / 32) * 4;
    const uint64_t available = h.pixels_offset > b.size() ? 0 : b.size() - h.pixels_offset;
    if (stride > available / static_cast<uint64_t>(h.height)) fail("pixel data is truncated");
  }
  // The canvas, and an RLE image's palette indices (one byte a pixel).
  const uint64_t pixels = static_cast<uint64_t>(h.width) * static_cast<uint64_t>(h.height);
  reserve_decode_memory(rgb_bytes(h.width, h.height) + (rle ? pixels : 0) +
                            kept_source_bytes(options, PilMode::kRgba, h.width, h.height),
                        h.width, h.height, options, "BMP");
  if (rle &&
      !((h.compression == kRle8 && h.bits == 8) || (h.compression == kRle4 && h.bits == 4))) {
    fail("RLE compression with " + std::to_string(h.bits) + " bits per pixel");
  }
  if (!rle && h.compression != kRgb && h.compression != kBitfields &&
      h.compression != kAlphaBitfields) {
    throw Error(ErrorCode::kUnsupported,
                "unsupported BMP compression " + std::to_string(h.compression));
  }
  if (h.bits != 1 && h.bits != 4 && h.bits != 8 && h.bits != 16 && h.bits != 24 && h.bits != 32) {
    fail("unsupported bit depth " + std::to_string(h.bits));
  }
  const int w = static_cast<int>(h.width), ht = static_cast<int>(h.height);
  Image img = make_rgb_image(w, ht);
  auto out_row = [&](int file_row) {
    int y = h.top_down ? file_row : ht - 1 - file_row;
    return img.rgb.data() + static_cast<size_t>(y) * w * 3;
  };

  if (h.bits <= 8) {
    const auto palette = read_palette(b, h);
    prepare_source(options.source, mode_of(h, palette), w, ht);
    std::vector<uint8_t> rle_indices;
    if (rle) rle_indices = decode_rle(b, h);
    const size_t stride = ((static_cast<size_t>(w) * h.bits + 31) / 32) * 4;
    for (int r = 0; r < ht; ++r) {
      uint8_t* out = out_row(r);
      const size_t row_at = h.pixels_offset + r * stride;
      if (!rle && (row_at > b.size() || stride > b.size() - row_at))
        fail("pixel data is truncated");
      for (int x = 0; x < w; ++x) {
        uint8_t index = 0;
        if (rle) {
          index = rle_indices[static_cast<size_t>(r) * w + x];
        } else {
          const size_t bit = static_cast<size_t>(x) * h.bits;
          const uint8_t byte = b[row_at + bit / 8];
          index = static_cast<uint8_t>((byte >> (8 - h.bits - bit % 8)) & ((1 << h.bits) - 1));
        }
        std::memcpy(out + 3 * x, &palette[3 * index], 3);
      }
    }
    return img;
  }

  prepare_source(options.source, mode_of(h, {}), w, ht);
  const bool keep_alpha = options.source != nullptr && options.source->mode == PilMode::kRgba;
  const int bytes_pp = h.bits / 8;
  const size_t stride = ((static_cast<size_t>(w) * h.bits + 31) / 32) * 4;
  const ChannelMasks m = h.bits == 24 ? ChannelMasks{} : channel_masks(h);
  for (int r = 0; r < ht; ++r) {
    const size_t row_at = h.pixels_offset + r * stride;
    if (row_at > b.size() || stride > b.size() - row_at) fail("pixel data is truncated");
    const uint8_t* in = b.data() + row_at;
    uint8_t* out = out_row(r);
    for (int x = 0; x < w; ++x, in += bytes_pp) {
      if (h.bits == 24) {
        out[3 * x] = in[2], out[3 * x + 1] = in[1], out[3 * x + 2] = in[0];
        continue;
      }
      uint32_t v = in[0] | (in[1] << 8);
      if (h.bits == 32) v |= (uint32_t{in[2]} << 16) | (uint32_t{in[3]} << 24);
      if (keep_alpha) {
        const int y = h.top_down ? r : ht - 1 - r;
        options.source->extra[static_cast<size_t>(y) * w + x] = static_cast<uint8_t>(v >> 24);
      }
      for (int c = 0; c < 3; ++c) {
        // Pillow scales 5 and 6-bit fields with value * 255 / max (integer division).
        uint32_t field = (v & m.mask[c]) >> m.shift[c];
        out[3 * x + c] = static_cast<uint8_t>(field * 255 / static_cast<uint32_t>(m.max[c]));
      }
    }
  }
  return img;
}

}  // namespace clipembed::image
