#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/pipeline_bench.h"
#include "clipembed/error.h"
#include "clipembed/model.h"
#include "clipembed/runtime.h"

namespace clipembed::cli {
namespace {

struct Measurement {
  double images_per_second = 0;
  double p50_ms = 0, p99_ms = 0;  // Per forward pass.
};

// Runs forward passes of `batch` synthetic images for about `seconds` after one warm-up pass.
Measurement measure(const ClipVisionModel& model, int batch, double seconds) {
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

}  // namespace

int bench_command(const std::vector<std::string>& args) {
  std::string ref = default_model();
  int threads = 0;
  double seconds = 3.0;
  std::string images;
  int batch_size = 8, rounds = 3, limit = 64;
  Precision precision = Precision::kF32;
  for (size_t i = 0; i < args.size(); ++i) {
    if (std::string m = model_argument(args, &i); !m.empty()) {
      ref = m;
    } else if (args[i] == "--threads" && i + 1 < args.size()) {
      threads = std::atoi(args[++i].c_str());
    } else if (args[i] == "--seconds" && i + 1 < args.size()) {
      seconds = std::atof(args[++i].c_str());
    } else if (args[i] == "--images" && i + 1 < args.size()) {
      images = args[++i];
    } else if (args[i] == "--batch-size" && i + 1 < args.size()) {
      batch_size = std::atoi(args[++i].c_str());
    } else if (args[i] == "--rounds" && i + 1 < args.size()) {
      rounds = std::atoi(args[++i].c_str());
    } else if (args[i] == "--limit" && i + 1 < args.size()) {
      limit = std::atoi(args[++i].c_str());
    } else if (args[i] == "--precision" && i + 1 < args.size()) {
      if (!precision_argument("bench", args[++i], &precision)) return kExitUsage;
    } else {
      std::fprintf(stderr, "clipembed bench: unexpected argument '%s'\n", args[i].c_str());
      return kExitUsage;
    }
  }
  if (ref.empty() || threads < 0 || !(seconds > 0) || batch_size <= 0 || rounds <= 0 ||
      limit <= 0) {
    std::fprintf(stderr,
                 "usage: clipembed bench --model REF [--threads N] [--seconds S] [--precision P]\n"
                 "       clipembed bench --model REF --images DIR [--batch-size N] [--limit N]"
                 " [--rounds N]\n");
    return kExitUsage;
  }
  try {
    shared_runtime(RuntimeOptions{.threads = threads});
    const auto load_start = std::chrono::steady_clock::now();
    auto model =
        ClipVisionModel::load(locate_model(ref), LoadOptions{.decode = {}, .precision = precision});
    const double load_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
    if (!images.empty()) {
      std::printf("model %s, %d threads\n", ref.c_str(), shared_runtime().num_threads());
      bench_pipeline(*model, images, static_cast<size_t>(limit), static_cast<size_t>(batch_size),
                     rounds);
      return kExitOk;
    }
    std::printf("model %s, %s, %d threads, loaded in %.3f s; synthetic input, %.1f s per batch\n",
                ref.c_str(), precision_name(precision), shared_runtime().num_threads(),
                load_seconds, seconds);
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

}  // namespace clipembed::cli
