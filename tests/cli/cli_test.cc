// Runs the real `clipembed` binary and checks its output, exit codes and vectors.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "clipembed/model.h"
#include "clipembed/version.h"
#include "support/fixtures.h"
#include "support/http_test_server.h"
#include "support/hub_test_server.h"
#include "support/npy.h"

namespace clipembed {
namespace {

using testing::fixture_path;

struct Result {
  int exit_code;
  std::string out;
};

// Runs the CLI; `out` is its stdout, or its stderr when `want_stderr`. `env`: "NAME=value ..."
// assignments for the CLI's environment.
Result run(const std::string& args, bool want_stderr = false, const std::string& env = "") {
  // bash, for the process substitution some tests feed lists through.
  const std::string redirect = want_stderr ? " 2>&1 >/dev/null" : " 2>/dev/null";
  const std::string command =
      "bash -c \"" + env + " " + std::string(CLIPEMBED_CLI_PATH) + " " + args + redirect + "\"";
  FILE* pipe = popen(command.c_str(), "r");
  Result r{-1, ""};
  if (pipe == nullptr) return r;
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) r.out.append(buf, n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST(CliTest, EmbedWritesOneLinePerInputInOrderAndReportsFailures) {
  const std::string model = fixture_path("models/tiny");
  const std::string good1 = fixture_path("images/square.jpg");
  const std::string bad = fixture_path("images/truncated.jpg");
  const std::string good2 = fixture_path("images/palette.png");
  const Result r = run("embed --model " + model + " " + good1 + " " + bad + " " + good2);
  EXPECT_EQ(r.exit_code, 3);
  std::istringstream lines(r.out);
  std::vector<nlohmann::json> records;
  for (std::string line; std::getline(lines, line);) records.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0]["path"], good1);
  EXPECT_EQ(records[1]["path"], bad);
  EXPECT_EQ(records[1]["error"]["code"], "image_decode");
  EXPECT_EQ(records[2]["path"], good2);

