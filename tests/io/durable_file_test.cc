// The one writer's discipline (io/durable_file.h, io/embedding_file.h) in-process: failures name
// the file and the OS reason, a failed flush leaves exactly the last complete batch, and a resume
// keeps only what it verified. Write failures come from a file-size limit (RLIMIT_FSIZE with
// SIGXFSZ ignored: writes past it fail with EFBIG), which needs no root.
#include "io/durable_file.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <unordered_set>

#include "clipembed/error.h"
#include "io/embedding_file.h"
#include "io/npy_writer.h"
#include "support/fixtures.h"

namespace clipembed::io {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Limits the size of files this process writes while in scope.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &saved_);
    signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{bytes, saved_.rlim_max};
    setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() { setrlimit(RLIMIT_FSIZE, &saved_); }

 private:
  rlimit saved_{};
};

class DurableFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::temp_path("clipembed_durable");
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(DurableFileTest, ReasonsCarryTheErrnoName) {
  EXPECT_EQ(os_reason(ENOSPC), "No space left on device (ENOSPC)");
  EXPECT_EQ(os_reason(EROFS), "Read-only file system (EROFS)");
  EXPECT_EQ(os_reason(EDQUOT), "Disk quota exceeded (EDQUOT)");
}

// A flush that fails half-way (here: mid-row of the second batch) throws an error naming the file
// and EFBIG, and leaves the three files exactly as after the first batch.
TEST_F(DurableFileTest, AFailedFlushRollsBackToTheLastBatch) {
  const std::string path = dir_ + "/v.npy";
  const std::vector<float> row(16, 0.5f);
  EmbeddingFile file(path, 16, nullptr);
  for (const char* name : {"a0", "a1", "a2"}) file.success(name, row);
  file.failure("bad", "image_decode", "broken");
  file.flush();
  const std::string npy = slurp(path), paths = slurp(path + ".paths.txt"),
                    errors = slurp(path + ".errors.jsonl");
  ASSERT_EQ(npy.size(), 128u + 3 * 64);
  for (const char* name : {"b0", "b1", "b2"}) file.success(name, row);
  file.failure("worse", "image_decode", "broken");
  try {
    const FileSizeLimit limit(npy.size() + 100);  // The second batch's rows do not fit.
    file.flush();
    ADD_FAILURE() << "the flush did not fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("File too large (EFBIG)"), std::string::npos) << e.what();
  }
  EXPECT_EQ(slurp(path), npy);
  EXPECT_EQ(slurp(path + ".paths.txt"), paths);
  EXPECT_EQ(slurp(path + ".errors.jsonl"), errors);
  EXPECT_EQ(read_npy_shape(path).rows, 3u);
  EXPECT_EQ(file.rows(), 3);
}

// What an interruption leaves (a header counting a row whose data is cut short, a paths line
// without its newline, a torn error line) is cut by a resume, which keeps the verified rows.
TEST_F(DurableFileTest, ResumeKeepsOnlyWhatItVerified) {
  const std::string path = dir_ + "/v.npy";
  const std::vector<float> row(4, 1.0f);
  {
    EmbeddingFile file(path, 4, nullptr);
    for (const char* name : {"p0", "p1", "p2", "p3", "p4"}) file.success(name, row);
    file.failure("e0", "image_decode", "x");
    file.flush();
  }
  fs::resize_file(path, 128 + 4 * 16 + 7);  // Row 4's data cut short; the header still says 5.
  {
    std::ofstream paths(path + ".paths.txt", std::ios::app);
    paths << "\"p5";  // Half a line.
    std::ofstream errors(path + ".errors.jsonl", std::ios::app);
    errors << "{\"path\": \"e1\", \"err";
  }
  std::unordered_set<std::string> done;
  EmbeddingFile resumed(path, 4, &done);
  EXPECT_EQ(resumed.rows(), 4);
  EXPECT_EQ(done, (std::unordered_set<std::string>{"p0", "p1", "p2", "p3", "e0"}));
  EXPECT_EQ(read_npy_shape(path).rows, 4u);
  EXPECT_EQ(slurp(path + ".paths.txt"), "\"p0\"\n\"p1\"\n\"p2\"\n\"p3\"\n");
  resumed.success("p4", row);
  resumed.flush();
  EXPECT_EQ(read_npy_shape(path).rows, 5u);
}

// Rows past the header's count (a batch that never committed) are not trusted either.
TEST_F(DurableFileTest, ResumeDropsRowsTheHeaderDoesNotCount) {
  const std::string path = dir_ + "/v.npy";
  const std::vector<float> row(4, 2.0f);
  {
    EmbeddingFile file(path, 4, nullptr);
    file.success("p0", row);
    file.flush();
  }
  {
    std::ofstream npy(path, std::ios::app | std::ios::binary);
    npy.write(reinterpret_cast<const char*>(row.data()), 16);
    std::ofstream paths(path + ".paths.txt", std::ios::app);
    paths << "\"p1\"\n";
  }
  std::unordered_set<std::string> done;
  EmbeddingFile resumed(path, 4, &done);
  EXPECT_EQ(resumed.rows(), 1);
  EXPECT_EQ(done, (std::unordered_set<std::string>{"p0"}));
  EXPECT_EQ(fs::file_size(path), 128u + 16);
}

// A complete line that is not what clipembed writes is damage, not an interruption: resuming
// refuses it, naming the file and line, rather than guessing.
TEST_F(DurableFileTest, ResumeRefusesDamagedFiles) {
  const std::string path = dir_ + "/v.npy";
  {
    EmbeddingFile file(path, 4, nullptr);
    file.success("p0", std::vector<float>(4, 0.f));
    file.flush();
  }
  std::ofstream(path + ".paths.txt") << "not json\n";
  std::unordered_set<std::string> done;
  try {
    EmbeddingFile resumed(path, 4, &done);
    ADD_FAILURE() << "resumed from a damaged paths file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find(".paths.txt line 1"), std::string::npos) << e.what();
  }
}

// An atomic replace that cannot complete leaves the old file and no temporary.
TEST_F(DurableFileTest, AtomicReplaceKeepsTheOldFileOnFailure) {
  const std::string path = dir_ + "/index.json";
  write_file_atomically(path, "old\n");
  try {
    const FileSizeLimit limit(100);
    write_file_atomically(path, std::string(1000, 'x'));
    ADD_FAILURE() << "the write did not fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(EFBIG)"), std::string::npos) << e.what();
  }
  EXPECT_EQ(slurp(path), "old\n");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

}  // namespace
}  // namespace clipembed::io
