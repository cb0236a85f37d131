#include "cli/pipeline_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "cli/embed_pipeline.h"
#include "cli/input_list.h"
#include "clipembed/error.h"
#include "image/image_loader.h"

namespace clipembed::cli {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

void bench_pipeline(const ClipModel& model, const std::string& dir, size_t limit, size_t batch_size,
                    int rounds) {
  // Only images that decode take part, so both sides do the same work.
  const PreprocessConfig& pre = model.preprocess_config();
  const size_t per_image = size_t{3} * pre.output_height() * pre.output_width();
  std::vector<std::string> files;
  std::vector<float> pixels;  // The forward pass alone runs on exactly what the pipeline feeds it.
  int width = 0, height = 0;
  size_t skipped = 0;
  InputSource source({dir}, InputOptions{});
  while (files.size() < limit) {
    std::optional<std::string> f = source.next();
    if (!f) break;
    try {
      const Image image = image::load_image(command_line_input(*f), InputLimits{});
      if (files.empty()) width = image.width, height = image.height;
      pixels.resize(pixels.size() + per_image);
      to_pixel_values(model.preprocess(image), pre, pixels.data() + pixels.size() - per_image);
      files.push_back(std::move(*f));
    } catch (const Error&) {
      ++skipped;
    }
  }
  if (files.empty()) throw Error(ErrorCode::kInvalidArgument, "no decodable images in " + dir);
  std::vector<float> vectors(files.size() * static_cast<size_t>(model.dimension()));
  auto forward_only = [&] {
    const auto start = std::chrono::steady_clock::now();
    for (size_t b = 0; b < files.size(); b += batch_size) {
      const size_t n = std::min(batch_size, files.size() - b);
      model.forward(pixels.data() + b * per_image, static_cast<int64_t>(n),
                    vectors.data() + b * model.dimension());
    }
    return files.size() / seconds_since(start);
  };
  auto end_to_end = [&] {
    size_t next = 0;
    const auto start = std::chrono::steady_clock::now();
    run_pipeline(
        model,
        [&]() -> std::optional<std::string> {
          if (next == files.size()) return std::nullopt;
          return files[next++];
        },
        {.batch_size = batch_size, .normalize = false}, [](const PipelineResult&) {}, [] {});
    return files.size() / seconds_since(start);
  };
  // The library's own entry point, at the model's batch size, on the same files.
  std::vector<ImageInput> inputs;
  inputs.reserve(files.size());
  for (const std::string& f : files) inputs.push_back(command_line_input(f));
  auto library = [&] {
    const auto start = std::chrono::steady_clock::now();
    model.embed_images_into(inputs, vectors.data());
    return files.size() / seconds_since(start);
  };

  forward_only();  // Warm-up: page cache, weights, allocator.
  double best_forward = 0, best_pipeline = 0, best_library = 0;
  for (int r = 0; r < rounds; ++r) {
    best_pipeline = std::max(best_pipeline, end_to_end());
    best_forward = std::max(best_forward, forward_only());
    best_library = std::max(best_library, library());
  }
  std::printf(
      "%zu images (first %dx%d) from %s (%zu skipped: not decodable), batch %zu, best of %d"
      " rounds\n",
      files.size(), width, height, dir.c_str(), skipped, batch_size, rounds);
  std::printf("forward pass alone:                     %8.2f images/s\n", best_forward);
  std::printf("end to end (read, decode, crop, forward): %6.2f images/s\n", best_pipeline);
  std::printf("library embed_images_into, its own batch: %6.2f images/s\n", best_library);
  std::printf("end to end / forward: %.1f%%, library / forward: %.1f%%\n",
              100.0 * best_pipeline / best_forward, 100.0 * best_library / best_forward);
}

}  // namespace clipembed::cli
