#include "service/inputs.h"

#include "clipembed/error.h"
#include "image/image_loader.h"
#include "io/base64.h"

namespace clipembed::service {
namespace {

constexpr const char* kImageForms =
    "an http(s) URL, a data: URI or base64 of a JPEG, PNG, WebP, GIF or BMP file";

Error with_where(const std::string& where, ErrorCode code, const std::string& message) {
  return Error(code, where.empty() ? message : where + ": " + message);
}

ImageInput decoded(std::string_view text, size_t max_bytes, const std::string& where) {
  try {
    return ImageInput::bytes(io::decode_base64(text, max_bytes));
  } catch (const Error& e) {
    throw with_where(where, e.code(), e.what());
  }
}

}  // namespace

InputForm input_form(std::string_view text) {
  if (is_url(text)) return InputForm::kUrl;
  if (text.substr(0, 5) == "data:") return InputForm::kDataUri;
  if (image::is_base64_image(text)) return InputForm::kBase64Image;
  return InputForm::kOther;
}

EmbedInput interpret_input(std::string text, const InputRule& rule, const ModelCapabilities& model,
                           const std::string& where) {
  const InputForm form = input_form(text);
  const bool local = rule.origin == InputOrigin::kLocal;
  const bool is_text = rule.modality == Modality::kText ||
                       (rule.modality == Modality::kAuto && !local && form == InputForm::kOther);
  if (is_text) {
    if (!model.texts) {
      throw with_where(where, ErrorCode::kUnsupportedModality,
                       (rule.modality == Modality::kText
                            ? std::string("a text")
                            : std::string("taken for a text (it is not ") + kImageForms + ")") +
                           ", but the model has no text tower");
    }
    if (text.size() > rule.max_text_bytes) {
      throw with_where(where, ErrorCode::kTextTooLarge,
                       "a text of " + std::to_string(text.size()) + " bytes; the limit is " +
                           std::to_string(rule.max_text_bytes));
    }
    return EmbedInput::text(std::move(text));
  }
  if (form == InputForm::kOther && !local) {
    throw with_where(where, ErrorCode::kNotAnImage,
                     std::string("not an image: expected ") + kImageForms);
  }
  if (!model.images) {
    throw with_where(where, ErrorCode::kUnsupportedModality,
                     "an image, but the model has no vision tower");
  }
  switch (form) {
    case InputForm::kUrl:
      if (!rule.allow_urls) {
        throw with_where(where, ErrorCode::kUrlInputsDisabled, "URL inputs are disabled here");
      }
      return EmbedInput::image(ImageInput::url(std::move(text)));
    case InputForm::kDataUri:
    case InputForm::kBase64Image:
      return EmbedInput::image(decoded(text, rule.max_base64_bytes, where));
    case InputForm::kOther:
      break;
  }
  return EmbedInput::image(ImageInput::file(std::move(text)));
}

ImageInput local_image(std::string text, size_t max_base64_bytes) {
  switch (input_form(text)) {
    case InputForm::kUrl:
      return ImageInput::url(std::move(text));
    case InputForm::kDataUri:
      return decoded(text, max_base64_bytes, "");
    case InputForm::kBase64Image:
    case InputForm::kOther:
      break;
  }
  return ImageInput::file(std::move(text));
}

}  // namespace clipembed::service
