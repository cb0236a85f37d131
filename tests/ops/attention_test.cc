#include "ops/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace clipembed::ops {
namespace {

TEST(AttentionTest, MatchesNaiveMultiHeadAttention) {
  Runtime runtime(RuntimeOptions{.threads = 2});
  const AttentionShape s{2, 5, 3, 4};
  const int64_t d = s.heads * s.head_dim, rows = s.batch * s.tokens;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-2, 2);
  std::vector<float> q(rows * d), k(rows * d), v(rows * d), out(rows * d);
  for (auto* t : {&q, &k, &v}) {
    for (float& f : *t) f = dist(rng);
  }
  attention(runtime, q.data(), k.data(), v.data(), d, s, out.data(), d);
  for (int64_t b = 0; b < s.batch; ++b) {
    for (int64_t h = 0; h < s.heads; ++h) {
      for (int64_t i = 0; i < s.tokens; ++i) {
        std::vector<double> p(s.tokens);
        double max = -1e30, sum = 0;
        for (int64_t j = 0; j < s.tokens; ++j) {
          double dot = 0;
          for (int64_t c = 0; c < s.head_dim; ++c) {
            dot += q[(b * s.tokens + i) * d + h * s.head_dim + c] *
                   k[(b * s.tokens + j) * d + h * s.head_dim + c];
          }
          p[j] = dot / std::sqrt(static_cast<double>(s.head_dim));
          max = std::max(max, p[j]);
        }
        for (double& x : p) sum += (x = std::exp(x - max));
        for (int64_t c = 0; c < s.head_dim; ++c) {
          double expected = 0;
          for (int64_t j = 0; j < s.tokens; ++j) {
            expected += p[j] / sum * v[(b * s.tokens + j) * d + h * s.head_dim + c];
          }
          ASSERT_NEAR(out[(b * s.tokens + i) * d + h * s.head_dim + c], expected, 1e-4);
        }
      }
    }
  }
}

}  // namespace
}  // namespace clipembed::ops