  auto lib = ClipModel::load(model);
  const std::vector<float> expected = lib->embed_image(good2);
  const std::vector<float> actual = records[2]["embedding"].get<std::vector<float>>();
  ASSERT_EQ(actual.size(), expected.size());
  // Batched in the CLI, single here: the same bits (the CLI is batch-invariant and JSON floats
  // round-trip exactly).
  EXPECT_EQ(actual, expected);
}

size_t line_count(const std::string& out) { return std::count(out.begin(), out.end(), '\n'); }

TEST(CliTest, ExpandsDirectoriesGlobsListsAndUrls) {
  namespace fs = std::filesystem;
  const fs::path dir = testing::temp_path("clipembed_cli_inputs");
  fs::remove_all(dir);
  fs::create_directories(dir / "sub");
  fs::copy_file(fixture_path("images/square.jpg"), dir / "a.jpg");
  fs::copy_file(fixture_path("images/gray.png"), dir / "sub" / "b.png");
  std::ofstream(dir / "notes.txt") << "not an image";
  const std::string model = "--model " + fixture_path("models/tiny") + " ";
  EXPECT_EQ(line_count(run("embed " + model + dir.string()).out), 1u);
  const Result recursive = run("embed " + model + "--recursive " + dir.string());
  EXPECT_EQ(recursive.exit_code, 0);
  EXPECT_EQ(line_count(recursive.out), 2u);
  EXPECT_NE(recursive.out.find("sub/b.png"), std::string::npos);
  EXPECT_EQ(line_count(run("embed " + model + "-r --glob '*.png' " + dir.string()).out), 1u);
  const Result listed =
      run("embed " + model + "--files-from - < <(printf '%s\\n# comment\\n%s\\n' " +
          (dir / "a.jpg").string() + " " + (dir / "sub" / "b.png").string() + ")");
  EXPECT_EQ(line_count(listed.out), 2u) << listed.out;

  testing::HttpTestServer server;
  // The test server is on 127.0.0.1: refused by default, fetched when private URLs are allowed.
  const Result guarded = run("embed " + model + server.url("/image.png"));
  EXPECT_EQ(guarded.exit_code, 3);
  EXPECT_EQ(nlohmann::json::parse(guarded.out)["error"]["code"], "url_forbidden") << guarded.out;
  const Result url = run("embed " + model + "--allow-private-urls --url-timeout-ms 5000 " +
                         server.url("/image.png") + " " + server.url("/missing"));
  EXPECT_EQ(url.exit_code, 3);
  std::istringstream lines(url.out);
  std::string first, second;
  std::getline(lines, first);
  std::getline(lines, second);
  auto lib = ClipModel::load(fixture_path("models/tiny"));
  EXPECT_EQ(nlohmann::json::parse(first)["embedding"].get<std::vector<float>>(),
            lib->embed_image(fixture_path("images/gray.png")));
  EXPECT_EQ(nlohmann::json::parse(second)["error"]["code"], "url_status");
  fs::remove_all(dir);
}

TEST(CliTest, NpyOutputMatchesJsonLinesAndLoadsInNumpy) {
  const std::string out = testing::temp_path("clipembed_out.npy");
  const std::string inputs = fixture_path("images/square.jpg") + " " +
                             fixture_path("images/empty.jpg") + " " +
                             fixture_path("images/wide.png");
  const std::string model = "--model " + fixture_path("models/tiny") + " ";
  ASSERT_EQ(run("embed " + model + "-o " + out + " " + inputs).exit_code, 3);
  const Result jsonl = run("embed " + model + inputs);
  std::istringstream lines(jsonl.out);
  std::vector<std::vector<float>> expected;
  for (std::string line; std::getline(lines, line);) {
    auto record = nlohmann::json::parse(line);
    if (record.contains("embedding")) expected.push_back(record["embedding"]);
  }
  const auto npy = testing::read_npy(out);
  ASSERT_EQ(npy.shape, (std::vector<int64_t>{2, 16}));
  EXPECT_EQ(npy.dtype, "<f4");
  for (size_t r = 0; r < expected.size(); ++r) {
    EXPECT_EQ(std::vector<float>(npy.as<float>() + r * 16, npy.as<float>() + (r + 1) * 16),
              expected[r]);
  }
  std::ifstream paths(out + ".paths.txt"), errors(out + ".errors.jsonl");
  std::string first, second, error;
  std::getline(paths, first);
  std::getline(paths, second);
  std::getline(errors, error);
  // One JSON string per line (any file name round-trips; see embed_output.h).
  EXPECT_EQ(nlohmann::json::parse(first), fixture_path("images/square.jpg"));
  EXPECT_EQ(nlohmann::json::parse(second), fixture_path("images/wide.png"));
  EXPECT_EQ(nlohmann::json::parse(error)["error"]["code"], "image_decode");
  if (std::system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") == 0) {
    const std::string check = "/usr/bin/python3 -c 'import numpy; a = numpy.load(\"" + out +
                              "\"); assert a.shape == (2, 16) and a.dtype == numpy.float32'";
    EXPECT_EQ(std::system(check.c_str()), 0);
  }
  for (const char* suffix : {"", ".paths.txt", ".errors.jsonl"}) {
    std::filesystem::remove(out + suffix);
  }
}

TEST(CliTest, SummaryOnStderrUnlessQuiet) {
  const std::string args = "embed --model " + fixture_path("models/tiny") + " " +
                           fixture_path("images/square.jpg") + " " +
                           fixture_path("images/empty.jpg");
  EXPECT_NE(run(args, true).out.find("embedded 1 of 2 inputs (1 failed)"), std::string::npos);
  EXPECT_EQ(run(args + " --quiet", true).out, "");
}

// Kills a run part-way (SIGKILL), resumes it, and compares with an uninterrupted run.
TEST(CliTest, ResumeAfterKillEqualsAnUninterruptedRun) {
  namespace fs = std::filesystem;
  const fs::path dir = testing::temp_path("clipembed_resume_inputs");
  fs::remove_all(dir);
  fs::create_directories(dir);
  const char* sources[] = {"square.jpg", "gray.png", "palette.png", "truncated.jpg"};
  for (int i = 0; i < 600; ++i) {
    const std::string name = sources[i % 4];
    fs::create_hard_link(fixture_path("images/" + name),
                         dir / (std::to_string(1000 + i) + fs::path(name).extension().string()));
  }
  const std::string model = "--model " + fixture_path("models/tiny") + " --batch-size 8 -q ";
  for (const std::string ext : {".npy", ".jsonl"}) {
    SCOPED_TRACE(ext);
    const std::string full = testing::temp_path("clipembed_full" + ext);
    const std::string part = testing::temp_path("clipembed_part" + ext);
    ASSERT_EQ(run("embed " + model + "-o " + full + " " + dir.string()).exit_code, 3);
    // Interrupt part-way (as soon as some output exists), then resume to the end.
    const std::string watched = ext == ".npy" ? part + ".paths.txt" : part;
    run("embed " + model + "-o " + part + " " + dir.string() + " & while [ ! -s " + watched +
        " ]; do sleep 0.01; done; kill -9 \\$!; wait");
    std::ifstream partial(watched);
    const size_t lines_before =
        std::count(std::istreambuf_iterator<char>(partial), std::istreambuf_iterator<char>(), '\n');
    EXPECT_LT(lines_before, ext == ".npy" ? 450u : 600u) << "the run was not interrupted";
    EXPECT_EQ(run("embed " + model + "--resume -o " + part + " " + dir.string()).exit_code, 3);
    auto slurp = [](const std::string& path) {
      std::ifstream in(path, std::ios::binary);
      return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    };
    EXPECT_EQ(slurp(part), slurp(full));
    if (ext == ".npy") {
      EXPECT_EQ(slurp(part + ".paths.txt"), slurp(full + ".paths.txt"));
      EXPECT_EQ(slurp(part + ".errors.jsonl"), slurp(full + ".errors.jsonl"));
    }
    for (const char* suffix : {"", ".paths.txt", ".errors.jsonl"}) {
      fs::remove(full + suffix);
      fs::remove(part + suffix);
    }
  }
  fs::remove_all(dir);
}

TEST(CliTest, DownloadThenEmbedByRepoId) {
  namespace fs = std::filesystem;
  testing::HubTestServer hub;
  hub.require_token("hf_cli_token");
  const std::string cache = testing::temp_path("clipembed_cli_hub");
  fs::remove_all(cache);
  const std::string env = "HF_ENDPOINT=" + hub.endpoint() + " HF_HUB_CACHE=" + cache;
  const std::string repo = testing::HubTestServer::kRepo;
  const Result denied = run("download " + repo, true, env + " HF_TOKEN=");
  EXPECT_EQ(denied.exit_code, 2);
  EXPECT_NE(denied.out.find("HF_TOKEN"), std::string::npos) << denied.out;

  const Result got = run("download " + repo, false, env + " HF_TOKEN=hf_cli_token");
  ASSERT_EQ(got.exit_code, 0);
  EXPECT_EQ(got.out, cache + "/models--test-org--tiny-clip/snapshots/" +
                         testing::HubTestServer::kCommit + "\n");
  const Result again = run("download " + repo, true, env + " HF_TOKEN=hf_cli_token");
  EXPECT_NE(again.out.find("model.safetensors: already cached"), std::string::npos) << again.out;

  const std::string image = fixture_path("images/square.jpg");
  const Result by_id = run("embed --model " + repo + " " + image, false, "HF_HUB_CACHE=" + cache);
  const Result by_dir = run("embed --model " + fixture_path("models/tiny") + " " + image);
  ASSERT_EQ(by_id.exit_code, 0);
  EXPECT_EQ(by_id.out, by_dir.out);
  fs::remove_all(cache);
}

TEST(CliTest, BenchImagesComparesEndToEndWithTheForwardPass) {
  const Result r = run("bench --model " + fixture_path("models/tiny") + " --images " +
                       fixture_path("images") + " --limit 6 --rounds 1 --batch-size 4");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("forward pass alone"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("end to end / forward"), std::string::npos) << r.out;
}

TEST(CliTest, BenchReportsEveryBatchSizeAndTheBest) {
  const Result r = run("bench --model " + fixture_path("models/tiny") + " --seconds 0.05");
  ASSERT_EQ(r.exit_code, 0);
  for (const char* row : {"\n     1 ", "\n     8 ", "\n    16 ", "best batch: "}) {
    EXPECT_NE(r.out.find(row), std::string::npos) << row << " missing from\n" << r.out;
  }
  EXPECT_EQ(run("bench --model /nonexistent").exit_code, 2);
}

TEST(CliTest, ExitCodes) {
  EXPECT_EQ(
      run("embed --model " + fixture_path("models/tiny") + " " + fixture_path("images/square.jpg"))
          .exit_code,
      0);
  EXPECT_EQ(run("embed").exit_code, 2);
  const Result unknown = run("frobnicate", true);
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.out.find("unknown command 'frobnicate'"), std::string::npos) << unknown.out;
  EXPECT_EQ(run("embed --model /nonexistent " + fixture_path("images/square.jpg")).exit_code, 2);
}

