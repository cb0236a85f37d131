// ApiHandler's embedding routes: /v1/embeddings, /embed, /v1/classify and /v1/search. Each submits
// its inputs to the pool and answers from the callbacks: no thread waits for a model.
#include <algorithm>
#include <mutex>

#include "clipembed/input.h"
#include "io/base64.h"
#include "server/api_error.h"
#include "server/api_handler.h"
#include "server/embeddings_api.h"

namespace clipembed::server {
namespace {

// The results of one request's inputs as they arrive. The last success answers with every
// vector; the first failure answers at once and cancels the others (their queue places and
// downloads are given up). Exactly one of the two happens.
class Gather : public std::enable_shared_from_this<Gather> {
 public:
  using Done = std::function<void(const ApiError* error, const std::vector<Embedding>& vectors,
                                  const EmbedTiming& timing)>;

  Gather(size_t count, std::shared_ptr<Cancellation> cancellation, bool single, Done done)
      : vectors_(count),
        remaining_(count),
        single_(single),
        cancellation_(std::move(cancellation)),
        done_(std::move(done)) {}

  // The callback of the group's inputs.
  InputCallback callback() {
    return [self = shared_from_this()](size_t i, Embedding* e, const Error* error,
                                       const EmbedTiming& timing) {
      self->arrive(i, e, error, timing);
    };
  }

 private:
  void arrive(size_t i, Embedding* e, const Error* error, const EmbedTiming& timing) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (answered_) return;
    // The request waited as long as its slowest input did (TEI's x-queue-time-ms and
    // x-compute-time-ms), so the headers report the maxima.
    timing_.queue_seconds = std::max(timing_.queue_seconds, timing.queue_seconds);
    timing_.compute_seconds = std::max(timing_.compute_seconds, timing.compute_seconds);
    if (error != nullptr) {
      answered_ = true;
      lock.unlock();
      cancellation_->cancel();
      const ApiError api =
          api_error_for(*error, single_ ? "input" : "input[" + std::to_string(i) + "]");
      done_(&api, {}, timing_);
      return;
    }
    vectors_[i] = std::move(*e);
    if (--remaining_ > 0) return;
    answered_ = true;
    lock.unlock();
    try {
      done_(nullptr, vectors_, timing_);
    } catch (const std::exception&) {
      // Building the answer failed (memory short for a large response): the client still gets
      // one. This runs on a pool thread, where nothing else would catch it.
      const ApiError error = api_error_for(
          Error(ErrorCode::kMemoryExhausted, "not enough memory to build the answer now"), "");
      done_(&error, {}, timing_);
    }
  }

  mutable std::mutex mutex_;
  std::vector<Embedding> vectors_;
  size_t remaining_;
  bool answered_ = false;
  const bool single_;
  EmbedTiming timing_;
  const std::shared_ptr<Cancellation> cancellation_;
  const Done done_;
};

// Malformed base64 in an image input is refused before anything is queued, like the other
// up-front checks: otherwise, in a request with several bad inputs, which one the answer names
// would depend on which one's decoding failed first.
void check_base64_image(const std::string& input, InputForm form, const std::string& where) {
  if (form == InputForm::kUrl) return;
  try {
    io::check_base64(input);
  } catch (const Error& e) {
    throw api_error_for(e, where);
  }
}

// A request's image inputs are URLs, data URIs or base64, never paths on this machine.
EmbedInput request_image(std::string input) {
  return EmbedInput::image(is_url(input) ? ImageInput::url(std::move(input))
                                         : ImageInput::base64(std::move(input)));
}

void check_text_size(const std::string& text, size_t limit, const std::string& where) {
  if (text.size() > limit) {
    throw ApiError{413, "invalid_request_error", "text_too_large",
                   where + " has " + std::to_string(text.size()) + " bytes; the limit is " +
                       std::to_string(limit) + " (--max-text-bytes)",
                   0};
  }
}

std::string millis(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", seconds * 1000);
  return buf;
}

HttpResponse ok_json(std::string body, const EmbedTiming& timing) {
  HttpResponse response(http::status::ok, 11);
  response.set(http::field::content_type, "application/json");
  response.set("x-queue-time-ms", millis(timing.queue_seconds));
  response.set("x-compute-time-ms", millis(timing.compute_seconds));
  response.body() = std::move(body);
  return response;
}

// The value of one query parameter (percent-decoded), or "".
std::string query_param(std::string_view target, std::string_view name) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return "";
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    const std::string_view raw = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    auto hex = [](char c) {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    std::string value;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '%' && i + 2 < raw.size() && hex(raw[i + 1]) >= 0 && hex(raw[i + 2]) >= 0) {
        value += static_cast<char>(hex(raw[i + 1]) * 16 + hex(raw[i + 2]));
        i += 2;
      } else {
        value += raw[i] == '+' ? ' ' : raw[i];
      }
    }
    return value;
  }
  return "";
}

}  // namespace

