// PNG through libpng, converted as Pillow opens and converts it:
//  - Pillow checks the CRC of every chunk before the first IDAT (a bad one makes the file
//    unidentifiable) but never the CRC of pixel data, so we check the former ourselves and let
//    libpng ignore CRCs.
//  - 16-bit colour keeps the high byte; 16-bit grey opens as mode "I" and is clipped to 255.
//  - Palette indices beyond the PLTE entries map to Pillow's default grey ramp; tRNS is ignored.
#include <png.h>
#include <zlib.h>

#include <array>
#include <cstring>
#include <exception>
#include <string>

#include "clipembed/error.h"
#include "image/decoders.h"

namespace clipembed::image {
namespace {

uint32_t read_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// Walks the chunks before the first IDAT and verifies their CRCs, as Pillow's PngImageFile._open
// does. Throws kImageDecode on a bad CRC or a chunk running past the end.
void check_header_chunks(std::span<const uint8_t> b) {
  size_t pos = 8;
  while (true) {
    if (pos + 8 > b.size()) throw Error(ErrorCode::kImageDecode, "PNG ends before its image data");
    uint32_t length = read_be32(b.data() + pos);
    const uint8_t* type = b.data() + pos + 4;
    if (std::memcmp(type, "IDAT", 4) == 0) return;
    if (length > b.size() - pos - 12 || pos + 12 + length > b.size()) {
      throw Error(ErrorCode::kImageDecode, "PNG chunk runs past the end of the file");
    }
    uLong crc = crc32(0L, type, 4 + length);
    if (crc != read_be32(type + 4 + length)) {
      throw Error(ErrorCode::kImageDecode,
                  "broken PNG (bad checksum in chunk " + std::string(type, type + 4) + ")");
    }
    if (std::memcmp(type, "IEND", 4) == 0) {
      throw Error(ErrorCode::kImageDecode, "PNG has no image data");
    }
    pos += 12 + length;
  }
}

struct Reader {
  std::span<const uint8_t> bytes;
  size_t pos;
};

void read_callback(png_structp png, png_bytep out, png_size_t n) {
  auto* r = static_cast<Reader*>(png_get_io_ptr(png));
  if (n > r->bytes.size() - r->pos) png_error(png, "PNG data is truncated");
  std::memcpy(out, r->bytes.data() + r->pos, n);
  r->pos += n;
}

struct ErrorState {
  char message[256];
};

// libpng cannot unwind through C++ frames; errors longjmp back to decode_png.
void error_callback(png_structp png, png_const_charp msg) {
  auto* state = static_cast<ErrorState*>(png_get_error_ptr(png));
  std::snprintf(state->message, sizeof state->message, "%s", msg);
  png_longjmp(png, 1);
}

void warning_callback(png_structp, png_const_charp) {}

// Converts one decoded row (after libpng's packing/expansion set up below) to RGB.
void convert_row(const uint8_t* in, int color_type, int bit_depth, int width,
                 const std::array<uint8_t, 768>& palette, uint8_t* out) {
  for (int x = 0; x < width; ++x) {
    uint8_t* o = out + 3 * x;
    switch (color_type) {
      case PNG_COLOR_TYPE_GRAY:
        if (bit_depth == 16) {
          // Mode "I": the 16-bit value clipped to 255, not scaled.
          unsigned v = (unsigned{in[2 * x]} << 8) | in[2 * x + 1];
          o[0] = o[1] = o[2] = static_cast<uint8_t>(v > 255 ? 255 : v);
        } else {
          o[0] = o[1] = o[2] = in[x];
        }
        break;
      case PNG_COLOR_TYPE_GRAY_ALPHA:
        o[0] = o[1] = o[2] = in[2 * x];
        break;
      case PNG_COLOR_TYPE_PALETTE:
        std::memcpy(o, &palette[3 * in[x]], 3);
        break;
      case PNG_COLOR_TYPE_RGB_ALPHA:
        std::memcpy(o, in + 4 * x, 3);
        break;
      default:
        std::memcpy(o, in + 3 * x, 3);
        break;
    }
  }
}

PilMode mode_of(int color_type, int bit_depth) {
  switch (color_type) {
    case PNG_COLOR_TYPE_GRAY:
      return bit_depth == 1 ? PilMode::k1 : bit_depth == 16 ? PilMode::kI : PilMode::kL;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
      return PilMode::kLa;
    case PNG_COLOR_TYPE_PALETTE:
      return PilMode::kP;
    case PNG_COLOR_TYPE_RGB_ALPHA:
      return PilMode::kRgba;
    default:
      return PilMode::kRgb;
  }
}

// Keeps what the RGB row lost (alpha, 16-bit grey samples) for open_clip's preprocessing.
void keep_row(const uint8_t* in, int color_type, int bit_depth, int width, size_t y,
              SourcePixels* source) {
  if (source == nullptr) return;
  const size_t at = y * static_cast<size_t>(width);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth == 16) {
    for (int x = 0; x < width; ++x) {
      source->samples[at + x] = (int32_t{in[2 * x]} << 8) | in[2 * x + 1];
    }
  } else if (color_type == PNG_COLOR_TYPE_GRAY_ALPHA) {
    for (int x = 0; x < width; ++x) source->extra[at + x] = in[2 * x + 1];
  } else if (color_type == PNG_COLOR_TYPE_RGB_ALPHA) {
    for (int x = 0; x < width; ++x) source->extra[at + x] = in[4 * x + 3];
  }
}

}  // namespace

