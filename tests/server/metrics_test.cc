#include "server/metrics.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <regex>
#include <set>
#include <sstream>

namespace clipembed::server {
namespace {

bool has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

ServerSnapshot snapshot_with(const std::string& model, const ModelStats& stats) {
  ServerSnapshot s;
  s.models.emplace_back(model, stats);
  return s;
}

// The exposition format's rules that `promtool check metrics` checks, for machines without
// promtool: every sample's family has HELP and TYPE lines first and appears once, names are
// valid, counters end in _total, histograms have cumulative buckets ending in +Inf with _sum and
// _count, and label values are quoted with \\, \" and \n escaped. Returns the problems.
std::vector<std::string> exposition_problems(const std::string& text) {
  std::vector<std::string> problems;
  const std::regex name_re("[a-zA-Z_:][a-zA-Z0-9_:]*");
  const std::regex sample_re(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")*)?\})? (-?[0-9.e+-]+|\+Inf|NaN))");
  std::map<std::string, std::string> types;
  std::set<std::string> helped, closed;
  std::string current;
  std::map<std::string, double> last_bucket;  // Series (without le) -> last cumulative count.
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      std::istringstream words(line.substr(7));
      std::string name, rest;
      words >> name >> rest;
      if (!std::regex_match(name, name_re)) problems.push_back("bad name: " + line);
      if (name != current) {
        if (closed.count(name) != 0) problems.push_back("family repeated: " + name);
        if (!current.empty()) closed.insert(current);
        current = name;
      }
      if (line[2] == 'H') helped.insert(name);
      if (line[2] == 'T') {
        types[name] = rest;
        if (rest == "counter" && name.size() > 6 && name.substr(name.size() - 6) != "_total") {
          problems.push_back("counter without _total: " + name);
        }
      }
      continue;
    }
    std::smatch m;
    if (!std::regex_match(line, m, sample_re)) {
      problems.push_back("bad sample: " + line);
      continue;
    }
    std::string family = m[1];
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s = suffix;
      if (family.size() > s.size() && family.substr(family.size() - s.size()) == s &&
          types.count(family.substr(0, family.size() - s.size())) != 0) {
        family = family.substr(0, family.size() - s.size());
      }
    }
    if (family != current) problems.push_back("sample outside its family: " + line);
    if (types.count(family) == 0 || helped.count(family) == 0) {
      problems.push_back("no HELP/TYPE before: " + line);
    }
    if (types[family] == "histogram" && m[1] == family + "_bucket") {
      const std::string labels = m[3];
      const size_t le = labels.find("le=\"");
      if (le == std::string::npos) {
        problems.push_back("bucket without le: " + line);
        continue;
      }
      const std::string series = labels.substr(0, le);
      const double value = std::stod(m[m.size() - 1]);  // The last group: the value.
      if (last_bucket.count(series) != 0 && value < last_bucket[series]) {
        problems.push_back("buckets not cumulative: " + line);
      }
      last_bucket[series] = value;
      if (labels.find("le=\"+Inf\"") != std::string::npos) last_bucket.erase(series);
    }
  }
  if (!last_bucket.empty()) problems.push_back("a histogram without its +Inf bucket");
  return problems;
}

ModelStats busy_model() {
  ModelStats s;
  s.loaded = true;
  s.batch_sizes = {0, 4, 0, 1, 0, 0, 0, 0, 2};  // 4 batches of 1, 1 of 3, 2 of 8.
  s.images = 23;
  s.queued = 5;
  s.queue_wait.add(0.004);
  s.queue_wait.add(0.2);
  s.forward.add(0.03);
  return s;
}

TEST(MetricsTest, CountsRequestsErrorsAndLatencyBuckets) {
  Metrics m;
  m.record("/v1/embeddings", 200, 0.003);
  m.record("/v1/embeddings", 200, 0.2);
  m.record("/v1/embeddings", 400, 0.001, "image_decode");
  ServerSnapshot s;
  s.in_flight = 3;
  s.connections = 7;
  const std::string text = m.render(s);
  EXPECT_TRUE(has(text, R"(clipembed_http_requests_total{route="/v1/embeddings",status="200"} 2)"));
  EXPECT_TRUE(has(text, R"(clipembed_http_requests_total{route="/v1/embeddings",status="400"} 1)"));
  EXPECT_TRUE(
      has(text, R"(clipembed_http_errors_total{route="/v1/embeddings",code="image_decode"} 1)"));
  // Buckets are cumulative.
  EXPECT_TRUE(has(
      text,
      R"(clipembed_http_request_duration_seconds_bucket{route="/v1/embeddings",le="0.005"} 2)"));
  EXPECT_TRUE(
      has(text,
          R"(clipembed_http_request_duration_seconds_bucket{route="/v1/embeddings",le="0.1"} 2)"));
  EXPECT_TRUE(
      has(text,
          R"(clipembed_http_request_duration_seconds_bucket{route="/v1/embeddings",le="+Inf"} 3)"));
  EXPECT_TRUE(
      has(text, R"(clipembed_http_request_duration_seconds_count{route="/v1/embeddings"} 3)"));
  EXPECT_TRUE(has(text, "clipembed_http_in_flight_requests 3"));
  EXPECT_TRUE(has(text, "clipembed_http_connections 7"));
}

