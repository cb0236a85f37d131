// GIF, first frame, through giflib. Pillow opens the first frame in mode "P" on a canvas of the
// logical screen size, grown to hold the frame when it reaches past the screen (Pillow 6.1+),
// filled with the transparent index if there is one (else index 0), and convert("RGB") looks each
// index up in the frame's palette (local, else global, else grey). giflib decodes LZW codes of at
// most 8 bits; a frame that declares a larger minimum code size is refused, naming it.
#include <gif_lib.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "clipembed/error.h"
#include "image/decoders.h"

namespace clipembed::image {
namespace {

struct Reader {
  std::span<const uint8_t> bytes;
  size_t pos;
};

int read_callback(GifFileType* gif, GifByteType* out, int n) {
  auto* r = static_cast<Reader*>(gif->UserData);
  size_t take = std::min(static_cast<size_t>(n < 0 ? 0 : n), r->bytes.size() - r->pos);
  std::memcpy(out, r->bytes.data() + r->pos, take);
  r->pos += take;
  return static_cast<int>(take);
}

// Closes the giflib handle on every path out of decode_gif.
struct GifCloser {
  GifFileType* gif;
  ~GifCloser() {
    int ignored = 0;
    if (gif != nullptr) DGifCloseFile(gif, &ignored);
  }
};

// giflib's words for an error code (it has none for some codes, e.g. a failure that set none).
std::string gif_error_text(int code) {
  const char* text = GifErrorString(code);
  return text != nullptr ? text : "giflib error " + std::to_string(code);
}

[[noreturn]] void throw_gif(const GifFileType* gif) {
  throw Error(ErrorCode::kImageDecode, "invalid or truncated GIF: " + gif_error_text(gif->Error));
}

// giflib decodes LZW codes of at most 8 bits and fails a larger minimum code size with a read
// error; this names it. `at` is the image descriptor's first byte after its ',' separator: the
// code size follows the 9-byte descriptor and the local palette.
void check_lzw_code_size(const Reader& reader, size_t at) {
  const std::span<const uint8_t> b = reader.bytes;
  if (at + 9 > b.size()) return;  // giflib reports the truncation.
  const uint8_t flags = b[at + 8];
  const size_t code_size_at = at + 9 + ((flags & 0x80) != 0 ? size_t{3} << ((flags & 7) + 1) : 0);
  if (code_size_at < b.size() && b[code_size_at] > 8) {
    throw Error(ErrorCode::kImageDecode,
                "GIF frame with LZW code size " + std::to_string(b[code_size_at]) +
                    " (above 8: giflib decodes none such) is not supported");
  }
}

// Reads records up to the first image descriptor, returning the transparent index from the
// graphic control extension that precedes it (or -1). Throws when the file has no image.
int read_up_to_first_image(GifFileType* gif, const Reader& reader) {
  int transparent = -1;
  while (true) {
    GifRecordType type = UNDEFINED_RECORD_TYPE;
    if (DGifGetRecordType(gif, &type) != GIF_OK) throw_gif(gif);
    if (type == IMAGE_DESC_RECORD_TYPE) {
      check_lzw_code_size(reader, reader.pos);
      if (DGifGetImageDesc(gif) != GIF_OK) throw_gif(gif);
      return transparent;
    }
    if (type == EXTENSION_RECORD_TYPE) {
      int code = 0;
      GifByteType* block = nullptr;
      if (DGifGetExtension(gif, &code, &block) != GIF_OK) throw_gif(gif);
      // In the low-level API block[0] is the length of the data that follows it.
      if (code == GRAPHICS_EXT_FUNC_CODE && block != nullptr && block[0] >= 4) {
        transparent = (block[1] & 1) ? block[4] : -1;
      }
      while (block != nullptr) {
        if (DGifGetExtensionNext(gif, &block) != GIF_OK) throw_gif(gif);
      }
      continue;
    }
    throw Error(ErrorCode::kImageDecode, "GIF contains no image");
  }
}

}  // namespace

Image decode_gif(std::span<const uint8_t> bytes, const DecodeLimits& options) {
  Reader reader{bytes, 0};
  int error = 0;
  GifCloser handle{DGifOpen(&reader, read_callback, &error)};
  if (handle.gif == nullptr) {
    throw Error(ErrorCode::kImageDecode, "invalid GIF: " + gif_error_text(error));
  }
  GifFileType* gif = handle.gif;
  check_dimensions(gif->SWidth, gif->SHeight, options, "GIF");
  int transparent = read_up_to_first_image(gif, reader);
  const GifImageDesc& desc = gif->Image;
  check_dimensions(desc.Width, desc.Height, options, "GIF");
  const int canvas_width = std::max(gif->SWidth, desc.Left + desc.Width);
  const int canvas_height = std::max(gif->SHeight, desc.Top + desc.Height);
  check_dimensions(canvas_width, canvas_height, options, "GIF");
  // The canvas, and the frame's palette indices (one byte a pixel).
  reserve_decode_memory(rgb_bytes(canvas_width, canvas_height) +
                            static_cast<uint64_t>(desc.Width) * static_cast<uint64_t>(desc.Height),
                        canvas_width, canvas_height, options, "GIF");
  const ColorMapObject* map = desc.ColorMap != nullptr ? desc.ColorMap : gif->SColorMap;

  std::array<uint8_t, 768> palette{};
  for (int i = 0; i < 256; ++i) palette[3 * i] = palette[3 * i + 1] = palette[3 * i + 2] = i;
  // Pillow opens the frame as "L" when its palette is absent or only the grey ramp itself.
  bool grey_ramp = true;
  if (map != nullptr) {
    for (int i = 0; i < map->ColorCount && i < 256; ++i) {
      const GifColorType& c = map->Colors[i];
      grey_ramp = grey_ramp && c.Red == i && c.Green == i && c.Blue == i;
    }
  }
  prepare_source(options.source, grey_ramp ? PilMode::kL : PilMode::kP, canvas_width,
                 canvas_height);
  if (map != nullptr) {
    for (int i = 0; i < map->ColorCount && i < 256; ++i) {
      palette[3 * i] = map->Colors[i].Red;
      palette[3 * i + 1] = map->Colors[i].Green;
      palette[3 * i + 2] = map->Colors[i].Blue;
    }
  }

  // Frame rows in file order; interlaced frames store rows in four passes.
  std::vector<int> row_order;
  row_order.reserve(desc.Height);
  if (desc.Interlace) {
    const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
    for (int pass = 0; pass < 4; ++pass) {
      for (int y = start[pass]; y < desc.Height; y += step[pass]) row_order.push_back(y);
    }
  } else {
    for (int y = 0; y < desc.Height; ++y) row_order.push_back(y);
  }
  std::vector<GifPixelType> indices(static_cast<size_t>(desc.Width) * desc.Height);
  for (int y : row_order) {
    if (DGifGetLine(gif, &indices[static_cast<size_t>(y) * desc.Width], desc.Width) != GIF_OK) {
      throw_gif(gif);
    }
  }

  Image img = make_rgb_image(canvas_width, canvas_height);
  const int fill = transparent >= 0 ? transparent : 0;
  for (size_t i = 0; i < img.rgb.size(); i += 3) std::memcpy(&img.rgb[i], &palette[3 * fill], 3);
  for (int y = 0; y < desc.Height; ++y) {
    int cy = desc.Top + y;
    if (cy < 0 || cy >= img.height) continue;
    for (int x = 0; x < desc.Width; ++x) {
      int cx = desc.Left + x;
      if (cx < 0 || cx >= img.width) continue;
      uint8_t index = indices[static_cast<size_t>(y) * desc.Width + x];
      std::memcpy(&img.rgb[(static_cast<size_t>(cy) * img.width + cx) * 3], &palette[3 * index], 3);
    }
  }
  return img;
}

}  // namespace clipembed::image
