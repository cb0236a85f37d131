#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "clipembed/error.h"
#include "clipembed/model.h"

namespace clipembed::cli {

int preprocess_command(const std::vector<std::string>& args) {
  std::string model_dir = default_model(), input, output;
  for (size_t i = 0; i < args.size(); ++i) {
    if (std::string m = model_argument(args, &i); !m.empty()) {
      model_dir = m;
    } else if ((args[i] == "-o" || args[i] == "--output") && i + 1 < args.size()) {
      output = args[++i];
    } else if (input.empty() && !args[i].empty() && args[i][0] != '-') {
      input = args[i];
    } else {
      std::fprintf(stderr, "clipembed preprocess: unexpected argument '%s'\n", args[i].c_str());
      return kExitUsage;
    }
  }
  if (model_dir.empty() || input.empty() || output.empty()) {
    std::fprintf(stderr, "usage: clipembed preprocess --model DIR IMAGE -o OUT.png\n");
    return kExitUsage;
  }
  try {
    auto model = ClipVisionModel::load(locate_model(model_dir));
    Image crop = model->preprocess(read_image_file(input));
    write_png_file(crop, output);
    std::printf("%s: %dx%d crop written to %s\n", input.c_str(), crop.width, crop.height,
                output.c_str());
    return kExitOk;
  } catch (const Error& e) {
    report_error("preprocess", e);
    return e.code() == ErrorCode::kModelInvalid ? kExitUsage : kExitSomeFailed;
  }
}

}  // namespace clipembed::cli
