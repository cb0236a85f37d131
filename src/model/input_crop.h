// Internal: the one path from an input to the crop the network sees (read or download, decode,
// resize, crop), for the model's stream (embed_stream.cc) and the pool's requests alike.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "clipembed/input.h"
#include "clipembed/model.h"
#include "image/decoders.h"

namespace clipembed::model {

// Reads `input` under the model's input limits (a URL is downloaded while the caller waits),
// decodes it (reserving its memory from `memory`, if any) and makes the model's crop. Throws
// Error naming the input.
Image crop_of(const ClipModel& model, const ImageInput& input,
              image::DecodeMemory* memory = nullptr);

// The same for the bytes downloaded for a URL input (errors name the URL).
Image crop_of_download(const ClipModel& model, const std::string& url,
                       std::span<const uint8_t> bytes, image::DecodeMemory* memory = nullptr);

}  // namespace clipembed::model
