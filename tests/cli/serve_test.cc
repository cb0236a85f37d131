// Runs `clipembed serve` as a separate process: signals, environment, thread count, loading.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "io/base64.h"
#include "io/file.h"
#include "support/fixtures.h"
#include "support/http_test_server.h"
#include "support/raw_http.h"
#include "support/synthetic_images.h"

namespace clipembed {
namespace {

namespace fs = std::filesystem;
using testing::fixture_path;

// A `clipembed serve` child process; its port is read from the line it prints on start.
class ServeProcess {
 public:
  // `stderr_path`: where the child's stderr goes ("" keeps the test's).
  ServeProcess(const std::vector<std::string>& args, const std::vector<std::string>& env = {},
               const std::string& stderr_path = "") {
    int out[2];
    EXPECT_EQ(pipe(out), 0);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      if (!stderr_path.empty()) {
        const int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(err, STDERR_FILENO);
      }
      for (const std::string& e : env) putenv(const_cast<char*>(e.c_str()));
      std::vector<const char*> argv = {CLIPEMBED_CLI_PATH, "serve"};
      for (const std::string& a : args) argv.push_back(a.c_str());
      argv.push_back(nullptr);
      execv(CLIPEMBED_CLI_PATH, const_cast<char* const*>(argv.data()));
      _exit(127);
    }
    close(out[1]);
    std::string line;
    char c = 0;
    while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
    close(out[0]);
    const size_t colon = line.rfind(':');
    if (line.find("listening on") != std::string::npos && colon != std::string::npos) {
      port_ = std::atoi(line.c_str() + colon + 1);
    }
  }
  ~ServeProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60);
    return c;
  }
  bool wait_healthy() const {
    auto c = client();
    for (int i = 0; i < 1000; ++i) {
      auto r = c.Get("/health");
      if (r && r->status == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  int threads() const {
    std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("Threads:", 0) == 0) return std::atoi(line.c_str() + 8);
    }
    return -1;
  }
  // Sends `signal` (0: none) and returns the exit status (-1 if it did not exit normally).
  int stop(int signal) {
    if (signal != 0) kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  bool exited_ = false;
};

std::string request_body(const std::string& fixture) {
  const auto bytes = io::read_file(fixture_path(fixture));
  return nlohmann::json{{"input", io::encode_base64(bytes.data(), bytes.size())}}.dump();
}

TEST(ServeTest, ThreadCountDoesNotDependOnWorkers) {
  std::vector<int> counts;
  for (const char* workers : {"1", "16"}) {
    ServeProcess server({"--model", fixture_path("models/tiny"), "--port", "0", "--workers",
                         workers, "--threads", "2"});
    ASSERT_GT(server.port(), 0);
    ASSERT_TRUE(server.wait_healthy());
    // Concurrent requests make the pool start as many workers as it will.
    std::vector<std::thread> clients;
    for (int i = 0; i < 8; ++i) {
      clients.emplace_back([&] {
        auto c = server.client();
        for (int k = 0; k < 4; ++k) {
          auto r = c.Post("/v1/embeddings", request_body("images/gray.png"), "application/json");
          EXPECT_TRUE(r && r->status == 200);
        }
      });
    }
    for (auto& t : clients) t.join();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // The loader thread has ended.
    counts.push_back(server.threads());
    EXPECT_EQ(server.stop(SIGTERM), 0);
  }
  EXPECT_GT(counts[0], 0);
  EXPECT_EQ(counts[0], counts[1]);
}

TEST(ServeTest, SigtermFinishesInFlightRequestsAndExitsZero) {
  testing::HttpTestServer images;
  ServeProcess server(
      {"--model", fixture_path("models/tiny"), "--port", "0", "--allow-private-urls"});
  ASSERT_TRUE(server.wait_healthy());
  int slow_status = 0;
  std::thread slow([&] {
    auto c = server.client();
    auto r = c.Post("/v1/embeddings", nlohmann::json{{"input", images.url("/slow")}}.dump(),
                    "application/json");
    slow_status = r ? r->status : -1;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(server.stop(SIGTERM), 0);
  slow.join();
  EXPECT_EQ(slow_status, 400);  // Answered (its body is not an image), not dropped.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(ServeTest, TheEnvironmentConfiguresTheServer) {
  ServeProcess server({}, {"CLIPEMBED_MODEL=" + fixture_path("models/tiny"), "CLIPEMBED_PORT=0",
                           "CLIPEMBED_API_KEY=sk-env", "CLIPEMBED_MAX_ITEMS=1"});
  ASSERT_GT(server.port(), 0);
  ASSERT_TRUE(server.wait_healthy());
  auto c = server.client();
  auto denied = c.Post("/v1/embeddings", request_body("images/gray.png"), "application/json");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 401);
  httplib::Headers auth = {{"Authorization", "Bearer sk-env"}};
  auto ok = c.Post("/v1/embeddings", auth, request_body("images/gray.png"), "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  auto two = c.Post("/v1/embeddings", auth, R"({"input": ["a", "b"]})", "application/json");
  ASSERT_TRUE(two);
  EXPECT_EQ(two->status, 413);
  EXPECT_EQ(server.stop(SIGINT), 0);
}

// A model that cannot exist is an error at start-up (exit 2, with the reason), not a loader
// retrying every second.
TEST(ServeTest, ANonexistentModelExitsTwoAtOnce) {
  const std::string log = testing::temp_path("clipembed_serve_missing.log");
  const auto start = std::chrono::steady_clock::now();
  ServeProcess server({"--model", "/nonexistent/clip", "--port", "0"}, {}, log);
  EXPECT_EQ(server.port(), 0);  // It never listened.
  EXPECT_EQ(server.stop(0), 2);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("model_invalid"), std::string::npos) << text;
  EXPECT_NE(text.find("/nonexistent/clip"), std::string::npos) << text;
  fs::remove(log);
}

// --grace-ms bounds the exit: a 10 s URL download and a client trickling its header do not keep
// the process past grace + 1 s, and it still exits 0.
TEST(ServeTest, SigtermExitsWithinTheGracePeriod) {
  testing::HttpTestServer images;
  ServeProcess server({"--model", fixture_path("models/tiny"), "--port", "0",
                       "--allow-private-urls", "--grace-ms", "1000", "--log-format", "off"});
  ASSERT_TRUE(server.wait_healthy());
  std::thread download([&] {
    auto c = server.client();
    c.Post("/v1/embeddings", nlohmann::json{{"input", images.url("/drip?ms=10000")}}.dump(),
           "application/json");
  });
  testing::RawConnection trickler(server.port());
  trickler.send("POST /v1/embeddings HTTP/1.1\r\nHo");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(server.stop(SIGTERM), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2000));
  download.join();
  for (int i = 0; i < 40 && images.drips() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(images.drips(), 0);
}

// The key can come from a file (not the command line), and every request leaves one access-log
// line on stderr with what the operator needs and nothing from the request's body or key.
TEST(ServeTest, ApiKeyFileAndAccessLog) {
  const std::string key_file = testing::temp_path("clipembed_key.txt");
  const std::string log = testing::temp_path("clipembed_access.log");
  std::ofstream(key_file) << "sk-from-file\n";
  {
    ServeProcess server({"--model", fixture_path("models/tiny"), "--port", "0", "--api-key-file",
                         key_file, "--log-format", "json"},
                        {}, log);
    ASSERT_TRUE(server.wait_healthy());
    auto c = server.client();
    auto denied = c.Post("/v1/embeddings", request_body("images/gray.png"), "application/json");
    ASSERT_TRUE(denied);
    EXPECT_EQ(denied->status, 401);
    httplib::Headers auth = {{"Authorization", "Bearer sk-from-file"}, {"X-Request-Id", "req-42"}};
    auto ok = c.Post("/v1/embeddings", auth, request_body("images/gray.png"), "application/json");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200);
    EXPECT_EQ(ok->get_header_value("x-request-id"), "req-42");
    EXPECT_EQ(server.stop(SIGTERM), 0);
  }
  // With json, every stderr line is one JSON object: the start, signal and stop lines too.
  std::ifstream in(log);
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) {
    ASSERT_TRUE(nlohmann::json::accept(line)) << line;
    lines.push_back(nlohmann::json::parse(line));
  }
  for (const char* event : {"SIGTERM received, draining", "stopped"}) {
    EXPECT_TRUE(std::any_of(lines.begin(), lines.end(), [&](const auto& l) {
      return l.contains("message") && l["message"] == event && l["level"] == "info";
    })) << event;
  }
  const auto logged = std::find_if(lines.begin(), lines.end(),
                                   [](const auto& l) { return l["request_id"] == "req-42"; });
  ASSERT_NE(logged, lines.end());
  EXPECT_EQ((*logged)["method"], "POST");
  EXPECT_EQ((*logged)["route"], "/v1/embeddings");
  EXPECT_EQ((*logged)["status"], 200);
  EXPECT_EQ((*logged)["items"], 1);
  EXPECT_EQ((*logged)["model"], "tiny");
  EXPECT_GT((*logged)["bytes_in"], 1000);
  EXPECT_TRUE((*logged)["duration_ms"].is_number());
  EXPECT_TRUE((*logged)["time"].is_string());
  const bool denied_logged = std::any_of(lines.begin(), lines.end(), [](const auto& l) {
    return l["status"] == 401 && l["error"] == "invalid_api_key";
  });
  EXPECT_TRUE(denied_logged);
  std::ifstream again(log);
  const std::string text((std::istreambuf_iterator<char>(again)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find("sk-from-file"), std::string::npos);
  EXPECT_EQ(text.find("iVBOR"), std::string::npos);  // No body (base64 PNG) is ever echoed.
  fs::remove(key_file);
  fs::remove(log);
}

// SIGHUP (the terminal closed) drains and stops like SIGTERM: never a silent death.
TEST(ServeTest, SighupDrainsAndExitsZero) {
  const std::string log = testing::temp_path("clipembed_sighup.log");
  {
    ServeProcess server({"--model", fixture_path("models/tiny"), "--port", "0"}, {}, log);
    ASSERT_TRUE(server.wait_healthy());
    EXPECT_EQ(server.stop(SIGHUP), 0);
  }
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("SIGHUP received, draining"), std::string::npos) << text;
  fs::remove(log);
}

