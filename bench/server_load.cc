// Load test for `clipembed serve`: starts the server, drives it from N concurrent clients with a
// mix of valid images and ~10% malformed requests, and checks while measuring:
//   - every valid request answers 200 with exactly the single-image vector (computed here with the
//     library), every malformed one its 4xx;
//   - /health answers 200 throughout (polled every 100 ms on its own connection);
//   - the server's RSS does not grow after warm-up (sampled every second);
//   - coalescing: mean batch size per level from /metrics.
// Every client keeps its connection alive. A last level holds --keep-alive connections open at
// once (1000 by default), served round-robin by 50 client threads: no valid request may fail.
// Prints p50/p99 latency and images/s per concurrency level. Exit status 1 on any violation.
//
// usage: server_load --cli build/src/clipembed --model DIR [--levels 1:10,8:10,64:30]
//                    [--threads 2] [--max-batch-size 8] [--keep-alive 1000:20] [IMAGE...]
#include <httplib.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "clipembed/model.h"
#include "io/base64.h"
#include "io/file.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct Image {
  std::string body;  // The request body.
  std::vector<float> expected;
};

struct Malformed {
  std::string body;
  int status;
};

long rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

// Sum and count of clipembed_batch_size from /metrics.
std::pair<double, double> batch_totals(httplib::Client& c) {
  auto r = c.Get("/metrics");
  double sum = 0, count = 0;
  if (!r) return {0, 0};
  std::istringstream in(r->body);
  for (std::string line; std::getline(in, line);) {
    const size_t space = line.rfind(' ');
    if (line.rfind("clipembed_batch_size_sum{", 0) == 0) sum += std::atof(line.c_str() + space);
    if (line.rfind("clipembed_batch_size_count{", 0) == 0) count += std::atof(line.c_str() + space);
  }
  return {sum, count};
}

// The p-th quantile (0..1) of sorted latencies; 0 when there are none.
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0.0;
  return sorted[std::min(sorted.size() - 1, static_cast<size_t>(p * sorted.size()))];
}

pid_t start_server(const std::vector<std::string>& args, int* port) {
  int out[2];
  if (pipe(out) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    argv.push_back(nullptr);
    execv(argv[0], const_cast<char* const*>(argv.data()));
    _exit(127);
  }
  close(out[1]);
  std::string line;
  char ch = 0;
  while (read(out[0], &ch, 1) == 1 && ch != '\n') line += ch;
  close(out[0]);
  *port = std::atoi(line.c_str() + line.rfind(':') + 1);
  return pid;
}

}  // namespace

