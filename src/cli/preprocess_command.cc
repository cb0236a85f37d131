// `clipembed preprocess`: writes the crop the model sees for an image, to check preprocessing.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/options.h"
#include "clipembed/error.h"
#include "clipembed/hub.h"
#include "clipembed/model.h"

namespace clipembed::cli {

CommandRun add_preprocess_command(CLI::App& app) {
  struct Args {
    std::string model, input, output;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("preprocess", "write the crop the model sees");
  add_model_option(*cmd, args->model);
  cmd->add_option("image", args->input, "the image file")->required();
  cmd->add_option("-o,--output", args->output, "where to write the crop (PNG)")->required();
  return [args] {
    try {
      auto model = ClipModel::load(locate_model(args->model));
      Image crop = model->preprocess(read_image_file(args->input));
      write_png_file(crop, args->output);
      std::printf("%s: %dx%d crop written to %s\n", args->input.c_str(), crop.width, crop.height,
                  args->output.c_str());
      return kExitOk;
    } catch (const Error& e) {
      report_error("preprocess", e);
      return e.code() == ErrorCode::kModelInvalid ? kExitUsage : kExitSomeFailed;
    }
  };
}

}  // namespace clipembed::cli
