// PNG output for `clipembed preprocess`, through libpng's simplified write API.
#include <png.h>

#include "clipembed/error.h"
#include "clipembed/image.h"

namespace clipembed {

void write_png_file(const Image& image, const std::string& path) {
  png_image out{};
  out.version = PNG_IMAGE_VERSION;
  out.width = static_cast<png_uint_32>(image.width);
  out.height = static_cast<png_uint_32>(image.height);
  out.format = PNG_FORMAT_RGB;
  if (png_image_write_to_file(&out, path.c_str(), 0, image.rgb.data(), image.width * 3, nullptr) ==
      0) {
    throw Error(ErrorCode::kIo, "cannot write PNG " + path + ": " + out.message);
  }
}

}  // namespace clipembed
