// Runs `clipembed serve` as a separate process: signals, environment, thread count, loading.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "io/base64.h"
#include "io/file.h"
#include "support/fixtures.h"
#include "support/http_test_server.h"

namespace clipembed {
namespace {

namespace fs = std::filesystem;
using testing::fixture_path;

// A `clipembed serve` child process; its port is read from the line it prints on start.
class ServeProcess {
 public:
  ServeProcess(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    int out[2];
    EXPECT_EQ(pipe(out), 0);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
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
  // Sends `signal` and returns the exit status (-1 if it did not exit normally).
  int stop(int signal) {
    kill(pid_, signal);
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

// The model's config.json is a FIFO, so loading blocks until the test lets it go: the server
// must answer 503 meanwhile, and become ready once the model loads (after one retry, since the
// FIFO itself is not a loadable file).
TEST(ServeTest, Answers503WhileTheModelLoads) {
  const fs::path dir = testing::temp_path("clipembed_slow_model");
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const char* f : {"preprocessor_config.json", "model.safetensors"}) {
    fs::copy_file(fixture_path(std::string("models/tiny/") + f), dir / f);
  }
  ASSERT_EQ(mkfifo((dir / "config.json").c_str(), 0600), 0);
  ServeProcess server({"--model", dir.string(), "--port", "0"});
  ASSERT_GT(server.port(), 0);
  auto c = server.client();
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 503);
  EXPECT_EQ(nlohmann::json::parse(health->body)["status"], "loading");
  auto early = c.Post("/v1/embeddings", request_body("images/gray.png"), "application/json");
  ASSERT_TRUE(early);
  EXPECT_EQ(early->status, 503);
  EXPECT_EQ(nlohmann::json::parse(early->body)["error"]["code"], "model_loading");
  EXPECT_FALSE(early->get_header_value("Retry-After").empty());

  // Release the blocked reader, with the real config already in the FIFO's place.
  const int fifo = open((dir / "config.json").c_str(), O_WRONLY);
  ASSERT_GE(fifo, 0);
  fs::copy_file(fixture_path("models/tiny/config.json"), dir / "config.json.real");
  fs::rename(dir / "config.json.real", dir / "config.json");
  close(fifo);
  EXPECT_TRUE(server.wait_healthy());
  auto late = c.Post("/v1/embeddings", request_body("images/gray.png"), "application/json");
  ASSERT_TRUE(late);
  EXPECT_EQ(late->status, 200);
  EXPECT_EQ(server.stop(SIGTERM), 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace clipembed