void ApiHandler::submit(const std::string& model, std::vector<EmbedInput> inputs,
                        const EmbedOptions& options, InputCallback done,
                        const std::shared_ptr<Call>& call) {
  const size_t queue = options_.pool.max_queued_inputs;
  if (inputs.size() > queue) {
    throw ApiError{413, "invalid_request_error", "request_too_large",
                   "the request has " + std::to_string(inputs.size()) +
                       " inputs, more than the queue of " + std::to_string(queue) +
                       " inputs can ever admit; split it, or raise --max-queue",
                   0};
  }
  pool_.embedder(model)->submit(std::move(inputs), options, std::move(done), call->cancellation);
}

void ApiHandler::embeddings(const std::shared_ptr<Call>& call) {
  EmbeddingsRequest request = parse_embeddings_request(call->request.body(), options_.max_items);
  call->request.body().clear();  // The inputs now hold their bytes; the body is not needed.
  call->request.body().shrink_to_fit();
  const ServedModel served = serving(request.model);
  call->record.model = served.name;
  call->record.items = request.inputs.size();
  const std::shared_ptr<const ClipModel> model = pool_.model(served.name);
  if (request.dimensions && *request.dimensions != model->dimension()) {
    throw ApiError{400, "invalid_request_error", "unsupported_dimensions",
                   "'dimensions' must be " + std::to_string(model->dimension()) + " for model '" +
                       served.name +
                       "': CLIP embeddings are not trained to be truncated (leave it out)",
                   0};
  }
  // Each input's modality, decided before any is queued, so that a bad one costs nothing.
  std::vector<bool> is_text(request.inputs.size());
  for (size_t i = 0; i < request.inputs.size(); ++i) {
    const std::string where = "input[" + std::to_string(i) + "]";
    const InputForm form = input_form(request.inputs[i]);
    bool text = request.modality == Modality::kText ||
                (request.modality == Modality::kAuto && form == InputForm::kText);
    if (request.modality == Modality::kImage && form == InputForm::kText) {
      throw bad_request(where +
                            ": not an image: expected an http(s) URL, a data: URI or base64 of " +
                            "a JPEG, PNG, WebP, GIF or BMP file",
                        "not_an_image");
    }
    if (text && !model->has_text()) {
      // A text for a vision-only model (issue 12's unsupported_modality); when it was only taken
      // for a text, the message says why and what an image must look like.
      throw bad_request(
          where +
              (request.modality == Modality::kText
                   ? ": a text"
                   : ": taken for a text (it is not an http(s) URL, a data: URI or base64 of a "
                     "JPEG, PNG, WebP, GIF or BMP file)") +
              ", but model '" + served.name + "' has no text tower",
          "unsupported_modality");
    }
    if (!text && !model->has_vision()) {
      throw bad_request(where + ": an image, but model '" + served.name + "' has no vision tower",
                        "unsupported_modality");
    }
    if (text) check_text_size(request.inputs[i], options_.max_text_bytes, where + ": a text");
    if (!text && form == InputForm::kUrl && !options_.allow_url_inputs) {
      throw bad_request(where + ": URL inputs are disabled on this server", "url_inputs_disabled");
    }
    if (!text) check_base64_image(request.inputs[i], form, where);
    is_text[i] = text;
  }
  const bool base64 = request.base64_output;
  const EmbedOptions embed{.normalize = request.normalize.value_or(options_.normalize)};
  auto gather = std::make_shared<Gather>(
      request.inputs.size(), call->cancellation, false,
      [this, call, base64, name = served.name](
          const ApiError* error, const std::vector<Embedding>& v, const EmbedTiming& timing) {
        if (error != nullptr) return reply_error(call, *error);
        reply(call, ok_json(embeddings_response(name, v, base64), timing));
      });
  std::vector<EmbedInput> group;
  group.reserve(request.inputs.size());
  for (size_t i = 0; i < request.inputs.size(); ++i) {
    group.push_back(is_text[i] ? EmbedInput::text(std::move(request.inputs[i]))
                               : request_image(std::move(request.inputs[i])));
  }
  submit(served.name, std::move(group), embed, gather->callback(), call);
}

void ApiHandler::raw_image(const std::shared_ptr<Call>& call) {
  const std::string_view target = call->request.target();
  const ServedModel served = serving(query_param(target, "model"));
  call->record.model = served.name;
  call->record.items = 1;
  const std::string format = query_param(target, "encoding_format");
  if (!format.empty() && format != "float" && format != "base64") {
    throw bad_request("encoding_format must be float or base64");
  }
  const std::string normalize = query_param(target, "normalize");
  if (!normalize.empty() && normalize != "true" && normalize != "false") {
    throw bad_request("normalize must be true or false");
  }
  const EmbedOptions embed{.normalize =
                               normalize.empty() ? options_.normalize : normalize == "true"};
  std::string& body = call->request.body();
  ImageInput image = ImageInput::bytes(std::vector<uint8_t>(body.begin(), body.end()));
  body.clear();
  body.shrink_to_fit();
  auto gather = std::make_shared<Gather>(
      1, call->cancellation, true,
      [this, call, base64 = format == "base64", name = served.name](
          const ApiError* error, const std::vector<Embedding>& v, const EmbedTiming& timing) {
        if (error != nullptr) return reply_error(call, *error);
        reply(call, ok_json(embeddings_response(name, v, base64), timing));
      });
  std::vector<EmbedInput> group;
  group.push_back(EmbedInput::image(std::move(image)));
  submit(served.name, std::move(group), embed, gather->callback(), call);
}

