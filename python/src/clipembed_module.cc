// The `clipembed` Python package's extension: clipembed.Model over ClipModel (model.h).
//
// Threading: every call releases the GIL while it reads, decodes and computes, and computes on the
// process's one shared runtime (runtime.h), so calls from many Python threads run at once without
// adding threads. The *_async forms queue one task on that runtime and complete an asyncio future
// from it (no thread per call).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "clipembed/hub.h"
#include "clipembed/model.h"
#include "clipembed/runtime.h"
#include "clipembed/version.h"
#include "python_inputs.h"
#include "python_model.h"
#include "service/zero_shot.h"

namespace py = pybind11;

namespace clipembed::python {
namespace {

enum class ErrorMode { kRaise, kMask };

ErrorMode parse_errors(const std::string& errors) {
  if (errors == "raise") return ErrorMode::kRaise;
  if (errors == "mask") return ErrorMode::kMask;
  throw py::value_error("errors must be 'raise' or 'mask', not '" + errors + "'");
}

// What a batch call computed: rows (count x dimension, failed rows NaN) and each item's error.
struct Outcome {
  py::array_t<float> rows;
  std::vector<std::optional<Error>> errors;
};

// Async calls still running, so that the interpreter does not finalize under them (atexit waits).
struct Pending {
  std::mutex mutex;
  std::condition_variable idle;
  int64_t count = 0;
};
Pending& pending() {
  static auto* state = new Pending();  // Never destroyed: runtime threads may touch it at exit.
  return *state;
}

class Model {
 public:
  Model(const py::handle& reference, const std::string& precision, std::optional<int> threads,
        bool allow_private_urls)
      : reference_(fs_path(reference)) {
    if (threads) configure_runtime({.threads = *threads});
    LoadOptions options;
    options.precision = parse_precision(precision);
    options.input.url.allow_private_addresses = allow_private_urls;
    py::gil_scoped_release unlocked;
    model_ = ClipModel::load(locate_model(reference_), options);
  }

  const std::shared_ptr<const ClipModel>& model() const { return model_; }
  const std::string& reference() const { return reference_; }
  int dimension() const { return model_->dimension(); }
  std::string precision() const { return precision_name(model_->precision()); }
  std::string directory() const { return model_->directory(); }
  bool has_vision() const { return model_->has_vision(); }
  bool has_text() const { return model_->has_text(); }
  float logit_scale() const { return model_->logit_scale(); }
  float logit_bias() const { return model_->capabilities().logit_bias; }
  std::string family() const { return model_->capabilities().family; }
  std::string format() const { return model_->capabilities().format; }
  std::string zero_shot() const { return zero_shot_rule_name(model_->capabilities().zero_shot); }

  py::object config() const {
    py::object open = py::module_::import("builtins").attr("open");
    const std::string name =
        model_->capabilities().format == "open_clip" ? "/open_clip_config.json" : "/config.json";
    py::object file = open(model_->directory() + name, "r", py::arg("encoding") = "utf-8");
    py::object parsed = py::module_::import("json").attr("load")(file);
    file.attr("close")();
    return parsed;
  }

  py::object embed_images(const py::iterable& items, bool normalize, const std::string& errors) {
    const ErrorMode mode = parse_errors(errors);
    std::vector<ImageInput> inputs = image_inputs(items);
    return shape(run_images(inputs, normalize, mode), mode);
  }

  py::object embed_texts(const py::iterable& items, bool normalize, const std::string& errors) {
    const ErrorMode mode = parse_errors(errors);
    std::vector<std::string> texts = texts_of(items);
    return shape(run_texts(texts, normalize, mode), mode);
  }

