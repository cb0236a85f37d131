// Internal: open_clip's order of preprocessing steps (PreprocessStyle::kOpenClip): Pillow's
// Image.resize on the image in the mode it was opened in, the centre crop, then convert("RGB").
#pragma once

#include "clipembed/preprocess.h"
#include "image/decoders.h"

namespace clipembed::image {

// The crop of `rgb` (a decoder's RGB canvas) with `source` (what the decoder kept of the image as
// opened) resized as Pillow resizes that mode. Byte-identical to open_clip's crop before ToTensor.
Image resize_and_crop_as_opened(const Image& rgb, const SourcePixels& source,
                                const PreprocessConfig& config);

}  // namespace clipembed::image
