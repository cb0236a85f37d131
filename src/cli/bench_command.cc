#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/pipeline_bench.h"
#include "cli/text_bench.h"
#include "clipembed/error.h"
#include "clipembed/hub.h"
#include "clipembed/model.h"
#include "clipembed/runtime.h"
#include "clipembed/version.h"

namespace clipembed::cli {
namespace {

struct Measurement {
  double images_per_second = 0;
  double p50_ms = 0, p99_ms = 0;  // Per forward pass.
};

// Runs forward passes of `batch` synthetic images for about `seconds` after one warm-up pass.
Measurement measure(const ClipModel& model, int batch, double seconds) {
  const int side = model.vision_config().image_size;
  std::vector<float> pixels(static_cast<size_t>(batch) * 3 * side * side);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = std::sin(static_cast<float>(i) * 0.37f);
  std::vector<float> out(static_cast<size_t>(batch) * model.dimension());
  model.forward(pixels.data(), batch, out.data());
  std::vector<double> times;
  const auto start = std::chrono::steady_clock::now();
  while (times.size() < 3 ||
         std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() <
             seconds) {
    const auto t0 = std::chrono::steady_clock::now();
    model.forward(pixels.data(), batch, out.data());
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  double total = 0;
  for (double t : times) total += t;
  std::sort(times.begin(), times.end());
  Measurement m;
  m.images_per_second = batch * times.size() / (total / 1000.0);
  m.p50_ms = times[times.size() / 2];
  m.p99_ms = times[std::min(times.size() - 1, times.size() * 99 / 100)];
  return m;
}

struct BenchArgs {
  std::string model, images;
  int threads = 0, batch_size = 8, rounds = 3, limit = 64;
  double seconds = 3.0;
  Precision precision = Precision::kF32;
};

int run_bench(const BenchArgs& a) {
  const std::string& ref = a.model;
  const Precision precision = a.precision;
  const double seconds = a.seconds;
  try {
    start_runtime(a.threads);
    const auto load_start = std::chrono::steady_clock::now();
    auto model =
        ClipModel::load(locate_model(ref), LoadOptions{.input = {}, .precision = precision});
    const double load_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
    if (!a.images.empty()) {
      std::printf("model %s, %d threads\n", ref.c_str(), shared_runtime().num_threads());
      bench_pipeline(*model, a.images, static_cast<size_t>(a.limit),
                     static_cast<size_t>(a.batch_size), a.rounds);
      return kExitOk;
    }
    std::printf("model %s, %s, %d threads, %s, loaded in %.3f s; %.1f s per measurement\n",
                ref.c_str(), precision_name(precision), shared_runtime().num_threads(),
                (std::string("kernels ") + kernel_isa()).c_str(), load_seconds, seconds);
    if (model->has_text()) {
      std::printf("text tower (captions of 5 to 20 words):\n");
      bench_texts(*model, seconds, a.rounds);
    }
    if (!model->has_vision()) return kExitOk;
    std::printf("vision tower (synthetic images):\n");
    std::printf("%6s %10s %12s %12s\n", "batch", "images/s", "p50 ms/pass", "p99 ms/pass");
    int best_batch = 1;
    double best = 0;
    for (int batch : {1, 2, 4, 8, 16}) {
      const Measurement m = measure(*model, batch, seconds);
      std::printf("%6d %10.2f %12.1f %12.1f\n", batch, m.images_per_second, m.p50_ms, m.p99_ms);
      if (m.images_per_second > best) best = m.images_per_second, best_batch = batch;
    }
    std::printf("best batch: %d (%.2f images/s)\n", best_batch, best);
    return kExitOk;
  } catch (const Error& e) {
    return report_error("bench", e);
  }
}

}  // namespace

CommandRun add_bench_command(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "images/s and latency per batch size, or (--images) end to end against forward");
  add_model_option(*cmd, args->model);
  add_threads_option(*cmd, args->threads);
  add_precision_option(*cmd, args->precision);
  cmd->add_option("--seconds", args->seconds, "time per batch size (default 3)")
      ->check(CLI::Range(0.01, 3600.0));
  cmd->add_option("--images", args->images,
                  "a directory of images: run the CLI's pipeline end to end on them");
  cmd->add_option("--batch-size", args->batch_size, "images per pass with --images (default 8)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--rounds", args->rounds, "alternating rounds with --images (default 3)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--limit", args->limit, "images taken from --images (default 64)")
      ->check(CLI::Range(1, 1000000));
  return [args] { return run_bench(*args); };
}

}  // namespace clipembed::cli
