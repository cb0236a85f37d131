// Peak memory of `clipembed embed` must not grow with the number of inputs: inputs are streamed
// and at most two batches are in flight.
#include <gtest/gtest.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "clipembed/model.h"
#include "support/fixtures.h"
#include "support/npy.h"

namespace clipembed {
namespace {

namespace fs = std::filesystem;
using testing::fixture_path;

const char* const kSources[] = {"one_pixel.png", "gray.png", "palette.png", "small_upscale.png"};

// Runs the CLI on `dir` writing `out`; returns its peak RSS in KiB, or -1 if it failed.
long peak_rss_kib(const fs::path& dir, const std::string& out,
                  const std::string& model = fixture_path("models/tiny"),
                  const char* precision = "fp32") {
#if defined(__GLIBC__)
  // The child's ru_maxrss starts at this process's RSS when it forks (Linux keeps the high-water
  // mark across exec), so memory this test process freed but still holds (a full-size model an
  // earlier test in the same process loaded) would count as the CLI's. Hand it back first.
  malloc_trim(0);
#endif
  const pid_t pid = fork();
  if (pid == 0) {
    execl(CLIPEMBED_CLI_PATH, "clipembed", "embed", "--quiet", "--model", model.c_str(),
          "--precision", precision, "-o", out.c_str(), dir.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  if (wait4(pid, &status, 0, &usage) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return -1;
  }
  return usage.ru_maxrss;
}

fs::path make_inputs(const std::string& name, int count) {
  const fs::path dir = testing::temp_path(name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (int i = 0; i < count; ++i) {
    const std::string source = kSources[i % 4];
    fs::create_hard_link(
        fixture_path("images/" + source),
        dir / (std::to_string(100000 + i) + fs::path(source).extension().string()));
  }
  return dir;
}

TEST(CliMemoryTest, TwentyThousandFilesPeakWithinOneFifthOfTwoHundred) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "peak RSS is meaningless under a sanitizer's shadow memory and quarantine";
#endif
  const fs::path small = make_inputs("clipembed_rss_200", 200);
  const fs::path large = make_inputs("clipembed_rss_20000", 20000);
  const std::string small_out = testing::temp_path("clipembed_rss_200.npy");
  const std::string large_out = testing::temp_path("clipembed_rss_20000.npy");
  const long small_kib = peak_rss_kib(small, small_out);
  const long large_kib = peak_rss_kib(large, large_out);
  ASSERT_GT(small_kib, 0);
  ASSERT_GT(large_kib, 0);
  std::printf("peak RSS: 200 files %ld KiB, 20,000 files %ld KiB (%.2fx)\n", small_kib, large_kib,
              static_cast<double>(large_kib) / static_cast<double>(small_kib));
  EXPECT_LE(large_kib, small_kib * 12 / 10)
      << "200 files: " << small_kib << " KiB, 20,000 files: " << large_kib << " KiB";

  // Every row equals the single-image vector of the file it came from.
  auto model = ClipModel::load(fixture_path("models/tiny"));
  std::vector<std::vector<float>> single;
  for (const char* source : kSources) {
    single.push_back(model->embed_image(fixture_path(std::string("images/") + source)));
  }
  const auto rows = testing::read_npy(large_out);
  ASSERT_EQ(rows.shape, (std::vector<int64_t>{20000, model->dimension()}));
  std::ifstream paths(large_out + ".paths.txt");
  std::string path;
  const size_t dim = static_cast<size_t>(model->dimension());
  for (size_t r = 0; std::getline(paths, path); ++r) {
    ASSERT_LT(r, 20000u);
    const int index = std::stoi(fs::path(path).stem().string()) - 100000;
    const float* row = rows.as<float>() + r * dim;
    ASSERT_EQ(std::vector<float>(row, row + dim), single[index % 4]) << path;
  }
  for (const std::string& out : {small_out, large_out}) {
    for (const char* suffix : {"", ".paths.txt", ".errors.jsonl"}) fs::remove(out + suffix);
  }
  fs::remove_all(small);
  fs::remove_all(large);
}

// Under int8 the float32 weights of the encoder's products are released once quantized, so the
// process holds about a quarter of the float32 model (ViT-B/32: 88 MB of codes against 350 MB).
TEST(CliMemoryTest, Int8PeakIsUnderHalfOfFloat32) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "peak RSS is meaningless under a sanitizer's shadow memory and quarantine";
#endif
  const std::string model = testing::full_size_model_directory("vit-b-32");
  ASSERT_FALSE(model.empty()) << testing::kNoFullSizeModel;
  const fs::path dir = make_inputs("clipembed_rss_int8", 4);
  const std::string out = testing::temp_path("clipembed_rss_int8.npy");
  const long f32_kib = peak_rss_kib(dir, out, model, "fp32");
  const long int8_kib = peak_rss_kib(dir, out, model, "int8");
  ASSERT_GT(f32_kib, 0);
  ASSERT_GT(int8_kib, 0);
  std::printf("ViT-B/32 peak RSS: fp32 %.1f MiB, int8 %.1f MiB\n", f32_kib / 1024.0,
              int8_kib / 1024.0);
  EXPECT_LT(int8_kib * 2, f32_kib);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace clipembed
