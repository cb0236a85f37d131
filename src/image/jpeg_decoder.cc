// JPEG through libjpeg-turbo with the settings Pillow uses: the library defaults (ISLOW IDCT,
// fancy upsampling), grayscale replicated to RGB, CMYK/YCCK read as inverted ("Adobe") CMYK and
// converted with Pillow's integer formula. A truncated stream is an error, as in Pillow.
#include <csetjmp>
#include <cstdio>
#include <cstring>
// jpeglib.h needs size_t and FILE declared first.
#include <jerror.h>
#include <jpeglib.h>

#include <string>

#include "clipembed/error.h"
#include "image/decoders.h"

namespace clipembed::image {
namespace {

struct ErrorManager {
  jpeg_error_mgr pub;  // Must be first: libjpeg hands us a pointer to it.
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool truncated;
};

// libjpeg cannot unwind through C++ frames, so errors longjmp back to decode_jpeg, whose frame
// holds only objects with trivial destructors between setjmp and the jump.
[[noreturn]] void on_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Warnings are ignored as Pillow ignores them, except premature end of data: Pillow refuses a
// truncated JPEG ("image file is truncated") where libjpeg would pad it with grey.
void on_message(j_common_ptr cinfo, int level) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) err->truncated = true;
}

void convert_row(const uint8_t* in, int components, int width, uint8_t* out) {
  if (components == 1) {
    for (int x = 0; x < width; ++x) out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = in[x];
  } else if (components == 4) {
    // Pillow opens every 4-component JPEG with rawmode "CMYK;I" (Adobe convention: inverted).
    for (int x = 0; x < width; ++x) {
      const uint8_t* p = in + 4 * x;
      int k = 255 - p[3];
      out[3 * x + 0] = cmyk_channel(255 - p[0], k);
      out[3 * x + 1] = cmyk_channel(255 - p[1], k);
      out[3 * x + 2] = cmyk_channel(255 - p[2], k);
    }
  }
}

// Everything libjpeg and this decoder hold for an image: the RGB canvas, one output row, and
// libjpeg's own buffers. A progressive (or otherwise multi-scan) file keeps every DCT coefficient
// of the image until its last scan (two bytes each, in blocks rounded up to whole MCUs, as
// jdcoefct.c allocates them); a baseline file only a few MCU rows, bounded here by 64 rows of
// every component.
uint64_t decoder_bytes(const jpeg_decompress_struct& cinfo, int components) {
  const uint64_t w = cinfo.image_width;
  uint64_t bytes = rgb_bytes(cinfo.image_width, cinfo.image_height) + w * components +
                   64 * w * static_cast<uint64_t>(cinfo.num_components);
  if (jpeg_has_multiple_scans(const_cast<jpeg_decompress_struct*>(&cinfo))) {
    for (int c = 0; c < cinfo.num_components; ++c) {
      const jpeg_component_info& comp = cinfo.comp_info[c];
      const auto round_up = [](uint64_t n, uint64_t m) { return (n + m - 1) / m * m; };
      bytes += round_up(comp.width_in_blocks, comp.h_samp_factor) *
               round_up(comp.height_in_blocks, comp.v_samp_factor) * sizeof(JBLOCK);
    }
  }
  return bytes;
}

// Keeps row `y` of a CMYK image as Pillow holds it (un-inverted) for open_clip's preprocessing.
void keep_cmyk_row(const uint8_t* in, int components, int width, JDIMENSION y,
                   SourcePixels* source) {
  if (source == nullptr || components != 4) return;
  uint8_t* out = source->extra.data() + static_cast<size_t>(y) * width * 4;
  for (int i = 0; i < width * 4; ++i) out[i] = static_cast<uint8_t>(255 - in[i]);
}

}  // namespace

Image decode_jpeg(std::span<const uint8_t> bytes, const DecodeLimits& options) {
  jpeg_decompress_struct cinfo{};
  ErrorManager err{};
  Image img;
  std::vector<uint8_t> row;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error_exit;
  err.pub.emit_message = on_message;

  // Objects that must survive a longjmp are declared above; nothing below owns resources
  // except `cinfo`, which jpeg_destroy_decompress releases on both paths.
  if (setjmp(err.jump) != 0) {
    jpeg_destroy_decompress(&cinfo);
    throw Error(ErrorCode::kImageDecode, std::string("invalid JPEG: ") + err.message);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);

  int components = 0;
  switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
      cinfo.out_color_space = JCS_GRAYSCALE;
      components = 1;
      break;
    case JCS_CMYK:
    case JCS_YCCK:
      cinfo.out_color_space = JCS_CMYK;
      components = 4;
      break;
    case JCS_RGB:
    case JCS_YCbCr:
      cinfo.out_color_space = JCS_RGB;
      components = 3;
      break;
    default:
      jpeg_destroy_decompress(&cinfo);
      throw Error(ErrorCode::kUnsupported, "JPEG with an unsupported colour space");
  }
  try {
    check_dimensions(cinfo.image_width, cinfo.image_height, options, "JPEG");
    const PilMode mode = components == 1   ? PilMode::kL
                         : components == 4 ? PilMode::kCmyk
                                           : PilMode::kRgb;
    reserve_decode_memory(
        decoder_bytes(cinfo, components) +
            kept_source_bytes(options, mode, cinfo.image_width, cinfo.image_height),
        cinfo.image_width, cinfo.image_height, options, "JPEG");
    prepare_source(options.source, mode, static_cast<int>(cinfo.image_width),
                   static_cast<int>(cinfo.image_height));
    row.resize(static_cast<size_t>(cinfo.image_width) * components);
  } catch (...) {
    jpeg_destroy_decompress(&cinfo);
    throw;
  }

  // The first row is decoded before the canvas is allocated: a header with no scan data behind
  // it (a few bytes claiming 9000x9000) then fails without touching hundreds of megabytes.
  jpeg_start_decompress(&cinfo);
  JSAMPROW first = row.data();
  if (!err.truncated) jpeg_read_scanlines(&cinfo, &first, 1);
  if (err.truncated) {
    jpeg_destroy_decompress(&cinfo);
    throw Error(ErrorCode::kImageDecode, "JPEG data is truncated");
  }
  try {
    img = make_rgb_image(static_cast<int>(cinfo.image_width), static_cast<int>(cinfo.image_height));
  } catch (...) {
    jpeg_destroy_decompress(&cinfo);
    throw;
  }
  const size_t stride = static_cast<size_t>(img.width) * 3;
  if (components == 3) {
    std::memcpy(img.rgb.data(), row.data(), stride);
  } else {
    convert_row(row.data(), components, img.width, img.rgb.data());
    keep_cmyk_row(row.data(), components, img.width, 0, options.source);
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    const JDIMENSION y = cinfo.output_scanline;
    uint8_t* dst = img.rgb.data() + static_cast<size_t>(y) * stride;
    JSAMPROW target = components == 3 ? dst : row.data();
    jpeg_read_scanlines(&cinfo, &target, 1);
    if (components != 3) {
      convert_row(row.data(), components, img.width, dst);
      keep_cmyk_row(row.data(), components, img.width, y, options.source);
    }
    if (err.truncated) break;
  }
  if (!err.truncated) jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  if (err.truncated) throw Error(ErrorCode::kImageDecode, "JPEG data is truncated");
  return img;
}

}  // namespace clipembed::image