void ApiHandler::classify(const std::shared_ptr<Call>& call) {
  ClassifyRequest request = parse_classify_request(call->request.body(), options_.max_items);
  const ServedModel served = serving(request.model);
  call->record.model = served.name;
  call->record.items = request.images.size();
  const std::shared_ptr<const ClipModel> model = pool_.model(served.name);
  if (!model->has_text() || !model->has_vision()) {
    throw bad_request("model '" + served.name + "' needs both towers to classify",
                      "unsupported_modality");
  }
  for (size_t i = 0; i < request.images.size(); ++i) {
    const InputForm form = input_form(request.images[i]);
    if (form == InputForm::kText) {
      throw bad_request("image[" + std::to_string(i) + "]: not an image: expected an http(s) " +
                            "URL, a data: URI or base64 of a JPEG, PNG, WebP, GIF or BMP file",
                        "not_an_image");
    }
    if (form == InputForm::kUrl && !options_.allow_url_inputs) {
      throw bad_request("image[" + std::to_string(i) + "]: URL inputs are disabled",
                        "url_inputs_disabled");
    }
    check_base64_image(request.images[i], form, "image[" + std::to_string(i) + "]");
  }
  // Labels are texts like any other (their count is bounded as inputs are, by --max-items).
  for (size_t j = 0; j < request.labels.size(); ++j) {
    check_text_size(request.labels[j], options_.max_text_bytes,
                    "labels[" + std::to_string(j) + "]");
  }
  // Images first, then one text per label, all in one gather: the labels' vectors are computed
  // with the images' and shared by them.
  const size_t images = request.images.size();
  auto labels = std::make_shared<std::vector<std::string>>(std::move(request.labels));
  auto gather = std::make_shared<Gather>(
      images + labels->size(), call->cancellation, false,
      [this, call, model, labels, images, top_k = request.top_k, name = served.name](
          const ApiError* error, const std::vector<Embedding>& v, const EmbedTiming& timing) {
        if (error != nullptr) return reply_error(call, *error);
        const std::span<const Embedding> label_vectors(v.data() + images, labels->size());
        std::vector<std::vector<LabelScore>> ranked;
        for (size_t i = 0; i < images; ++i) {
          ranked.push_back(
              rank_labels(*labels, model->label_probabilities(v[i], label_vectors), top_k));
        }
        reply(call, ok_json(classify_response(name, ranked), timing));
      });
  std::vector<EmbedInput> group;
  group.reserve(images + labels->size());
  for (std::string& input : request.images) group.push_back(request_image(std::move(input)));
  for (const std::string& label : *labels) {
    group.push_back(EmbedInput::text(label_prompt(request.label_template, label)));
  }
  submit(served.name, std::move(group), {}, gather->callback(), call);
}

// The query is embedded by the index's model in the pool like any input; its callback, on a
// runtime thread, searches the index and answers.
void ApiHandler::search(const std::shared_ptr<Call>& call) {
  SearchRequest request = parse_search_request(call->request.body(), options_.max_search_k);
  const ServedIndex* index = indexes_.find(request.index);
  if (index == nullptr) {
    throw ApiError{404, "invalid_request_error", "index_not_found",
                   request.index.empty() ? "name the index to search ('index')"
                                         : "no index named '" + request.index + "'",
                   0};
  }
  const ServedModel served = serving(index->model);
  call->record.model = served.name;
  call->record.items = 1;
  auto gather = std::make_shared<Gather>(
      1, call->cancellation, true,
      [this, call, index, k = request.k, name = served.name](
          const ApiError* error, const std::vector<Embedding>& v, const EmbedTiming& timing) {
        if (error != nullptr) return reply_error(call, *error);
        reply(call, ok_json(search_response(index->name, name, index->index->search(v[0], k)[0]),
                            timing));
      });
  if (request.text) {
    check_text_size(*request.text, options_.max_text_bytes, "the query text");
    std::vector<EmbedInput> group;
    group.push_back(EmbedInput::text(std::move(*request.text)));
    return submit(served.name, std::move(group), {}, gather->callback(), call);
  }
  std::string& image = *request.image;
  const InputForm form = input_form(image);
  if (form == InputForm::kText) {
    throw bad_request(
        "query.image: not an image: expected an http(s) URL, a data: URI or base64 "
        "of a JPEG, PNG, WebP, GIF or BMP file",
        "not_an_image");
  }
  if (form == InputForm::kUrl && !options_.allow_url_inputs) {
    throw bad_request("query.image: URL inputs are disabled", "url_inputs_disabled");
  }
  std::vector<EmbedInput> group;
  group.push_back(request_image(std::move(image)));
  submit(served.name, std::move(group), {}, gather->callback(), call);
}

}  // namespace clipembed::server