// One parser for every command: --help on stdout with exit 0 everywhere, --version, and numbers
// checked with a message naming the option.
TEST(CliTest, EveryCommandAnswersHelpAndNumbersAreChecked) {
  for (const char* command : {"embed", "preprocess", "info", "bench", "download", "serve", "merge",
                              "tokenize", "embed-text", "classify"}) {
    const Result help = run(std::string(command) + " --help");
    EXPECT_EQ(help.exit_code, 0) << command;
    EXPECT_NE(help.out.find("Usage: clipembed " + std::string(command)), std::string::npos)
        << command << ": " << help.out;
  }
  EXPECT_EQ(run("--help").exit_code, 0);
  for (const char* flag : {"--version", "-V"}) {
    const Result version = run(flag);
    EXPECT_EQ(version.exit_code, 0);
    EXPECT_EQ(version.out.rfind("clipembed 0.", 0), 0u) << version.out;
  }
  // The version line names the kernels in use, and CLIPEMBED_ISA forces them (bench/compare reads
  // it to learn which paths this CPU has).
  const Result scalar = run("--version", false, "CLIPEMBED_ISA=scalar");
  EXPECT_NE(scalar.out.find("kernels scalar, bf16 scalar"), std::string::npos) << scalar.out;
  EXPECT_NE(run("--version").out.find(std::string("bf16 ") + bf16_kernel()), std::string::npos);
  // Choices are shown and checked by name.
  EXPECT_NE(run("serve --help").out.find("--log-format {text,json,off}"), std::string::npos);
  EXPECT_NE(run("serve --log-format bogus", true).out.find("'bogus' is not text, json or off"),
            std::string::npos);
  const std::string model = " --model " + fixture_path("models/tiny") + " ";
  for (const char* bad : {"embed --batch-size 0", "embed --batch-size abc", "embed --threads -2",
                          "bench --seconds x", "serve --port 70000", "serve --workers 0",
                          "embed --url-timeout-ms 0", "embed --format csv"}) {
    const Result r = run(bad + model + fixture_path("images/square.jpg"), true);
    EXPECT_EQ(r.exit_code, 2) << bad;
    const std::string option = std::string(bad).substr(std::string(bad).find("--"));
    EXPECT_NE(r.out.find(option.substr(0, option.find(' '))), std::string::npos)
        << bad << ": " << r.out;
  }
}

