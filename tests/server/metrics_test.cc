#include "server/metrics.h"

#include <gtest/gtest.h>

namespace clipembed::server {
namespace {

bool has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(MetricsTest, CountsRequestsErrorsAndLatencyBuckets) {
  Metrics m;
  m.record("/v1/embeddings", 200, 0.003);
  m.record("/v1/embeddings", 200, 0.2);
  m.record("/v1/embeddings", 400, 0.001, "image_decode");
  const std::string text = m.render({}, 3);
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
  EXPECT_TRUE(has(text, "clipembed_http_in_flight 3"));
}

TEST(MetricsTest, BatchSizeHistogramFromPoolStats) {
  ModelStats s;
  s.loaded = true;
  s.batch_sizes = {0, 4, 0, 1, 0, 0, 0, 0, 2};  // 4 batches of 1, 1 of 3, 2 of 8.
  s.images = 23;
  s.queued = 5;
  const std::string text = Metrics().render({{"m", s}}, 0);
  EXPECT_TRUE(has(text, R"(clipembed_batch_size_bucket{model="m",le="1"} 4)"));
  EXPECT_TRUE(has(text, R"(clipembed_batch_size_bucket{model="m",le="4"} 5)"));
  EXPECT_TRUE(has(text, R"(clipembed_batch_size_bucket{model="m",le="8"} 7)"));
  EXPECT_TRUE(has(text, R"(clipembed_batch_size_bucket{model="m",le="+Inf"} 7)"));
  EXPECT_TRUE(has(text, R"(clipembed_batch_size_sum{model="m"} 23)"));
  EXPECT_TRUE(has(text, R"(clipembed_batch_size_count{model="m"} 7)"));
  EXPECT_TRUE(has(text, R"(clipembed_queue_depth{model="m"} 5)"));
  EXPECT_TRUE(has(text, R"(clipembed_model_loaded{model="m"} 1)"));
}

}  // namespace
}  // namespace clipembed::server
