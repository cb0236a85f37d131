#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "cli/commands.h"
#include "cli/embed_output.h"
#include "cli/input_list.h"
#include "cli/progress.h"
#include "clipembed/error.h"
#include "clipembed/model.h"
#include "clipembed/runtime.h"
#include "io/url_fetcher.h"

namespace clipembed::cli {
namespace {

// Files decoded and embedded together: enough for a full batch, few enough to keep memory flat.
constexpr size_t kGroupSize = 16;

struct Decoded {
  std::optional<Image> image;
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

constexpr const char* kEmbedUsage =
    "usage: clipembed embed --model REF [options] [PATH|DIR|URL|-]...\n"
    "  --recursive          descend into subdirectories of DIR arguments\n"
    "  --glob PATTERN       files to take from directories (default: image extensions)\n"
    "  --files-from FILE    read one path or URL per line (- for stdin)\n"
    "  --batch-size N       images per forward pass (default 16)\n"
    "  --threads N          compute threads (default: CLIPEMBED_THREADS, else one per core)\n"
    "  --normalize          L2-normalise the embeddings\n"
    "  --quiet              no progress bar or summary on stderr\n"
    "  --resume             skip inputs already in --output and append the rest\n"
    "  --output FILE        write FILE (.jsonl, or .npy + FILE.paths.txt + FILE.errors.jsonl)\n"
    "  --format jsonl|npy   output format (default: from the --output extension)\n";

// Reads an input: a local file, or an http(s) URL fetched on the I/O thread.
Image load_input(const std::string& input) {
  if (!is_url(input)) return read_image_file(input);
  auto promise = std::make_shared<std::promise<std::vector<uint8_t>>>();
  auto future = promise->get_future();
  io::UrlFetcher::instance().fetch(input, io::UrlOptions{},
                                   [promise](std::vector<uint8_t>* body, const Error* error) {
                                     if (error != nullptr) {
                                       promise->set_exception(std::make_exception_ptr(*error));
                                     } else {
                                       promise->set_value(std::move(*body));
                                     }
                                   });
  const std::vector<uint8_t> bytes = shared_runtime().wait(future);
  try {
    return decode_image(bytes);
  } catch (const Error& e) {
    throw Error(e.code(), input + ": " + e.what());
  }
}

}  // namespace

int embed_command(const std::vector<std::string>& args) {
  std::string model_dir = default_model();
  bool normalize = false, quiet = false, resume = false;
  size_t group_size = kGroupSize;
  int threads = 0;
  InputOptions input_options;
  std::string output_path, output_format;
  std::vector<std::string> arguments;
  auto number = [&](size_t* i, const char* name) -> long {
    if (*i + 1 >= args.size()) return -1;
    char* end = nullptr;
    const long v = std::strtol(args[++*i].c_str(), &end, 10);
    if (end == args[*i].c_str() || *end != '\0' || v <= 0 || v > 4096) {
      std::fprintf(stderr, "clipembed embed: %s needs a positive number\n", name);
      return -1;
    }
    return v;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (std::string m = model_argument(args, &i); !m.empty()) {
      model_dir = m;
    } else if (a == "--normalize") {
      normalize = true;
    } else if (a == "--quiet" || a == "-q") {
      quiet = true;
    } else if (a == "--resume") {
      resume = true;
    } else if (a == "--recursive" || a == "-r") {
      input_options.recursive = true;
    } else if (a == "--glob" && i + 1 < args.size()) {
      input_options.glob = args[++i];
    } else if ((a == "--output" || a == "-o") && i + 1 < args.size()) {
      output_path = args[++i];
    } else if (a == "--format" && i + 1 < args.size()) {
      output_format = args[++i];
    } else if (a == "--files-from" && i + 1 < args.size()) {
      input_options.files_from.push_back(args[++i]);
    } else if (a == "--batch-size") {
      const long v = number(&i, "--batch-size");
      if (v < 0) return kExitUsage;
      group_size = static_cast<size_t>(v);
    } else if (a == "--threads") {
      const long v = number(&i, "--threads");
      if (v < 0) return kExitUsage;
      threads = static_cast<int>(v);
    } else if (a.size() > 1 && a[0] == '-') {
      std::fprintf(stderr, "clipembed embed: unknown option '%s'\n%s", a.c_str(), kEmbedUsage);
      return kExitUsage;
    } else {
      arguments.push_back(a);
    }
  }
  if (model_dir.empty() || (arguments.empty() && input_options.files_from.empty())) {
    std::fputs(kEmbedUsage, stderr);
    return kExitUsage;
  }
  shared_runtime(RuntimeOptions{.threads = threads});  // First use: fixes the thread count.
  std::vector<std::string> files = expand_inputs(arguments, input_options);
  std::shared_ptr<const ClipVisionModel> model;
  std::unique_ptr<EmbedOutput> output;
  try {
    model = ClipVisionModel::load(locate_model(model_dir));
    std::unordered_set<std::string> done;
    output =
        make_embed_output(output_path, output_format, model->dimension(), resume ? &done : nullptr);
    if (!done.empty()) {
      std::erase_if(files, [&](const std::string& f) { return done.count(f) != 0; });
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "clipembed embed: %s: %s\n", std::string(code_name(e.code())).c_str(),
                 e.what());
    return kExitUsage;
  }

  bool any_failed = false;
  size_t failed = 0;
  Progress progress(files.size(), quiet);
  for (size_t start = 0; start < files.size(); start += group_size) {
    const size_t count = std::min(group_size, files.size() - start);
    std::vector<Decoded> decoded(count);
    shared_runtime().parallel_for(0, static_cast<int64_t>(count), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        try {
          decoded[i].image = model->preprocess(load_input(files[start + i]));
        } catch (const Error& err) {
          decoded[i].code = err.code();
          decoded[i].message = err.what();
        } catch (const std::exception& err) {
          decoded[i].message = err.what();
        }
      }
    });
    // The crops are already preprocessed (in parallel above): turn them into pixel values and run
    // the network once, rather than letting embed_batch() preprocess them a second time.
    // Batch-invariant: a file gets the same vector bit for bit whatever it is batched with, so
    // reruns, resumed runs and library calls agree.
    const PreprocessConfig& pre = model->preprocess_config();
    const size_t per_image = size_t{3} * pre.output_height() * pre.output_width();
    const size_t dim = static_cast<size_t>(model->dimension());
    std::vector<float> pixels;
    for (const Decoded& d : decoded) {
      if (!d.image) continue;
      pixels.resize(pixels.size() + per_image);
      to_pixel_values(*d.image, pre, pixels.data() + pixels.size() - per_image);
    }
    const int64_t good = static_cast<int64_t>(pixels.size() / per_image);
    std::vector<float> vectors(static_cast<size_t>(good) * dim);
    if (good > 0) {
      model->forward(pixels.data(), good, vectors.data(),
                     {.normalize = normalize, .batch_invariant = true});
    }
    size_t next = 0;
    for (size_t i = 0; i < count; ++i) {
      const std::string& path = files[start + i];
      if (decoded[i].image) {
        output->success(path, std::span<const float>(vectors.data() + dim * next++, dim));
      } else {
        any_failed = true;
        ++failed;
        output->failure(path, code_name(decoded[i].code), decoded[i].message);
      }
    }
    output->flush();
    progress.update(start + count, failed);
  }
  progress.finish(files.size(), failed);
  return any_failed ? kExitSomeFailed : kExitOk;
}

}  // namespace clipembed::cli