  // Zero-shot scores through the service core's one orchestration (service/zero_shot.h): the
  // same prompts, template check and rule as the CLI's classify and the server's /v1/classify.
  py::array_t<float> classify(const py::iterable& images, const std::vector<std::string>& labels,
                              const std::optional<std::string>& label_template) {
    std::vector<ImageInput> inputs = image_inputs(images);
    const ModelCapabilities capabilities = model_->capabilities();
    const std::vector<std::string> prompts =
        service::label_prompts(labels, label_template.value_or(""), capabilities);
    const auto dim = static_cast<size_t>(model_->dimension());
    py::array_t<float> scores({inputs.size(), labels.size()});
    float* out = scores.mutable_data();
    {
      py::gil_scoped_release unlocked;
      std::vector<float> image_rows(inputs.size() * dim);
      std::vector<float> label_rows(prompts.size() * dim);
      model_->embed_images_into(inputs, image_rows.data());
      model_->embed_texts_into(prompts, label_rows.data());
      std::vector<Embedding> label_embeddings;
      for (size_t j = 0; j < prompts.size(); ++j) {
        label_embeddings.emplace_back(
            label_rows.begin() + static_cast<std::ptrdiff_t>(j * dim),
            label_rows.begin() + static_cast<std::ptrdiff_t>((j + 1) * dim));
      }
      for (size_t i = 0; i < inputs.size(); ++i) {
        const std::vector<float> p =
            zero_shot_scores(capabilities, {image_rows.data() + i * dim, dim}, label_embeddings);
        std::copy(p.begin(), p.end(), out + i * labels.size());
      }
    }
    return scores;
  }

  std::vector<int32_t> tokenize(const std::string& text) const { return model_->tokenize(text); }

  py::object embed_images_async(const py::iterable& items, bool normalize,
                                const std::string& errors) {
    const ErrorMode mode = parse_errors(errors);
    auto inputs = std::make_shared<std::vector<ImageInput>>(image_inputs(items));
    return start_async(
        mode, [this, inputs, normalize](ErrorMode m) { return run_images(*inputs, normalize, m); });
  }

  py::object embed_texts_async(const py::iterable& items, bool normalize,
                               const std::string& errors) {
    const ErrorMode mode = parse_errors(errors);
    auto texts = std::make_shared<std::vector<std::string>>(texts_of(items));
    return start_async(
        mode, [this, texts, normalize](ErrorMode m) { return run_texts(*texts, normalize, m); });
  }

 private:
  // Runs `stream` (the model's batcher for this modality) over `items` into a NumPy array made
  // here, the GIL released meanwhile; a failed item's row is NaN. With kRaise the first failure
  // (the lowest index, as results come in order) ends the reading and is raised.
  template <typename Item, typename Stream>
  Outcome run(const std::vector<Item>& items, ErrorMode mode, Stream stream) {
    const auto dim = static_cast<size_t>(model_->dimension());
    Outcome outcome{py::array_t<float>({items.size(), dim}), {}};
    float* out = outcome.rows.mutable_data();
    outcome.errors.resize(items.size());
    std::optional<size_t> first_failure;
    {
      py::gil_scoped_release unlocked;
      size_t taken = 0;
      stream(
          [&]() -> std::optional<Item> {
            if (taken == items.size() || (mode == ErrorMode::kRaise && first_failure)) {
              return std::nullopt;
            }
            return items[taken++];
          },
          [&](size_t i, const float* embedding, const Error* error) {
            if (embedding != nullptr) {
              std::copy_n(embedding, dim, out + i * dim);
              return;
            }
            if (!first_failure) first_failure = i;
            std::fill_n(out + i * dim, dim, std::numeric_limits<float>::quiet_NaN());
            outcome.errors[i] = *error;
          });
    }
    if (mode == ErrorMode::kRaise && first_failure) {
      raise_error(*outcome.errors[*first_failure], static_cast<long>(*first_failure));
    }
    return outcome;
  }

  Outcome run_images(const std::vector<ImageInput>& inputs, bool normalize, ErrorMode mode) {
    return run(inputs, mode, [&](const auto& next, const StreamSink& sink) {
      model_->embed_image_stream(next, sink, {.embed = {.normalize = normalize}});
    });
  }

  Outcome run_texts(const std::vector<std::string>& texts, bool normalize, ErrorMode mode) {
    return run(texts, mode, [&](const auto& next, const StreamSink& sink) {
      model_->embed_text_stream(next, sink, {.embed = {.normalize = normalize}});
    });
  }

