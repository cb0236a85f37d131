// Any file name round-trips through the CLI's outputs and --resume (a newline, a quote, a
// backslash, bytes that are not UTF-8), and inputs that are not ordinary files fail alone, at once.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>

#include "io/json_text.h"
#include "support/fixtures.h"
#include "support/npy.h"

namespace clipembed {
namespace {

namespace fs = std::filesystem;
using testing::fixture_path;

struct CliRun {
  int exit_code = -1;
  long peak_kib = 0;
};

// Runs `clipembed embed` on `inputs` (no shell: names are passed as they are).
CliRun embed(const std::vector<std::string>& args) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<const char*> argv = {"clipembed", "embed", "--quiet", "--model"};
    const std::string model = fixture_path("models/tiny");
    argv.push_back(model.c_str());
    for (const std::string& a : args) argv.push_back(a.c_str());
    argv.push_back(nullptr);
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, STDERR_FILENO);
    execv(CLIPEMBED_CLI_PATH, const_cast<char* const*>(argv.data()));
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  CliRun r;
  if (wait4(pid, &status, 0, &usage) == pid && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  r.peak_kib = usage.ru_maxrss;
  return r;
}

std::vector<std::string> lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

const std::vector<std::string> kNames = {"new\nline.png", "quo\"te.png", "back\\slash.png",
                                         "bad\xff\xfe.png", "plain.png"};

fs::path make_dir(const std::string& name) {
  const fs::path dir = testing::temp_path(name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const std::string& n : kNames) fs::copy_file(fixture_path("images/gray.png"), dir / n);
  return dir;
}

TEST(CliPathsTest, AnyFileNameRoundTripsThroughNpyJsonlAndResume) {
  const fs::path dir = make_dir("clipembed_names");
  std::set<std::string> expected;
  for (const std::string& n : kNames) expected.insert((dir / n).string());
  for (const char* ext : {".npy", ".jsonl"}) {
    SCOPED_TRACE(ext);
    const std::string out = testing::temp_path(std::string("clipembed_names") + ext);
    for (const char* suffix : {"", ".paths.txt", ".errors.jsonl"}) fs::remove(out + suffix);
    ASSERT_EQ(embed({"-o", out, dir.string()}).exit_code, 0);
    // A second run with --resume finds every name done: nothing is added.
    ASSERT_EQ(embed({"--resume", "-o", out, dir.string()}).exit_code, 0);
    std::vector<std::string> rows = lines(std::string(ext) == ".npy" ? out + ".paths.txt" : out);
    ASSERT_EQ(rows.size(), kNames.size());
    std::set<std::string> found;
    for (const std::string& row : rows) {
      const std::string literal =
          std::string(ext) == ".npy" ? row : row.substr(9, row.find("\", \"embedding\"") - 8);
      const std::optional<std::string> name = io::parse_json_string(literal);
      ASSERT_TRUE(name.has_value()) << row;
      found.insert(*name);
    }
    EXPECT_EQ(found, expected);
    if (std::string(ext) == ".npy") {
      EXPECT_EQ(testing::read_npy(out).shape, (std::vector<int64_t>{5, 16}));
    }
    for (const char* suffix : {"", ".paths.txt", ".errors.jsonl"}) fs::remove(out + suffix);
  }
  fs::remove_all(dir);
}

TEST(CliPathsTest, AFifoIsAnIoErrorWithoutBlocking) {
  const std::string fifo = testing::temp_path("clipembed_fifo.jpg");
  fs::remove(fifo);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string out = testing::temp_path("clipembed_fifo.jsonl");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(embed({"-o", out, fifo}).exit_code, 3);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  const auto records = lines(out);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_NE(records[0].find("\"code\": \"io\""), std::string::npos) << records[0];
  EXPECT_NE(records[0].find("not a regular file"), std::string::npos) << records[0];
  fs::remove(fifo);
  fs::remove(out);
}

// A 1 GiB sparse file is refused from its size, before a byte is read.
TEST(CliPathsTest, AFileOverTheSizeLimitIsRefusedBeforeReading) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "peak RSS is meaningless under a sanitizer";
#endif
  const std::string big = testing::temp_path("clipembed_sparse.jpg");
  { std::ofstream f(big); }
  fs::resize_file(big, uint64_t{1} << 30);
  const std::string out = testing::temp_path("clipembed_sparse.jsonl");
  const CliRun r = embed({"-o", out, big});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_LT(r.peak_kib, 200 * 1024) << "the file was read";
  const auto records = lines(out);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_NE(records[0].find("over the limit"), std::string::npos) << records[0];
  fs::remove(big);
  fs::remove(out);
}

}  // namespace
}  // namespace clipembed
