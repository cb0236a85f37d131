// GIF, first frame, through giflib. Pillow opens the first frame in mode "P" on a canvas of the
// logical screen size, filled with the transparent index if there is one (else index 0), and
// convert("RGB") looks each index up in the frame's palette (local, else global, else grey).
#include <gif_lib.h>

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

[[noreturn]] void throw_gif(const GifFileType* gif) {
  throw Error(ErrorCode::kImageDecode,
              std::string("invalid or truncated GIF: ") + GifErrorString(gif->Error));
}

// Reads records up to the first image descriptor, returning the transparent index from the
// graphic control extension that precedes it (or -1). Throws when the file has no image.
int read_up_to_first_image(GifFileType* gif) {
  int transparent = -1;
  while (true) {
    GifRecordType type = UNDEFINED_RECORD_TYPE;
    if (DGifGetRecordType(gif, &type) != GIF_OK) throw_gif(gif);
    if (type == IMAGE_DESC_RECORD_TYPE) {
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
    throw Error(ErrorCode::kImageDecode, std::string("invalid GIF: ") + GifErrorString(error));
  }
  GifFileType* gif = handle.gif;
  check_dimensions(gif->SWidth, gif->SHeight, options, "GIF");
  int transparent = read_up_to_first_image(gif);
  const GifImageDesc& desc = gif->Image;
  check_dimensions(desc.Width, desc.Height, options, "GIF");
  // The canvas, and the frame's palette indices (one byte a pixel).
  reserve_decode_memory(rgb_bytes(gif->SWidth, gif->SHeight) +
                            static_cast<uint64_t>(desc.Width) * static_cast<uint64_t>(desc.Height),
                        gif->SWidth, gif->SHeight, options, "GIF");
  const ColorMapObject* map = desc.ColorMap != nullptr ? desc.ColorMap : gif->SColorMap;

  std::array<uint8_t, 768> palette{};
  for (int i = 0; i < 256; ++i) palette[3 * i] = palette[3 * i + 1] = palette[3 * i + 2] = i;
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

  Image img = make_rgb_image(gif->SWidth, gif->SHeight);
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