  // The array (kRaise) or (array, ok_mask, errors) (kMask): errors holds None or a
  // clipembed.Error per item.
  static py::object shape(Outcome outcome, ErrorMode mode) {
    if (mode == ErrorMode::kRaise) return std::move(outcome.rows);
    const size_t count = outcome.errors.size();
    py::array_t<bool> ok(static_cast<py::ssize_t>(count));
    py::list errors(count);
    for (size_t i = 0; i < count; ++i) {
      ok.mutable_at(static_cast<py::ssize_t>(i)) = !outcome.errors[i];
      errors[i] = py::none();  // A new list's slots are empty, not None.
      if (!outcome.errors[i]) continue;
      try {
        raise_error(*outcome.errors[i], static_cast<long>(i));
      } catch (py::error_already_set& raised) {
        errors[i] = raised.value();
      }
    }
    return py::make_tuple(std::move(outcome.rows), ok, errors);
  }

  // Queues `compute` on the shared runtime and returns an asyncio future of the running loop
  // that a runtime thread completes.
  template <typename Compute>
  py::object start_async(ErrorMode mode, Compute compute) {
    py::object loop = py::module_::import("asyncio").attr("get_running_loop")();
    py::object future = loop.attr("create_future")();
    struct Call {
      py::object loop, future;
      py::object model;  // Keeps this Model alive until the call completes.
    };
    auto call = std::make_shared<Call>(Call{loop, future, py::cast(this)});
    {
      std::lock_guard<std::mutex> lock(pending().mutex);
      ++pending().count;
    }
    shared_runtime().submit([call, mode, compute]() mutable {
      py::gil_scoped_acquire locked;
      py::object result, error;
      try {
        result = shape(compute(mode), mode);
      } catch (py::error_already_set& raised) {
        error = raised.value();
      } catch (const Error& e) {
        try {
          raise_error(e);
        } catch (py::error_already_set& raised) {
          error = raised.value();
        }
      }
      py::object future = call->future;
      auto complete = py::cpp_function([future, result, error](const py::object&) {
        if (future.attr("done")().cast<bool>()) return;  // Cancelled by its awaiter.
        if (error) {
          future.attr("set_exception")(error);
        } else {
          future.attr("set_result")(result);
        }
      });
      try {
        call->loop.attr("call_soon_threadsafe")(complete, py::none());
      } catch (py::error_already_set&) {
        // The loop closed before the call finished; nobody is waiting for it.
      }
      call->loop = call->future = call->model = py::object();
      std::lock_guard<std::mutex> lock(pending().mutex);
      if (--pending().count == 0) pending().idle.notify_all();
    });
    return future;
  }