// stderr piped into a reader that has gone (`serve 2>&1 | head -n1`): the access-log writes
// fail with EPIPE, and the server goes on answering.
TEST(ServeTest, ALostLogReaderNeverStopsTheServer) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const std::string write_end =
      "/proc/" + std::to_string(getpid()) + "/fd/" + std::to_string(pipe_fds[1]);
  ServeProcess server({"--model", fixture_path("models/tiny"), "--port", "0"}, {}, write_end);
  close(pipe_fds[1]);
  ASSERT_TRUE(server.wait_healthy());
  close(pipe_fds[0]);  // The reader goes: the next log line meets a broken pipe.
  auto c = server.client();
  for (int i = 0; i < 3; ++i) {
    auto r = c.Post("/v1/embeddings", request_body("images/gray.png"), "application/json");
    ASSERT_TRUE(r) << "request " << i << ": the server is gone";
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(server.stop(SIGTERM), 0);
}

// Under an address-space limit below what a request needs, that request fails with a typed 503
// (memory_exhausted) and the server goes on serving the others: no abort on std::bad_alloc in a
// decode, a forward pass or a JSON answer.
TEST(ServeTest, MemoryShortRequestsFailAloneWithATypedError) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "a sanitizer's allocator aborts instead of throwing std::bad_alloc";
#endif
  ServeProcess server({"--model", fixture_path("models/tiny"), "--port", "0", "--log-format", "off",
                       "--max-decode-bytes", "8000000000"});
  ASSERT_TRUE(server.wait_healthy());
  auto c = server.client();
  auto warm = c.Post("/v1/embeddings", request_body("images/gray.png"), "application/json");
  ASSERT_TRUE(warm);
  ASSERT_EQ(warm->status, 200);
  // What the process has mapped now, plus 64 MiB: a 6000 x 6000 image (a 108 MB canvas) cannot
  // be decoded, a small one can.
  size_t mapped_kib = 0;
  {
    std::ifstream status("/proc/" + std::to_string(server.pid()) + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("VmSize:", 0) == 0) mapped_kib = std::stoul(line.substr(7));
    }
  }
  ASSERT_GT(mapped_kib, 0u);
  const rlimit limit{mapped_kib * 1024 + (64u << 20), RLIM_INFINITY};
  ASSERT_EQ(prlimit(server.pid(), RLIMIT_AS, &limit, nullptr), 0);
  const std::vector<uint8_t> big = testing::encode_png(6000, 6000, 2, 8, false);
  const std::string big_body =
      nlohmann::json{{"input", io::encode_base64(big.data(), big.size())}}.dump();
  for (int round = 0; round < 2; ++round) {
    auto refused = c.Post("/v1/embeddings", big_body, "application/json");
    ASSERT_TRUE(refused) << "the server is gone";
    EXPECT_EQ(refused->status, 503) << refused->body;
    EXPECT_EQ(nlohmann::json::parse(refused->body)["error"]["code"], "memory_exhausted");
    auto ok = c.Post("/v1/embeddings", request_body("images/gray.png"), "application/json");
    ASSERT_TRUE(ok) << "the server is gone";
    EXPECT_EQ(ok->status, 200);
  }
  EXPECT_EQ(server.stop(SIGTERM), 0);
}

}  // namespace
}  // namespace clipembed
