// Forward-pass throughput of a CLIP vision tower (default: the regenerated ViT-B/32 random weights
// in build/models/vit-b-32; override with CLIPEMBED_BENCH_MODEL). Threads: CLIPEMBED_THREADS,
// default 2 to match the ONNX Runtime figure printed beside it by bench/compare.
//
//   build/bench/forward_bench --benchmark_min_time=5
#include <benchmark/benchmark.h>
#include <clipembed/clipembed.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace {

// One model per directory and precision, loaded on first use: the directory in `variable`, else
// build/models/`fallback`.
std::shared_ptr<const clipembed::ClipModel> bench_model(
    clipembed::Precision precision, const char* variable = "CLIPEMBED_BENCH_MODEL",
    const char* fallback = "vit-b-32") {
  static std::map<std::pair<std::string, clipembed::Precision>,
                  std::shared_ptr<const clipembed::ClipModel>>
      models;
  const char* env = std::getenv(variable);
  const std::string dir = env ? env : std::string(CLIPEMBED_BUILD_DIR) + "/models/" + fallback;
  auto& model = models[{dir, precision}];
  if (model == nullptr) {
    model = clipembed::ClipModel::load(dir,
                                       clipembed::LoadOptions{.input = {}, .precision = precision});
  }
  return model;
}

// A benchmark's precision argument: 0 fp32, 1 int8, 2 bf16.
clipembed::Precision precision_arg(int64_t arg) {
  return arg == 1   ? clipembed::Precision::kInt8
         : arg == 2 ? clipembed::Precision::kBf16
                    : clipembed::Precision::kF32;
}

// The model for a benchmark, or null after marking the benchmark skipped (no model here).
std::shared_ptr<const clipembed::ClipModel> model_or_skip(benchmark::State& state,
                                                          clipembed::Precision precision) {
  try {
    return bench_model(precision);
  } catch (const clipembed::Error& e) {
    state.SkipWithError(e.what());
    return nullptr;
  }
}

// A decoded image with a fixed pattern.
clipembed::Image synthetic_image(int width, int height) {
  clipembed::Image image;
  image.width = width;
  image.height = height;
  image.rgb.resize(static_cast<size_t>(width) * height * 3);
  for (size_t i = 0; i < image.rgb.size(); ++i) image.rgb[i] = static_cast<uint8_t>(i * 7 % 251);
  return image;
}

void BM_Forward(benchmark::State& state) {
  const auto model = model_or_skip(state, precision_arg(state.range(1)));
  if (model == nullptr) return;
  const int64_t batch = state.range(0);
  const clipembed::EmbedOptions options{.normalize = false};
  const int64_t side = model->vision_config().image_size;
  // The same synthetic input as tools/ort_bench.mjs: sin(i * 0.37).
  std::vector<float> pixels(batch * 3 * side * side);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = std::sin(static_cast<float>(i) * 0.37f);
  std::vector<float> out(batch * model->dimension());
  // A workspace reused from pass to pass, as a pool worker and the CLI's pipeline keep one.
  clipembed::Workspace workspace;
  model->forward(pixels.data(), batch, out.data(), options, &workspace);  // Warm-up.
  for (auto _ : state) {
    model->forward(pixels.data(), batch, out.data(), options, &workspace);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(batch) * state.iterations(),
                                                  benchmark::Counter::kIsRate);
  state.counters["threads"] = clipembed::shared_runtime().num_threads();
}

// Args: batch, precision (0 fp32, 1 int8, 2 bf16).
BENCHMARK(BM_Forward)
    ->ArgsProduct({{1, 8}, {0, 1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The text tower on ids tokenized beforehand: text i of a batch has 10 + 7i mod 11 ids (start,
// words, end), the same ids tools/ort_text_bench.mjs gives ONNX Runtime (which pads them to the
// batch's longest). The model: CLIPEMBED_BENCH_TEXT_MODEL, else build/models/vit-b-32-clip.
void BM_TextForward(benchmark::State& state) {
  const clipembed::Precision precision = precision_arg(state.range(1));
  std::shared_ptr<const clipembed::ClipModel> model;
  try {
    model = bench_model(precision, "CLIPEMBED_BENCH_TEXT_MODEL", "vit-b-32-clip");
  } catch (const clipembed::Error& e) {
    return state.SkipWithError(e.what());
  }
  const int64_t batch = state.range(0);
  std::vector<std::vector<int32_t>> ids(static_cast<size_t>(batch));
  for (int64_t i = 0; i < batch; ++i) {
    const int64_t n = 10 + (7 * i) % 11;
    ids[i].push_back(49406);
    for (int64_t j = 1; j < n - 1; ++j) {
      ids[i].push_back(static_cast<int32_t>(1000 + (131 * i + 17 * j) % 40000));
    }
    ids[i].push_back(49407);
  }
  std::vector<float> out(static_cast<size_t>(batch * model->dimension()));
  clipembed::Workspace workspace;
  model->embed_token_ids(ids, out.data(), {}, &workspace);  // Warm-up.
  for (auto _ : state) {
    model->embed_token_ids(ids, out.data(), {}, &workspace);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["texts/s"] = benchmark::Counter(static_cast<double>(batch) * state.iterations(),
                                                 benchmark::Counter::kIsRate);
}
// Args: batch, precision (0 fp32, 1 int8, 2 bf16).
BENCHMARK(BM_TextForward)
    ->ArgsProduct({{1, 32}, {0, 1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// One embed_images() call of one decoded image (a 224 x 224 crop), as the Python package's
// model.embed_images([array]) makes it: bench/python_bench.py reports the difference as the
// Python per-call overhead.
void BM_EmbedOneImageCall(benchmark::State& state) {
  const auto model = model_or_skip(state, clipembed::Precision::kF32);
  if (model == nullptr) return;
  const std::vector<clipembed::ImageInput> inputs{
      clipembed::ImageInput::pixels(synthetic_image(224, 224))};
  for (auto _ : state) benchmark::DoNotOptimize(model->embed_images(inputs));
  state.counters["calls/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EmbedOneImageCall)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Preprocessing of one 640 x 480 image (Pillow-exact bicubic resize to 224 on the short side and
// the centre crop) on the calling thread: the part of `clipembed bench --images` that is neither
// decoding nor the forward pass.
void BM_PreprocessOneImage(benchmark::State& state) {
  const auto model = model_or_skip(state, clipembed::Precision::kF32);
  if (model == nullptr) return;
  const clipembed::Image image = synthetic_image(640, 480);
  for (auto _ : state) benchmark::DoNotOptimize(model->preprocess(image));
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PreprocessOneImage)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  if (std::getenv("CLIPEMBED_THREADS") == nullptr) setenv("CLIPEMBED_THREADS", "2", 1);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
