// Internal: the one rule for what an input string is, for every front end: the HTTP API (a
// request's strings), the CLI (its arguments and lists) and Python (str items). Each decision is
// made once, here; base64 is decoded once, here, and the bytes go on to the decoder.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "clipembed/embedder.h"
#include "clipembed/input.h"
#include "clipembed/model.h"

namespace clipembed::service {

// What a string is, by its form.
enum class InputForm {
  kUrl,          // http:// or https://
  kDataUri,      // data:...
  kBase64Image,  // Plain base64 whose first bytes are a known image format's signature.
  kOther,        // Anything else: a text (network origin) or a file path (local origin).
};
InputForm input_form(std::string_view text);

// What a request says its strings are ("modality"): decided per string, or all one kind.
enum class Modality { kAuto, kImage, kText };

// Where strings come from decides what they may be. A request on the network never names a file
// on this machine: its strings are images (URL, data URI, base64) or texts. A command line or a
// Python call names files: its strings are images (URL, data URI, or else a path).
enum class InputOrigin { kNetwork, kLocal };

struct InputRule {
  InputOrigin origin = InputOrigin::kNetwork;
  Modality modality = Modality::kAuto;
  bool allow_urls = true;
  size_t max_text_bytes = SIZE_MAX;
  size_t max_base64_bytes = InputLimits{}.max_base64_bytes;
};

// The input a string is under `rule` for a model that can do `model`: an image URL, the decoded
// bytes of a data: URI or base64, a file path (local origin), or a text. Throws Error prefixed
// with `where` (e.g. "input[3]"): kNotAnImage, kUnsupportedModality (saying why a string was
// taken for a text), kUrlInputsDisabled, kInvalidBase64, kTextTooLarge.
EmbedInput interpret_input(std::string text, const InputRule& rule, const ModelCapabilities& model,
                           const std::string& where);

// An image input from a local string (a CLI argument or list line, a Python str): a URL, a data:
// URI (decoded now), else a file path. Throws kInvalidBase64 for a malformed data: URI.
ImageInput local_image(std::string text, size_t max_base64_bytes = InputLimits{}.max_base64_bytes);

}  // namespace clipembed::service