  std::string reference_;
  std::shared_ptr<const ClipModel> model_;
};

void wait_for_async_calls() {
  py::gil_scoped_release unlocked;
  std::unique_lock<std::mutex> lock(pending().mutex);
  pending().idle.wait(lock, [] { return pending().count == 0; });
}

}  // namespace

LoadedModel loaded_model(const py::handle& model) {
  if (!py::isinstance<Model>(model)) {
    throw py::type_error("expected a clipembed.Model, not " +
                         py::str(py::type::of(model).attr("__name__")).cast<std::string>());
  }
  const auto& m = model.cast<const Model&>();
  return {m.model(), m.reference()};
}

PYBIND11_MODULE(_clipembed, m) {
  m.doc() =
      "CLIP embeddings equal to Hugging Face transformers, computed by clipembed's C++ engine.";
  register_error(m);
  m.attr("__version__") = std::string(version());
  py::module_::import("atexit").attr("register")(py::cpp_function(&wait_for_async_calls));
  // compute() in run() computes under an unlocked GIL; `compute` is the part that does.
  py::class_<Model>(m, "Model",
                    R"doc(A CLIP model loaded from a directory or the Hugging Face cache.

    model = clipembed.Model("openai/clip-vit-base-patch32")       # or a directory
    vectors = model.embed_images(["cat.jpg", b"...", pil_image], normalize=True)  # [N, D] float32
    texts = model.embed_texts(["a photo of a cat"], normalize=True)
    probabilities = model.classify(["cat.jpg"], ["cat", "dog"])   # [N, labels]

Vectors equal transformers' image_embeds / get_text_features and the clipembed CLI's, bit for bit
whatever the batch. Calls release the GIL and may run from many threads at once.)doc")
      .def(
          py::init<const py::handle&, const std::string&, std::optional<int>, bool>(),
          py::arg("ref"), py::arg("precision") = "fp32", py::arg("threads") = py::none(),
          py::arg("allow_private_urls") = false,
          R"doc(Loads a model: a directory in the Hugging Face layout, or a repo id found in the local
hub cache (as `clipembed download` and huggingface_hub store it).

precision: "fp32" (equal to transformers), "int8" (weights quantized at load) or "bf16" (weights
and products in bfloat16 pairs, float32 sums; fast on CPUs with AVX512_BF16).
threads: compute threads of the process's shared runtime (default: one per core); fixed by the
first model or call of the process, so a different number later raises clipembed.Error.
allow_private_urls: let URL items reach private and loopback addresses (refused by default).
Raises clipembed.Error (code "model_invalid", "io", ...) when the model cannot be loaded.)doc")
      .def_property_readonly("dimension", &Model::dimension,
                             "The embedding dimension (512 for ViT-B/32).")
      .def_property_readonly("precision", &Model::precision, "\"fp32\", \"int8\" or \"bf16\".")
      .def_property_readonly("directory", &Model::directory, "The model directory loaded.")
      .def_property_readonly("config", &Model::config, "The model's config.json, as a dict.")
      .def_property_readonly("has_vision", &Model::has_vision, "True when images can be embedded.")
      .def_property_readonly("has_text", &Model::has_text, "True when texts can be embedded.")
      .def_property_readonly("logit_scale", &Model::logit_scale,
                             "exp(logit_scale), the logits' temperature.")
      .def_property_readonly("logit_bias", &Model::logit_bias,
                             "SigLIP's logit_bias, added to the logits (0.0 for CLIP).")
      .def_property_readonly("family", &Model::family, "\"clip\" or \"siglip\".")
      .def_property_readonly("format", &Model::format,
                             "The checkpoint's format: \"transformers\" or \"open_clip\".")
      .def_property_readonly("zero_shot", &Model::zero_shot,
                             "How classify() scores labels: \"softmax\" (CLIP) or \"sigmoid\" "
                             "(SigLIP).")
      .def("embed_images", &Model::embed_images, py::arg("items"), py::arg("normalize") = false,
           py::arg("errors") = "raise",
           R"doc(Embeds images; returns a float32 array [N, dimension], row i for item i.

An item is a path (str or os.PathLike), an http(s) URL, bytes of an encoded image, a PIL image
(taken as image.convert("RGB")) or a uint8 array [H, W, 3] (RGB). normalize: unit-length rows.
errors="raise": raises clipembed.Error for the first bad item (.index says which, .code what).
errors="mask": returns (array, ok, errors): failed rows are NaN, ok is a bool array, errors a
list with None or the clipembed.Error of each item. Other objects raise TypeError.)doc")
      .def("embed_texts", &Model::embed_texts, py::arg("texts"), py::arg("normalize") = false,
           py::arg("errors") = "raise",
           "Embeds texts (truncated to the model's context); returns float32 [N, dimension].\n"
           "errors works as in embed_images.")
      .def("classify", &Model::classify, py::arg("images"), py::arg("labels"),
           py::arg("template") = py::none(),
           "Zero-shot label scores, float32 [N images, labels], under the model's rule: for CLIP\n"
           "the softmax over labels of logit_scale * cosine(image, template with the label), as\n"
           "transformers' logits_per_image.softmax(-1); for SigLIP the sigmoid of each label's\n"
           "logit (logit_scale * cosine + logit_bias: independent, they need not sum to 1).\n"
           "template: the text each label is put in\n"
           "at its {} (default: the model family's, 'a photo of a {}.' for CLIP,\n"
           "'This is a photo of {}.' for SigLIP). Raises\n"
           "clipembed.Error for a bad image or template.")
      .def("tokenize", &Model::tokenize, py::arg("text"),
           "The token ids of a text, as the Hugging Face fast tokenizer gives them.")
      .def("embed_images_async", &Model::embed_images_async, py::arg("items"),
           py::arg("normalize") = false, py::arg("errors") = "raise",
           "embed_images as an asyncio future of the running loop: await it.")
      .def("embed_texts_async", &Model::embed_texts_async, py::arg("texts"),
           py::arg("normalize") = false, py::arg("errors") = "raise",
           "embed_texts as an asyncio future of the running loop: await it.");
  bind_index(m);
  bind_embedding_files(m);
}

}  // namespace clipembed::python