Image decode_png(std::span<const uint8_t> bytes, const DecodeLimits& options) {
  check_header_chunks(bytes);

  ErrorState state{};
  Reader reader{bytes, 0};
  Image img;
  // Interlaced images are decoded whole (libpng needs every row for each pass); others one row
  // at a time straight into the canvas, so only the RGB image and a row are held.
  std::vector<uint8_t> pixels;
  std::vector<png_bytep> rows;
  std::array<uint8_t, 768> palette{};
  std::exception_ptr dimension_error;
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, &state, error_callback, warning_callback);
  if (png == nullptr) throw Error(ErrorCode::kInternal, "libpng initialisation failed");
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    throw Error(ErrorCode::kInternal, "libpng initialisation failed");
  }
  // Only trivially destructible objects are created between here and the last libpng call;
  // the containers above outlive the jump target.
  if (setjmp(png_jmpbuf(png)) != 0) {
    png_destroy_read_struct(&png, &info, nullptr);
    throw Error(ErrorCode::kImageDecode, std::string("invalid PNG: ") + state.message);
  }
  png_set_read_fn(png, &reader, read_callback);
  png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
  png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
  png_read_info(png, info);

  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0, interlace = 0;
  png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, &interlace, nullptr, nullptr);
  try {
    check_dimensions(width, height, options, "PNG");
  } catch (...) {
    dimension_error = std::current_exception();
  }
  if (dimension_error) {
    png_destroy_read_struct(&png, &info, nullptr);
    std::rethrow_exception(dimension_error);
  }

  if (color_type == PNG_COLOR_TYPE_PALETTE) {
    // Pillow's palette starts as a grey ramp and the PLTE entries overwrite its start.
    for (int i = 0; i < 256; ++i) palette[3 * i] = palette[3 * i + 1] = palette[3 * i + 2] = i;
    png_colorp entries = nullptr;
    int count = 0;
    if (png_get_PLTE(png, info, &entries, &count) != 0) {
      for (int i = 0; i < count && i < 256; ++i) {
        palette[3 * i] = entries[i].red;
        palette[3 * i + 1] = entries[i].green;
        palette[3 * i + 2] = entries[i].blue;
      }
    }
    png_set_packing(png);  // One index per byte, unscaled.
  } else if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) {
    png_set_expand_gray_1_2_4_to_8(png);  // Scales to 0..255 as Pillow's "1", "L;2", "L;4" do.
  }
  if (bit_depth == 16 && color_type != PNG_COLOR_TYPE_GRAY) png_set_strip_16(png);  // High byte.
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const size_t rowbytes = png_get_rowbytes(png, info);

  // What is held: the canvas, and the decoded image (interlaced) or a row; libpng keeps two rows
  // of its own (the previous row for filtering, and the current one).
  const uint64_t held = rgb_bytes(width, height) +
                        (passes > 1 ? uint64_t{rowbytes} * height : rowbytes) + 2 * rowbytes +
                        (uint64_t{width} * 8 + 64) +
                        kept_source_bytes(options, mode_of(color_type, bit_depth), width, height);
  try {
    reserve_decode_memory(held, width, height, options, "PNG");
    prepare_source(options.source, mode_of(color_type, bit_depth), static_cast<int>(width),
                   static_cast<int>(height));
    img = make_rgb_image(static_cast<int>(width), static_cast<int>(height));
    if (passes > 1) {
      pixels.resize(rowbytes * height);
      rows.resize(height);
      for (png_uint_32 y = 0; y < height; ++y) rows[y] = pixels.data() + y * rowbytes;
    } else {
      pixels.resize(rowbytes);
    }
  } catch (...) {
    dimension_error = std::current_exception();
  }
  if (dimension_error) {
    png_destroy_read_struct(&png, &info, nullptr);
    std::rethrow_exception(dimension_error);
  }
  const size_t stride = static_cast<size_t>(width) * 3;
  if (passes > 1) {
    png_read_image(png, rows.data());
  } else {
    for (png_uint_32 y = 0; y < height; ++y) {
      png_read_row(png, pixels.data(), nullptr);
      convert_row(pixels.data(), color_type, bit_depth, img.width, palette,
                  img.rgb.data() + y * stride);
      keep_row(pixels.data(), color_type, bit_depth, img.width, y, options.source);
    }
  }
  png_destroy_read_struct(&png, &info, nullptr);
  if (passes > 1) {
    for (png_uint_32 y = 0; y < height; ++y) {
      convert_row(rows[y], color_type, bit_depth, img.width, palette, img.rgb.data() + y * stride);
      keep_row(rows[y], color_type, bit_depth, img.width, y, options.source);
    }
  }
  return img;
}

}  // namespace clipembed::image
