// Internal: the one input loader. Every image input (clipembed/input.h) is read, fetched or
// decoded here, under one InputLimits, by the model, the pool, the CLI and the server.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "clipembed/error.h"
#include "clipembed/image.h"
#include "clipembed/input.h"
#include "image/decoders.h"

namespace clipembed::image {

// Reads and decodes any input. A URL is downloaded on the I/O thread while the caller waits (a
// runtime thread helps the runtime meanwhile). With `memory`, the decode reserves what it holds
// from it first (DecodeMemory). With `source`, what the RGB canvas loses of the image as Pillow
// opened it is kept there (open_clip's preprocessing needs it). Errors name the input; throws
// Error.
Image load_image(const ImageInput& input, const InputLimits& limits, DecodeMemory* memory = nullptr,
                 SourcePixels* source = nullptr);

// The asynchronous half of a URL input, for callers that must not wait (the pool): downloads on
// the I/O thread and calls `done` there exactly once with the body or the error. Returns the
// download's id for cancel_fetch().
uint64_t fetch_url(const std::string& url, const UrlLimits& limits,
                   std::function<void(std::vector<uint8_t>* body, const Error* error)> done);

// Stops the download fetch_url() returned `id` for, if it still runs (0 and finished ids are
// ignored); its `done` then runs with kCancelled, on the I/O thread.
void cancel_fetch(uint64_t id);

// True when `text` is plain base64 whose first bytes are a known image format's signature (JPEG,
// PNG, WebP, GIF, BMP): how the server tells an image sent as base64 from a text. Decodes only
// the first few characters.
bool is_base64_image(std::string_view text);

// Decodes the bytes downloaded for a URL input, naming the URL in errors.
Image decode_downloaded(const std::string& url, std::span<const uint8_t> bytes,
                        const InputLimits& limits, DecodeMemory* memory = nullptr,
                        SourcePixels* source = nullptr);

}  // namespace clipembed::image
