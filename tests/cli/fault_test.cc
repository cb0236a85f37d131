// A full disk, a broken disk, a file-size limit, a read-only place or a process killed at any
// moment never leaves a wrong vector behind: after each fault, the outputs of `clipembed embed
// --output` and `clipembed index build` load, every row they hold is the uninterrupted run's row
// for its input, bit for bit, and a resume completes them into exactly the uninterrupted run's
// files. Faults are injected without root by a preloaded library (tests/fault/write_fault.cc);
// where the tests run as root, a real 64 KiB tmpfs fills up as well.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>

#include "clipembed/error.h"
#include "io/npy_writer.h"
#include "support/cli_process.h"
#include "support/fixtures.h"

namespace clipembed {
namespace {

namespace fs = std::filesystem;
using testing::fixture_path;
using testing::ProcessOptions;
using testing::ProcessResult;
using testing::run_cli;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The files of one npy output, as bytes.
struct Output {
  std::string npy, paths, errors;
  static Output read(const std::string& npy_path) {
    return {slurp(npy_path), slurp(npy_path + ".paths.txt"), slurp(npy_path + ".errors.jsonl")};
  }
  bool operator==(const Output&) const = default;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  size_t pos = 0;
  for (size_t nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', pos)) {
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  EXPECT_EQ(pos, text.size()) << "a line is cut short";
  return lines;
}

// The reference: an uninterrupted run's rows by input (its paths line), and its error lines.
struct Reference {
  Output files;
  std::map<std::string, std::string> row_of;  // Paths line -> the row's bytes.
  size_t row_bytes = 0;
};

Reference make_reference(const std::string& npy_path) {
  Reference r;
  r.files = Output::read(npy_path);
  const io::NpyShape shape = io::read_npy_shape(npy_path);
  r.row_bytes = shape.cols * sizeof(float);
  const std::vector<std::string> paths = lines_of(r.files.paths);
  EXPECT_EQ(paths.size(), shape.rows);
  for (size_t i = 0; i < paths.size(); ++i) {
    r.row_of[paths[i]] = r.files.npy.substr(shape.data_offset + i * r.row_bytes, r.row_bytes);
  }
  return r;
}

// Rows wrong in every output checked so far (each is also a test failure).
size_t wrong_rows = 0;

// What an interrupted run left must load and hold only the reference's rows and error lines
// (none, when it never created its files). Returns the rows it holds.
size_t check_partial(const std::string& npy_path, const Reference& reference,
                     const std::string& context) {
  if (!fs::exists(npy_path)) return 0;
  io::NpyShape shape;
  try {
    shape = io::read_npy_shape(npy_path);  // The exact test numpy.load makes: data = rows x cols.
  } catch (const Error& e) {
    ADD_FAILURE() << context << ": the .npy does not load: " << e.what();
    return 0;
  }
  // The header's row count is the record: the rows and paths lines past it (a batch that never
  // committed) are not part of the output.
  const Output got = Output::read(npy_path);
  const std::vector<std::string> paths = lines_of(got.paths);
  EXPECT_GE(paths.size(), shape.rows) << context << ": rows without their paths";
  size_t wrong = 0;
  for (size_t i = 0; i < std::min<size_t>(paths.size(), shape.rows); ++i) {
    const auto it = reference.row_of.find(paths[i]);
    const std::string row =
        got.npy.substr(shape.data_offset + i * reference.row_bytes, reference.row_bytes);
    if (it == reference.row_of.end() || it->second != row) ++wrong;
  }
  EXPECT_EQ(wrong, 0u) << context << ": wrong rows";
  wrong_rows += wrong;
  const std::vector<std::string> reference_errors = lines_of(reference.files.errors);
  for (const std::string& line : lines_of(got.errors)) {
    EXPECT_NE(std::find(reference_errors.begin(), reference_errors.end(), line),
              reference_errors.end())
        << context << ": an error line the reference does not have: " << line;
  }
  return shape.rows;
}

std::string fault_library() { return CLIPEMBED_FAULT_LIB; }

// The preloaded library's settings, plus what a sanitizer build needs to accept the preload.
ProcessOptions with_fault(const std::string& dir, long long bytes, const std::string& error,
                          bool at_fsync = false) {
  ProcessOptions o;
  o.env = {"LD_PRELOAD=" + fault_library(), "CLIPEMBED_FAULT_DIR=" + dir,
           "CLIPEMBED_FAULT_BYTES=" + std::to_string(bytes), "CLIPEMBED_FAULT_ERRNO=" + error,
           "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=1:abort_on_error=1"};
  if (at_fsync) o.env.push_back("CLIPEMBED_FAULT_FSYNC=1");
  return o;
}

class FaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::temp_path("clipembed_faults");
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // `embed` of the fixture images (valid and broken) in batches of `batch`.
  std::vector<std::string> embed_args(const std::string& out, int batch, bool resume) const {
    std::vector<std::string> args = {"embed",
                                     "--model",
                                     fixture_path("models/tiny"),
                                     "-q",
                                     "--batch-size",
                                     std::to_string(batch),
                                     "--output",
                                     out,
                                     fixture_path("images")};
    if (resume) args.push_back("--resume");
    return args;
  }

