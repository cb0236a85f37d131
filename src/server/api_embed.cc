// ApiHandler's embedding routes: /v1/embeddings, /embed, /v1/classify and /v1/search. Each reads
// its request body, turns its strings into inputs by the service core's one rule
// (service/inputs.h), submits them to the model's Embedder as one group that the first failure
// ends (pool/fanout.h), and answers from the group's callback: no thread waits for a model.
#include <mutex>

#include "pool/fanout.h"
#include "server/api_error.h"
#include "server/api_handler.h"
#include "server/embeddings_api.h"
#include "service/inputs.h"
#include "service/zero_shot.h"

namespace clipembed::server {
namespace {

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

// The inputs of `strings` by the service's rule, each error naming its place (`name`[i], or
// `name` alone for a single string).
// How a request names its inputs in errors: `name` alone for a single one, else name[i].
std::function<std::string(size_t)> named(const std::string& name, bool single) {
  return [name, single](size_t i) { return single ? name : name + "[" + std::to_string(i) + "]"; };
}

std::vector<EmbedInput> interpret_all(std::vector<std::string>& strings,
                                      const service::InputRule& rule,
                                      const ModelCapabilities& model, const std::string& name,
                                      bool single = false) {
  std::vector<EmbedInput> inputs;
  inputs.reserve(strings.size());
  for (size_t i = 0; i < strings.size(); ++i) {
    inputs.push_back(
        service::interpret_input(std::move(strings[i]), rule, model, named(name, single)(i)));
  }
  strings.clear();
  strings.shrink_to_fit();  // The inputs hold their bytes now; the body's copies go.
  return inputs;
}

}  // namespace

service::InputRule ApiHandler::input_rule(Modality modality) const {
  service::InputRule rule;
  rule.modality = modality;
  rule.allow_urls = options_.allow_url_inputs;
  rule.max_text_bytes = options_.max_text_bytes;
  rule.max_base64_bytes = options_.pool.input.max_base64_bytes;
  return rule;
}

void ApiHandler::submit(const std::shared_ptr<Call>& call,
                        const std::shared_ptr<Embedder>& embedder, std::vector<EmbedInput> inputs,
                        const EmbedOptions& options, Answer answer,
                        std::function<std::string(size_t)> where) {
  const size_t queue = options_.pool.max_queued_inputs;
  if (inputs.size() > queue) {
    throw ApiError{413, "invalid_request_error", "request_too_large",
                   "the request has " + std::to_string(inputs.size()) +
                       " inputs, more than the queue of " + std::to_string(queue) +
                       " inputs can ever admit; split it, or raise --max-queue",
                   0};
  }
  pool::submit_group(
      *embedder, std::move(inputs), options, pool::FailurePolicy::kFailFirst, call->cancellation,
      [this, call, where = std::move(where),
       answer = std::move(answer)](pool::GroupOutcome& outcome) {
        if (outcome.failed) {
          const size_t i = *outcome.failed;
          return reply_error(call, api_error_for(*outcome.results[i].error, where(i)));
        }
        try {
          std::vector<Embedding> vectors;
          vectors.reserve(outcome.results.size());
          for (EmbeddingResult& r : outcome.results) vectors.push_back(std::move(r.embedding));
          answer(vectors, outcome.timing);
        } catch (const std::exception&) {
          // Building the answer failed (memory short for a large response): the client still
          // gets one. This runs on a pool thread, where nothing else would catch it.
          reply_error(call, api_error_for(Error(ErrorCode::kMemoryExhausted,
                                                "not enough memory to build the answer now"),
                                          ""));
        }
      });
}

void ApiHandler::embeddings(const std::shared_ptr<Call>& call) {
  EmbeddingsRequest request = parse_embeddings_request(call->request.body(), options_.max_items);
  call->request.body().clear();
  call->request.body().shrink_to_fit();
  const Served served = serving(request.model);
  call->record.model = served.name;
  call->record.items = request.inputs.size();
  const ModelCapabilities model = served.embedder->capabilities();
  if (request.dimensions && *request.dimensions != model.dimension) {
    throw ApiError{400, "invalid_request_error", "unsupported_dimensions",
                   "'dimensions' must be " + std::to_string(model.dimension) + " for model '" +
                       served.name +
                       "': CLIP embeddings are not trained to be truncated (leave it out)",
                   0};
  }
  // Every input is checked (and base64 decoded) before any is queued, so a bad one costs nothing.
  const Modality modality =
      request.modality == Modality::kAuto ? options_.default_modality : request.modality;
  std::vector<EmbedInput> inputs =
      interpret_all(request.inputs, input_rule(modality), model, "input");
  // usage.prompt_tokens: the ids the model takes for each text (specials and, for SigLIP, its
  // padding included), as OpenAI and TEI count them; images count none. A text the tokenizer
  // refuses fails in the batch below, naming its index.
  size_t prompt_tokens = 0;
  for (const EmbedInput& input : inputs) {
    if (!input.is_text()) continue;
    try {
      prompt_tokens += served.embedder->tokenize(input.as_text()).ids.size();
    } catch (const Error&) {
    }
  }
  const bool base64 = request.base64_output;
  submit(
      call, served.embedder, std::move(inputs),
      {.normalize = request.normalize.value_or(options_.normalize)},
      [this, call, base64, prompt_tokens, name = served.name](std::vector<Embedding>& v,
                                                              const EmbedTiming& t) {
        reply(call, ok_json(embeddings_response(name, v, base64, prompt_tokens), t));
      },
      named("input", false));
}

void ApiHandler::tokenize(const std::shared_ptr<Call>& call) {
  const TokenizeRequest request = parse_tokenize_request(call->request.body(), options_.max_items);
  const Served served = serving(request.model);
  call->record.model = served.name;
  call->record.items = request.texts.size();
  if (!served.embedder->capabilities().texts) {
    throw api_error_for(
        Error(ErrorCode::kUnsupportedModality, "model '" + served.name +
                                                   "' takes no texts (no text tower, or no "
                                                   "tokenizer files)"),
        "input");
  }
  std::vector<std::vector<int32_t>> ids;
  std::vector<std::vector<std::string>> tokens;
  for (size_t i = 0; i < request.texts.size(); ++i) {
    const std::string where = "input[" + std::to_string(i) + "]";
    if (request.texts[i].size() > options_.max_text_bytes) {
      throw api_error_for(
          Error(ErrorCode::kTextTooLarge,
                "the text is longer than " + std::to_string(options_.max_text_bytes) + " bytes"),
          where);
    }
    try {
      Embedder::Tokens t = served.embedder->tokenize(request.texts[i]);
      ids.push_back(std::move(t.ids));
      tokens.push_back(std::move(t.pieces));
    } catch (const Error& e) {
      throw api_error_for(e, where);
    }
  }
  reply(call, ok_json(tokenize_response(served.name, ids, tokens), EmbedTiming{}));
}

void ApiHandler::raw_image(const std::shared_ptr<Call>& call) {
  const std::string_view target = call->request.target();
  const Served served = serving(query_param(target, "model"));
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
  std::string& body = call->request.body();
  std::vector<EmbedInput> inputs;
  inputs.push_back(
      EmbedInput::image(ImageInput::bytes(std::vector<uint8_t>(body.begin(), body.end()))));
  body.clear();
  body.shrink_to_fit();
  submit(
      call, served.embedder, std::move(inputs),
      {.normalize = normalize.empty() ? options_.normalize : normalize == "true"},
      [this, call, base64 = format == "base64", name = served.name](std::vector<Embedding>& v,
                                                                    const EmbedTiming& t) {
        reply(call, ok_json(embeddings_response(name, v, base64), t));
      },
      named("input", true));
}

// Images first, then one text per label, all in one group: the labels' vectors are computed with
// the images' and shared by them.
void ApiHandler::classify(const std::shared_ptr<Call>& call) {
  ClassifyRequest request = parse_classify_request(call->request.body(), options_.max_items);
  // An indexed image: its stored vector, ranked against the labels of the index's model.
  auto stored = std::make_shared<std::vector<Embedding>>();
  if (request.row) {
    const ServedIndex& index = indexed(request.index, request.row);
    const std::span<const float> vector = index.index->vector(*request.row);
    stored->emplace_back(vector.begin(), vector.end());
    if (!request.model.empty() && serving(request.model).name != index.model) {
      throw bad_request("index '" + index.name + "' holds vectors of model '" + index.model + "'");
    }
    request.model = index.model;
  }
  const Served served = serving(request.model);
  call->record.model = served.name;
  call->record.items = request.images.size() + stored->size();
  const ModelCapabilities model = served.embedder->capabilities();
  if (!model.texts || !model.images) {
    throw bad_request("model '" + served.name + "' needs both towers to classify",
                      "unsupported_modality");
  }
  std::vector<std::string> prompts;
  try {
    prompts = service::label_prompts(request.labels, request.label_template, model);
  } catch (const Error& e) {
    throw bad_request(std::string("'template': ") + e.what());
  }
  const service::InputRule texts = input_rule(Modality::kText);
  std::vector<EmbedInput> inputs =
      interpret_all(request.images, input_rule(Modality::kImage), model, "image");
  const size_t images = inputs.size();
  for (size_t j = 0; j < prompts.size(); ++j) {
    // Labels are texts like any other (their count is bounded as inputs are, by --max-items).
    inputs.push_back(service::interpret_input(std::move(prompts[j]), texts, model,
                                              "labels[" + std::to_string(j) + "]"));
  }
  auto labels = std::make_shared<std::vector<std::string>>(std::move(request.labels));
  submit(
      call, served.embedder, std::move(inputs), {},
      [this, call, model, labels, images, stored, top_k = request.top_k, name = served.name](
          std::vector<Embedding>& v, const EmbedTiming& timing) {
        const std::span<const Embedding> label_vectors(v.data() + images, labels->size());
        std::vector<std::vector<LabelScore>> ranked;
        for (size_t i = 0; i < images; ++i) {
          ranked.push_back(service::rank_labels_for(model, v[i], label_vectors, *labels, top_k));
        }
        for (const Embedding& image : *stored) {
          ranked.push_back(service::rank_labels_for(model, image, label_vectors, *labels, top_k));
        }
        reply(call, ok_json(classify_response(name, ranked), timing));
      },
      [images](size_t i) {
        return i < images ? "image[" + std::to_string(i) + "]"
                          : "labels[" + std::to_string(i - images) + "]";
      });
}

const ServedIndex& ApiHandler::indexed(const std::string& name, std::optional<size_t> row) const {
  const ServedIndex* index = indexes_.find(name);
  if (index == nullptr) {
    throw ApiError{404, "invalid_request_error", "index_not_found",
                   name.empty() ? "name the index ('index')" : "no index named '" + name + "'", 0};
  }
  if (row && *row >= index->index->size()) {
    throw ApiError{404, "invalid_request_error", "row_not_found",
                   "index '" + index->name + "' has " + std::to_string(index->index->size()) +
                       " rows; row " + std::to_string(*row) + " is not one of them",
                   0};
  }
  return *index;
}

// The query is embedded by the index's model in the pool like any input; its callback, on a
// runtime thread, searches the index and answers.
void ApiHandler::search(const std::shared_ptr<Call>& call) {
  SearchRequest request = parse_search_request(call->request.body(), options_.max_search_k);
  const ServedIndex* index = &indexed(request.index, request.row);
  call->record.items = 1;
  if (request.row) {
    // "More like this": the index's own vector of that row; no model computes anything.
    call->record.model = index->model;
    const auto hits = index->index->search(index->index->vector(*request.row), request.k)[0];
    reply(call, ok_json(search_response(index->name, index->model, hits), EmbedTiming{}));
    return;
  }
  const Served served = serving(index->model);
  call->record.model = served.name;
  const ModelCapabilities model = served.embedder->capabilities();
  std::vector<std::string> query = {request.text ? std::move(*request.text)
                                                 : std::move(*request.image)};
  const bool text = request.text.has_value();
  const std::string where = text ? "query.text" : "query.image";
  std::vector<EmbedInput> inputs = interpret_all(
      query, input_rule(text ? Modality::kText : Modality::kImage), model, where, true);
  submit(
      call, served.embedder, std::move(inputs), {},
      [this, call, index, k = request.k, name = served.name](std::vector<Embedding>& v,
                                                             const EmbedTiming& timing) {
        reply(call, ok_json(search_response(index->name, name, index->index->search(v[0], k)[0]),
                            timing));
      },
      named(where, true));
}

}  // namespace clipembed::server