TEST(MetricsTest, ModelHistogramsFromPoolStats) {
  const std::string text = Metrics().render(snapshot_with("m", busy_model()));
  EXPECT_TRUE(has(text, R"(clipembed_batch_size_bucket{model="m",le="1"} 4)"));
  EXPECT_TRUE(has(text, R"(clipembed_batch_size_bucket{model="m",le="4"} 5)"));
  EXPECT_TRUE(has(text, R"(clipembed_batch_size_bucket{model="m",le="8"} 7)"));
  EXPECT_TRUE(has(text, R"(clipembed_batch_size_bucket{model="m",le="+Inf"} 7)"));
  EXPECT_TRUE(has(text, R"(clipembed_batch_size_sum{model="m"} 23)"));
  EXPECT_TRUE(has(text, R"(clipembed_batch_size_count{model="m"} 7)"));
  EXPECT_TRUE(has(text, R"(clipembed_queue_depth{model="m"} 5)"));
  EXPECT_TRUE(has(text, R"(clipembed_model_loaded{model="m"} 1)"));
  EXPECT_TRUE(has(text, R"(clipembed_queue_wait_seconds_bucket{model="m",le="0.005"} 1)"));
  EXPECT_TRUE(has(text, R"(clipembed_queue_wait_seconds_count{model="m"} 2)"));
  EXPECT_TRUE(has(text, R"(clipembed_forward_seconds_bucket{model="m",le="0.05"} 1)"));
}

TEST(MetricsTest, BuildInfoAndProcessFigures) {
  // The kernel counts CPU time in clock ticks (10 ms): a test process that has just started may
  // have used none yet, so it works for a few ticks first.
  const std::clock_t start = std::clock();
  volatile double sink = 0;
  while (std::clock() - start < CLOCKS_PER_SEC / 20) sink = sink + 1;
  const std::string text = Metrics().render({});
  EXPECT_NE(text.find("clipembed_build_info{version=\""), std::string::npos);
  EXPECT_NE(text.find(",isa=\""), std::string::npos);
  for (const char* name : {"process_resident_memory_bytes ", "process_cpu_seconds_total ",
                           "process_open_fds ", "process_start_time_seconds "}) {
    const size_t at = text.find(std::string("\n") + name);
    ASSERT_NE(at, std::string::npos) << name;
    EXPECT_GT(std::stod(text.substr(at + std::strlen(name) + 1)), 0) << name;
  }
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  EXPECT_EQ(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  Metrics m;
  m.record("/v1/embeddings", 400, 0.01, "weird\"code\n");
  const std::string text = m.render(snapshot_with("we\"ird\\name\n", busy_model()));
  EXPECT_TRUE(has(text, R"(clipembed_queue_depth{model="we\"ird\\name\n"} 5)"));
  EXPECT_TRUE(exposition_problems(text).empty());
}

TEST(MetricsTest, TheExpositionFollowsTheFormatRules) {
  Metrics m;
  m.record("/v1/embeddings", 200, 0.01);
  m.record("/health", 200, 0.0001);
  m.record("/v1/embeddings", 429, 0.01, "overloaded");
  ServerSnapshot s = snapshot_with("a", busy_model());
  s.models.emplace_back("b", ModelStats{});
  const std::string text = m.render(s);
  const auto problems = exposition_problems(text);
  EXPECT_TRUE(problems.empty()) << problems.front() << "\n" << text;
  // The checker itself catches what it should.
  EXPECT_FALSE(
      exposition_problems("# HELP x_count c\n# TYPE x_count counter\nx_count 1\n").empty());
  EXPECT_FALSE(exposition_problems("y 1\n").empty());
  EXPECT_FALSE(exposition_problems("# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
                                   "h_bucket{le=\"2\"} 1\nh_bucket{le=\"+Inf\"} 2\n")
                   .empty());

  // And promtool itself, where it is installed (scripts/setup installs it).
  const std::string check = "command -v promtool >/dev/null 2>&1 || exit 0; promtool check metrics";
  FILE* pipe = popen(check.c_str(), "w");
  ASSERT_NE(pipe, nullptr);
  std::fwrite(text.data(), 1, text.size(), pipe);
  EXPECT_EQ(pclose(pipe), 0) << "promtool check metrics found problems (see its output above)";
}

}  // namespace
}  // namespace clipembed::server