int main(int argc, char** argv) {
  std::string cli, model_dir, levels_text = "1:10,8:10,64:30", threads = "2", max_batch = "8",
                              keep_alive = "1000:20";
  std::vector<std::string> image_paths;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--cli")
      cli = value();
    else if (a == "--model")
      model_dir = value();
    else if (a == "--levels")
      levels_text = value();
    else if (a == "--threads")
      threads = value();
    else if (a == "--max-batch-size")
      max_batch = value();
    else if (a == "--keep-alive")
      keep_alive = value();
    else
      image_paths.push_back(a);
  }
  if (cli.empty() || model_dir.empty() || image_paths.empty()) {
    std::fprintf(stderr, "usage: server_load --cli PATH --model DIR [--levels C:S,...] IMAGE...\n");
    return 2;
  }
  auto model = clipembed::ClipModel::load(model_dir);
  std::vector<Image> images;
  for (const std::string& path : image_paths) {
    const auto bytes = clipembed::io::read_file(path);
    images.push_back(
        {json{{"input", clipembed::io::encode_base64(bytes.data(), bytes.size())}}.dump(),
         model->embed_image(clipembed::ImageInput::bytes(bytes), {.normalize = true})});
  }
  const auto jpeg = clipembed::io::read_file(image_paths.front());
  const std::vector<uint8_t> truncated(jpeg.begin(), jpeg.begin() + jpeg.size() / 3);
  const std::vector<Malformed> malformed = {
      {R"({"input": "not base64!"})", 400},
      {json{{"input", clipembed::io::encode_base64(truncated.data(), truncated.size())}}.dump(),
       400},
      {"{this is not json", 400},
      {R"({"model": "no/such-model", "input": "AAAA"})", 404},
      {json{{"input", std::vector<std::string>(2049, "AAAA")}}.dump(), 413},
      {R"({"encoding_format": "float"})", 400}};

  // A thousand kept-alive connections need a descriptor each, on both sides.
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  int port = 0;
  const pid_t server = start_server({cli, "serve", "--model", model_dir, "--port", "0", "--threads",
                                     threads, "--max-batch-size", max_batch, "--log-format", "off"},
                                    &port);
  httplib::Client control("127.0.0.1", port);
  for (int i = 0; i < 1000; ++i) {
    auto r = control.Get("/health");
    if (r && r->status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  std::atomic<bool> done{false};
  std::atomic<int> health_failures{0}, health_checks{0};
  std::mutex rss_mutex;
  std::vector<std::pair<double, long>> rss;  // (seconds since start, KiB)
  const auto t0 = Clock::now();
  std::thread monitor([&] {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(5);
    int tick = 0;
    while (!done) {
      auto r = c.Get("/health");
      ++health_checks;
      if (!r || r->status != 200) ++health_failures;
      if (++tick % 10 == 0) {
        std::lock_guard<std::mutex> lock(rss_mutex);
        rss.emplace_back(std::chrono::duration<double>(Clock::now() - t0).count(), rss_kib(server));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });

  std::atomic<int> violations{0};
  std::printf("%11s %9s %9s %10s %8s %8s %10s %11s\n", "concurrency", "requests", "malformed",
              "images/s", "p50 ms", "p99 ms", "mean batch", "RSS MiB");
  std::vector<std::pair<int, double>> throughput;
  double last_level_start = 0, last_level_seconds = 0, last_level_end = 0;
  for (size_t start = 0; start < levels_text.size();) {
    size_t comma = levels_text.find(',', start);
    if (comma == std::string::npos) comma = levels_text.size();
    const std::string level = levels_text.substr(start, comma - start);
    start = comma + 1;
    const int concurrency = std::atoi(level.c_str());
    const double seconds = std::atof(level.c_str() + level.find(':') + 1);
    const auto before = batch_totals(control);
    last_level_start = std::chrono::duration<double>(Clock::now() - t0).count();
    last_level_seconds = seconds;
    std::mutex mutex;
    std::vector<double> latencies;
    std::atomic<int> requests{0}, bad_requests{0};
    const auto level_start = Clock::now();
    const auto level_end = level_start + std::chrono::duration<double>(seconds);
    std::vector<std::thread> clients;
    for (int t = 0; t < concurrency; ++t) {
      clients.emplace_back([&, t] {
        httplib::Client c("127.0.0.1", port);
        c.set_keep_alive(true);
        c.set_read_timeout(120);
        std::mt19937 rng(static_cast<unsigned>(t) * 7919u + 1);
        std::vector<double> mine;
        while (Clock::now() < level_end) {
          if (rng() % 10 == 0) {  // 10% malformed.
            const Malformed& m = malformed[rng() % malformed.size()];
            auto r = c.Post("/v1/embeddings", m.body, "application/json");
            ++bad_requests;
            if (!r || r->status != m.status) {
              ++violations;
              std::fprintf(stderr, "malformed request got %d (%s), want %d\n", r ? r->status : -1,
                           r ? "" : httplib::to_string(r.error()).c_str(), m.status);
            }
            continue;
          }
          const Image& image = images[rng() % images.size()];
          const auto q0 = Clock::now();
          auto r = c.Post("/v1/embeddings", image.body, "application/json");
          mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - q0).count());
          ++requests;
          if (!r || r->status != 200) {
            ++violations;
            std::fprintf(
                stderr, "valid request failed: %d %s\n", r ? r->status : -1,
                r ? r->body.substr(0, 200).c_str() : httplib::to_string(r.error()).c_str());
            continue;
          }
          if (json::parse(r->body)["data"][0]["embedding"].get<std::vector<float>>() !=
              image.expected) {
            ++violations;
            std::fprintf(stderr, "a vector differs from the single-image result\n");
          }
        }
        std::lock_guard<std::mutex> lock(mutex);
        latencies.insert(latencies.end(), mine.begin(), mine.end());
      });
    }
    for (auto& c : clients) c.join();
    const double elapsed = std::chrono::duration<double>(Clock::now() - level_start).count();
    const auto after = batch_totals(control);
    last_level_end = std::chrono::duration<double>(Clock::now() - t0).count();
    std::sort(latencies.begin(), latencies.end());
    auto pct = [&](double p) { return percentile(latencies, p); };
    const double mean_batch = after.second > before.second
                                  ? (after.first - before.first) / (after.second - before.second)
                                  : 0.0;
    const double ips = requests / elapsed;
    throughput.emplace_back(concurrency, ips);
    std::printf("%11d %9d %9d %10.2f %8.1f %8.1f %10.2f %11.1f\n", concurrency, requests.load(),
                bad_requests.load(), ips, pct(0.5), pct(0.99), mean_batch,
                rss_kib(server) / 1024.0);
    std::fflush(stdout);
  }
  // Many idle connections at once: every one stays open between its requests.
  const int connections = std::atoi(keep_alive.c_str());
  const double keep_seconds = std::atof(keep_alive.c_str() + keep_alive.find(':') + 1);
  if (connections > 0) {
    constexpr int kThreads = 50;
    std::vector<std::unique_ptr<httplib::Client>> pool;
    for (int i = 0; i < connections; ++i) {
      pool.push_back(std::make_unique<httplib::Client>("127.0.0.1", port));
      pool.back()->set_keep_alive(true);
      pool.back()->set_read_timeout(120);
    }
    std::atomic<int> requests{0}, failures{0};
    std::mutex mutex;
    std::vector<double> latencies;
    const auto level_start = Clock::now();
    const auto level_end = level_start + std::chrono::duration<double>(keep_seconds);
    std::vector<std::thread> threads_of_clients;
    for (int t = 0; t < kThreads; ++t) {
      threads_of_clients.emplace_back([&, t] {
        std::vector<double> mine;
        // Each thread's first round opens all of its connections; later rounds reuse them.
        for (int round = 0; round == 0 || Clock::now() < level_end; ++round) {
          for (int i = t; i < connections; i += kThreads) {
            const Image& image = images[static_cast<size_t>(i + round) % images.size()];
            const auto q0 = Clock::now();
            auto r = pool[static_cast<size_t>(i)]->Post("/v1/embeddings", image.body,
                                                        "application/json");
            mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - q0).count());
            ++requests;
            if (!r || r->status != 200 ||
                json::parse(r->body)["data"][0]["embedding"].get<std::vector<float>>() !=
                    image.expected) {
              ++failures;
              ++violations;
            }
          }
        }
        std::lock_guard<std::mutex> lock(mutex);
        latencies.insert(latencies.end(), mine.begin(), mine.end());
      });
    }
    for (auto& t : threads_of_clients) t.join();
    const double elapsed = std::chrono::duration<double>(Clock::now() - level_start).count();
    std::sort(latencies.begin(), latencies.end());
    auto pct = [&](double p) { return percentile(latencies, p); };
    std::printf(
        "%d kept-alive connections (%d client threads): %d requests, %d failed, "
        "%.2f images/s, p50 %.1f ms, p99 %.1f ms, RSS %.1f MiB\n",
        connections, kThreads, requests.load(), failures.load(), requests / elapsed, pct(0.5),
        pct(0.99), rss_kib(server) / 1024.0);
  }
  done = true;
  monitor.join();

  // RSS after warm-up, in the last (heaviest) level, from a quarter into it (the allocator, the
  // I/O threads and the pool's workers have settled): growth is the peak of the second half of
  // those samples over the peak of the first. Transient peaks (64 request bodies queued at once)
  // recur in both halves; a leak shows as a rising second half.
  std::vector<long> after_warm;
  {
    std::lock_guard<std::mutex> lock(rss_mutex);
    for (const auto& [at, kib] : rss) {
      if (at >= last_level_start + last_level_seconds / 4 && at <= last_level_end) {
        after_warm.push_back(kib);
      }
    }
  }
  long first_peak = 0, second_peak = 0;
  for (size_t i = 0; i < after_warm.size(); ++i) {
    long& peak = i < after_warm.size() / 2 ? first_peak : second_peak;
    peak = std::max(peak, after_warm[i]);
  }
  std::printf("RSS after warm-up: peak %.1f MiB in the first half, %.1f MiB in the second\n",
              first_peak / 1024.0, second_peak / 1024.0);
  std::printf("/health: %d checks, %d not 200\n", health_checks.load(), health_failures.load());
  if (throughput.size() >= 2) {
    std::printf("throughput at concurrency %d / at %d: %.2fx\n", throughput.back().first,
                throughput.front().first, throughput.back().second / throughput.front().second);
  }
  kill(server, SIGTERM);
  int status = 0;
  waitpid(server, &status, 0);
  const bool clean_exit = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  const bool rss_flat = first_peak > 0 && second_peak <= first_peak + first_peak / 20;
  std::printf("server exit: %s\n", clean_exit ? "0 after SIGTERM" : "NOT CLEAN");
  if (violations > 0 || health_failures > 0 || !rss_flat || !clean_exit) {
    std::printf("FAIL: %d request violations, %d health failures, RSS %s\n", violations.load(),
                health_failures.load(), rss_flat ? "flat" : "grew more than 5% after warm-up");
    return 1;
  }
  std::printf("PASS: no valid request failed, every malformed one got its 4xx, vectors exact\n");
  return 0;
}