TEST(CliTest, PrecisionInt8AndBf16EqualTheLibraryAndFloat16IsRefused) {
  const std::string model = fixture_path("models/tiny-gelu");
  const std::string image = fixture_path("images/wide.png");
  const Result r = run("embed --precision int8 --model " + model + " " + image);
  ASSERT_EQ(r.exit_code, 0);
  auto lib = ClipModel::load(model, LoadOptions{.input = {}, .precision = Precision::kInt8});
  const auto record = nlohmann::json::parse(r.out);
  EXPECT_EQ(record["embedding"].get<std::vector<float>>(), lib->embed_image(image));
  EXPECT_NE(record["embedding"].get<std::vector<float>>(),
            ClipModel::load(model)->embed_image(image));

  const Result bf16 = run("embed --precision bf16 --model " + model + " " + image);
  ASSERT_EQ(bf16.exit_code, 0);
  auto lib_bf16 = ClipModel::load(model, LoadOptions{.input = {}, .precision = Precision::kBf16});
  EXPECT_EQ(nlohmann::json::parse(bf16.out)["embedding"].get<std::vector<float>>(),
            lib_bf16->embed_image(image));

  const Result half = run("embed --precision f16 --model " + model + " " + image, true);
  EXPECT_EQ(half.exit_code, 2);
  EXPECT_NE(half.out.find("float16 compute is no faster"), std::string::npos) << half.out;
  EXPECT_EQ(run("embed --precision int4 --model " + model + " " + image).exit_code, 2);
  const Result bench = run("bench --precision int8 --seconds 0.05 --model " + model);
  EXPECT_EQ(bench.exit_code, 0);
  EXPECT_NE(bench.out.find("int8"), std::string::npos) << bench.out;
}

TEST(CliTest, InfoDescribesTheModel) {
  const Result r = run("info --model " + fixture_path("models/tiny-336"));
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("dimension:      16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("patch 14, image 336"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stored as F32"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(std::string("bf16 (") +
                       (std::string(bf16_kernel()) == "scalar" ? "scalar kernels" : bf16_kernel())),
            std::string::npos)
      << r.out;
  EXPECT_NE(run("info --model " + fixture_path("models/tiny-f16")).out.find("stored as F16"),
            std::string::npos);
  EXPECT_EQ(run("info --model /nonexistent").exit_code, 2);
}

TEST(CliTest, NormalizeGivesUnitVectors) {
  const Result r = run("embed --normalize --model " + fixture_path("models/tiny-p16") + " " +
                       fixture_path("images/wide.png"));
  ASSERT_EQ(r.exit_code, 0);
  const auto v = nlohmann::json::parse(r.out)["embedding"].get<std::vector<double>>();
  double norm = 0;
  for (double x : v) norm += x * x;
  EXPECT_NEAR(norm, 1.0, 1e-5);
}

TEST(CliTest, PreprocessWritesTheCropTheModelSees) {
  const std::string out = testing::temp_path("clipembed_crop.png");
  const Result r = run("preprocess --model " + fixture_path("models/tiny") + " " +
                       fixture_path("images/hd.jpg") + " -o " + out);
  ASSERT_EQ(r.exit_code, 0);
  auto model = ClipModel::load(fixture_path("models/tiny"));
  const Image expected = model->preprocess(read_image_file(fixture_path("images/hd.jpg")));
  const Image written = read_image_file(out);
  EXPECT_EQ(written.width, 224);
  EXPECT_EQ(written.rgb, expected.rgb);
  std::filesystem::remove(out);
}

}  // namespace
}  // namespace clipembed