  std::string dir_;
};

// ENOSPC, EIO and EFBIG at every class of byte offset (inside the header, mid-row, between
// rows, in the side files, between batches), and a disk that fails at fsync: the run stops with
// the file and the OS reason named, the outputs hold complete batches of right rows only, and a
// resume gives the uninterrupted run's files byte for byte.
TEST_F(FaultTest, WriteFailuresAtEveryOffsetLeaveOnlyRightRows) {
  const std::string ref_path = dir_ + "/ref.npy";
  ASSERT_EQ(run_cli(embed_args(ref_path, 4, false)).exit_code, 3);  // Four inputs are broken.
  const Reference reference = make_reference(ref_path);
  const size_t total =
      reference.files.npy.size() + reference.files.paths.size() + reference.files.errors.size();
  // Offsets: each of the first bytes (the header and the first rows), then every 61st byte
  // through the whole output, and past its end (no fault at all).
  std::vector<long long> budgets = {0, 1, 64, 127, 128, 129, 128 + 32, 128 + 63, 128 + 64};
  for (size_t b = 200; b < total + 100; b += 173) budgets.push_back(static_cast<long long>(b));
  int injected = 0, checked = 0;
  for (const char* error : {"ENOSPC", "EIO", "EFBIG", "fsync"}) {
    for (long long budget : budgets) {
      const std::string out = dir_ + "/out.npy";
      for (const char* suffix : {"", ".paths.txt", ".errors.jsonl"}) fs::remove(out + suffix);
      const bool at_fsync = std::string(error) == "fsync";
      const std::string context = std::string(error) + " after " + std::to_string(budget) + " B";
      const ProcessResult faulted =
          run_cli(embed_args(out, 4, false),
                  with_fault(dir_ + "/out.npy", budget, at_fsync ? "EIO" : error, at_fsync));
      const bool fault = faulted.exit_code == 2;
      if (fault) {
        ++injected;
        EXPECT_NE(faulted.err.find(at_fsync ? "(EIO)" : std::string("(") + error + ")"),
                  std::string::npos)
            << context << ": " << faulted.err;
        EXPECT_NE(faulted.err.find(out), std::string::npos) << context << ": " << faulted.err;
      } else {
        EXPECT_EQ(faulted.exit_code, 3) << context << ": " << faulted.err;
      }
      check_partial(out, reference, context);
      ++checked;
      const ProcessResult resumed = run_cli(embed_args(out, 4, true));
      EXPECT_NE(resumed.exit_code, 2) << context << ": " << resumed.err;
      EXPECT_TRUE(Output::read(out) == reference.files) << context << ": resume differs";
      if (::testing::Test::HasFailure()) return;  // The first case that fails says enough.
    }
  }
  std::printf("write faults: %d runs, %d faults injected, %d outputs checked, wrong rows: %zu\n",
              static_cast<int>(budgets.size()) * 4, injected, checked, wrong_rows);
  EXPECT_GT(injected, static_cast<int>(budgets.size()) * 3);
}

// The JSON-lines output under a full disk: complete lines of right records only, and a resume
// completes it into the uninterrupted run's file.
TEST_F(FaultTest, JsonLinesKeepCompleteRecordsOnly) {
  const std::string ref_path = dir_ + "/ref.jsonl";
  run_cli(embed_args(ref_path, 4, false));
  const std::string reference = slurp(ref_path);
  const std::vector<std::string> reference_lines = lines_of(reference);
  for (long long budget : {0LL, 100LL, 700LL, 1500LL, 2500LL, 4000LL}) {
    const std::string out = dir_ + "/out.jsonl";
    fs::remove(out);
    const ProcessResult r = run_cli(embed_args(out, 4, false), with_fault(out, budget, "ENOSPC"));
    if (r.exit_code == 2) {
      EXPECT_NE(r.err.find("(ENOSPC)"), std::string::npos) << r.err;
    }
    for (const std::string& line : lines_of(slurp(out))) {
      EXPECT_NE(std::find(reference_lines.begin(), reference_lines.end(), line),
                reference_lines.end())
          << "budget " << budget << ": a record the reference does not have";
    }
    run_cli(embed_args(out, 4, true));
    EXPECT_EQ(slurp(out), reference) << "budget " << budget;
  }
}

// SIGKILL at random moments of `embed --output` (one image a batch, so there are many commits):
// what is left loads and is right, and a resume completes it exactly.
TEST_F(FaultTest, KilledAtRandomMomentsLeavesOnlyRightRows) {
  const std::string ref_path = dir_ + "/ref.npy";
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(run_cli(embed_args(ref_path, 1, false)).exit_code, 3);
  const auto full = std::chrono::steady_clock::now() - start;
  const Reference reference = make_reference(ref_path);
  std::mt19937 random(20261207);
  std::uniform_real_distribution<double> moment(0.0, 1.0);
  int kills = 0;
  for (int i = 0; i < 12; ++i) {
    const std::string out = dir_ + "/killed.npy";
    for (const char* suffix : {"", ".paths.txt", ".errors.jsonl"}) fs::remove(out + suffix);
    const auto delay = std::chrono::duration_cast<std::chrono::microseconds>(full * moment(random));
    const ProcessResult killed = testing::run_cli_killed_after(embed_args(out, 1, false), delay);
    kills += killed.signal == SIGKILL;
    check_partial(out, reference, "killed after " + std::to_string(delay.count()) + " us");
    run_cli(embed_args(out, 1, true));
    EXPECT_TRUE(Output::read(out) == reference.files) << "resume after a kill differs";
  }
  std::printf("kills: %d of 12 runs killed mid-way, wrong rows: %zu\n", kills, wrong_rows);
  EXPECT_GT(kills, 6);
}

// `index build` killed at random moments, then `index add` (which resumes a build): the
// vectors are the uninterrupted build's, and the index answers as it does.
TEST_F(FaultTest, KilledIndexBuildsResumeExactly) {
  auto build = [&](const std::string& index, const std::string& verb) {
    std::vector<std::string> args = {"index", verb};
    if (verb == "build") {
      args.insert(args.end(), {"--model", fixture_path("models/tiny"), "--output", index});
    } else {
      args.push_back(index);
    }
    args.insert(args.end(), {"-q", "--batch-size", "1", "-r", fixture_path("images")});
    return args;
  };
  const std::string ref = dir_ + "/ref.idx";
  const auto start = std::chrono::steady_clock::now();
  ASSERT_NE(run_cli(build(ref, "build")).exit_code, 2);
  const auto full = std::chrono::steady_clock::now() - start;
  const Reference reference = make_reference(ref + "/vectors.npy");
  std::mt19937 random(7);
  // Early kills first (while the index directory is being created), then random moments.
  const std::vector<std::chrono::microseconds> early = {std::chrono::microseconds(3000),
                                                        std::chrono::microseconds(15000),
                                                        std::chrono::microseconds(40000)};
  for (size_t i = 0; i < early.size() + 6; ++i) {
    const std::string index = dir_ + "/killed.idx";
    fs::remove_all(index);
    const auto delay = i < early.size()
                           ? early[i]
                           : std::chrono::duration_cast<std::chrono::microseconds>(
                                 full * std::uniform_real_distribution<double>(0.0, 1.0)(random));
    testing::run_cli_killed_after(build(index, "build"), delay);
    check_partial(index + "/vectors.npy", reference, "index build killed");
    const ProcessResult resumed = run_cli(build(index, fs::exists(index) ? "add" : "build"));
    EXPECT_NE(resumed.exit_code, 2) << resumed.err;
    EXPECT_TRUE(Output::read(index + "/vectors.npy") == reference.files) << "index resume differs";
  }
}

// A file-size limit (ulimit -f): EFBIG, not a SIGXFSZ death mid-write.
TEST_F(FaultTest, FileSizeLimitIsAnErrorNamingEfbig) {
  const std::string ref_path = dir_ + "/ref.npy";
  run_cli(embed_args(ref_path, 4, false));
  const Reference reference = make_reference(ref_path);
  const std::string out = dir_ + "/limited.npy";
  ProcessOptions limited;
  limited.in_child = [] {
    const rlimit limit{700, 700};
    setrlimit(RLIMIT_FSIZE, &limit);
  };
  const ProcessResult r = run_cli(embed_args(out, 4, false), limited);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("File too large (EFBIG)"), std::string::npos) << r.err;
  EXPECT_GT(check_partial(out, reference, "RLIMIT_FSIZE"), 0u);
  run_cli(embed_args(out, 4, true));
  EXPECT_TRUE(Output::read(out) == reference.files);
}

// A place that cannot be written: the error says so before any work, naming the file.
TEST_F(FaultTest, ReadOnlyPlacesAreRefusedWithTheReason) {
  const std::string place = dir_ + "/readonly";
  fs::create_directories(place);
  bool mounted = false;
  if (geteuid() == 0) {
    // Root writes through permissions: a read-only mount is the real thing.
    mounted = mount("tmpfs", place.c_str(), "tmpfs", MS_RDONLY, "size=64k") == 0;
  }
  if (!mounted) fs::permissions(place, fs::perms::owner_read | fs::perms::owner_exec);
  if (geteuid() == 0 && !mounted) GTEST_SKIP() << "root, and no read-only mount could be made";
  const ProcessResult r = run_cli(embed_args(place + "/v.npy", 4, false));
  if (mounted) umount(place.c_str());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(mounted ? "(EROFS)" : "(EACCES)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(place + "/v.npy"), std::string::npos) << r.err;
}

// The operator's scenario, on a real file system that fills up (root only): a 64 KiB tmpfs, 60
// copies of one JPEG and the full-size ViT-B/32 (2 KiB a row). The run stops naming ENOSPC, the
// files load, and after the space is freed --resume gives the uninterrupted run's rows.
TEST_F(FaultTest, AFullTmpfsThenResume) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "a full-size model under a sanitizer takes minutes; the release suite runs it";
#endif
  const std::string model = testing::full_size_model_directory("vit-b-32");
  ASSERT_FALSE(model.empty()) << testing::kNoFullSizeModel;
  const std::string images = dir_ + "/images";
  fs::create_directories(images);
  for (int i = 0; i < 60; ++i) {
    fs::copy_file(fixture_path("images/square.jpg"),
                  images + "/" + std::to_string(100 + i) + ".jpg");
  }
  auto args = [&](const std::string& out, bool resume) {
    std::vector<std::string> a = {"embed", "--model", model, "-q", "--output", out, images};
    if (resume) a.push_back("--resume");
    return a;
  };
  const std::string ref_path = dir_ + "/ref.npy";
  ASSERT_EQ(run_cli(args(ref_path, false)).exit_code, 0);
  const Reference reference = make_reference(ref_path);
  const std::string disk = dir_ + "/disk";
  fs::create_directories(disk);
  if (geteuid() != 0 || mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=64k") != 0) {
    GTEST_SKIP() << "needs root to mount a small tmpfs";
  }
  const std::string out = disk + "/v.npy";
  const ProcessResult full = run_cli(args(out, false));
  EXPECT_EQ(full.exit_code, 2);
  EXPECT_NE(full.err.find("No space left on device (ENOSPC)"), std::string::npos) << full.err;
  const size_t kept = check_partial(out, reference, "tmpfs full");
  EXPECT_GT(kept, 0u);
  EXPECT_LT(kept, 60u);
  EXPECT_EQ(mount("tmpfs", disk.c_str(), "tmpfs", MS_REMOUNT, "size=1m"), 0);
  const ProcessResult resumed = run_cli(args(out, true));
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_TRUE(Output::read(out) == reference.files);
  umount(disk.c_str());
}

}  // namespace
}  // namespace clipembed
