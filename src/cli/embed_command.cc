#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/json_lines.h"
#include "clipembed/error.h"
#include "clipembed/model.h"
#include "clipembed/runtime.h"

namespace clipembed::cli {
namespace {

// Files decoded and embedded together: enough for a full batch, few enough to keep memory flat.
constexpr size_t kGroupSize = 16;

struct Decoded {
  std::optional<Image> image;
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

}  // namespace

int embed_command(const std::vector<std::string>& args) {
  std::string model_dir = default_model();
  bool normalize = false;
  std::vector<std::string> files;
  for (size_t i = 0; i < args.size(); ++i) {
    if (std::string m = model_argument(args, &i); !m.empty()) {
      model_dir = m;
    } else if (args[i] == "--normalize") {
      normalize = true;
    } else if (args[i].size() > 1 && args[i][0] == '-' && args[i] != "--") {
      std::fprintf(stderr, "clipembed embed: unknown option '%s'\n", args[i].c_str());
      return kExitUsage;
    } else {
      files.push_back(args[i]);
    }
  }
  if (model_dir.empty() || files.empty()) {
    std::fprintf(stderr, "usage: clipembed embed --model DIR [--normalize] FILE...\n");
    return kExitUsage;
  }
  std::shared_ptr<const ClipVisionModel> model;
  try {
    model = ClipVisionModel::load(locate_model(model_dir));
  } catch (const Error& e) {
    std::fprintf(stderr, "clipembed embed: %s: %s\n", std::string(code_name(e.code())).c_str(),
                 e.what());
    return kExitUsage;
  }

  bool any_failed = false;
  for (size_t start = 0; start < files.size(); start += kGroupSize) {
    const size_t count = std::min(kGroupSize, files.size() - start);
    std::vector<Decoded> decoded(count);
    shared_runtime().parallel_for(0, static_cast<int64_t>(count), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        try {
          decoded[i].image = model->preprocess(read_image_file(files[start + i]));
        } catch (const Error& err) {
          decoded[i].code = err.code();
          decoded[i].message = err.what();
        } catch (const std::exception& err) {
          decoded[i].message = err.what();
        }
      }
    });
    std::vector<Image> good;
    for (Decoded& d : decoded) {
      if (d.image) good.push_back(std::move(*d.image));
    }
    // The crops are already preprocessed; resizing a crop of the target size is the identity.
    std::vector<std::vector<float>> vectors = model->embed_batch(good, {.normalize = normalize});
    size_t next = 0;
    for (size_t i = 0; i < count; ++i) {
      const std::string& path = files[start + i];
      std::string line = decoded[i].image
                             ? embedding_line(path, vectors[next++])
                             : error_line(path, code_name(decoded[i].code), decoded[i].message);
      if (!decoded[i].image) any_failed = true;
      std::fputs(line.c_str(), stdout);
      std::fputc('\n', stdout);
    }
    std::fflush(stdout);
  }
  return any_failed ? kExitSomeFailed : kExitOk;
}

}  // namespace clipembed::cli
