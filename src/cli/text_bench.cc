#include "cli/text_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace clipembed::cli {
namespace {

// Captions of the lengths people search with (5 to 20 words).
std::vector<std::string> captions(size_t count) {
  static const char* kSubjects[] = {"a black cat",      "two dogs",
                                    "a red sports car", "an old man with a hat",
                                    "a bowl of ramen",  "the skyline of a city at night"};
  static const char* kScenes[] = {"sitting on a wooden table",
                                  "running on the beach at sunset",
                                  "parked in front of a modern glass building",
                                  "in a watercolor painting",
                                  "seen from above, high resolution",
                                  "under heavy rain, with reflections on the street"};
  std::vector<std::string> out;
  for (size_t i = 0; i < count; ++i) {
    out.push_back(std::string("a photo of ") + kSubjects[i % 6] + " " + kScenes[(i / 6) % 6]);
  }
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

void bench_texts(const ClipModel& model, double seconds, int rounds) {
  const auto dim = static_cast<size_t>(model.dimension());
  std::printf("%6s %14s %16s %8s\n", "batch", "texts/s", "pre-tokenized", "ratio");
  for (size_t batch : {size_t{1}, size_t{32}}) {
    const std::vector<std::string> texts = captions(batch);
    std::vector<std::vector<int32_t>> ids;
    ids.reserve(texts.size());
    for (const std::string& t : texts) ids.push_back(model.tokenize(t));
    std::vector<float> out(batch * dim);
    Workspace workspace;
    auto run = [&](bool tokenize) {
      size_t done = 0;
      const auto start = std::chrono::steady_clock::now();
      while (done == 0 || seconds_since(start) < seconds) {
        if (tokenize) {
          for (size_t i = 0; i < batch; ++i) ids[i] = model.tokenize(texts[i]);
        }
        model.embed_token_ids(ids, out.data(), {}, &workspace);
        done += batch;
      }
      return static_cast<double>(done) / seconds_since(start);
    };
    run(true);  // Warm-up: tokenizer cache, activations.
    double with = 0, without = 0;
    for (int r = 0; r < rounds; ++r) {
      with = std::max(with, run(true));
      without = std::max(without, run(false));
    }
    std::printf("%6zu %14.1f %16.1f %7.1f%%\n", batch, with, without, 100.0 * with / without);
  }
}

}  // namespace clipembed::cli
