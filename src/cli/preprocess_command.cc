// `clipembed preprocess`: writes the crop the model sees for an image, to check preprocessing.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/options.h"
#include "clipembed/config.h"
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
      // Only the configs are read: the crop needs no weights (loading them took most of a
      // second for ViT-B/32).
      const ModelConfig config = ModelConfig::read(locate_model(args->model));
      if (!config.preprocess) {
        throw Error(ErrorCode::kUnsupportedModality,
                    "model '" + config.directory + "' has no vision tower");
      }
      Image crop = resize_and_crop(read_image_file(args->input), *config.preprocess);
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
