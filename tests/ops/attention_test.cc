#include "ops/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace clipembed::ops {
namespace {

// Multi-head attention in double precision, row by row, over items of any length.
std::vector<double> naive_attention(const std::vector<float>& q, const std::vector<float>& k,
                                    const std::vector<float>& v, const AttentionShape& s) {
  const int64_t d = s.heads * s.head_dim, rows = s.item_starts.back();
  std::vector<double> out(static_cast<size_t>(rows * d));
  for (size_t item = 0; item + 1 < s.item_starts.size(); ++item) {
    const int64_t first = s.item_starts[item], last = s.item_starts[item + 1];
    for (int64_t h = 0; h < s.heads; ++h) {
      for (int64_t i = first; i < last; ++i) {
        const int64_t keys_end = s.mask == AttentionMask::kCausal ? i + 1 : last;
        std::vector<double> p;
        double max = -1e30, sum = 0;
        for (int64_t j = first; j < keys_end; ++j) {
          double dot = 0;
          for (int64_t c = 0; c < s.head_dim; ++c) {
            dot += double{q[i * d + h * s.head_dim + c]} * k[j * d + h * s.head_dim + c];
          }
          p.push_back(dot / std::sqrt(static_cast<double>(s.head_dim)));
          max = std::max(max, p.back());
        }
        for (double& x : p) sum += (x = std::exp(x - max));
        for (int64_t c = 0; c < s.head_dim; ++c) {
          double expected = 0;
          for (int64_t j = first; j < keys_end; ++j) {
            expected += p[j - first] / sum * v[j * d + h * s.head_dim + c];
          }
          out[i * d + h * s.head_dim + c] = expected;
        }
      }
    }
  }
  return out;
}

void expect_matches_naive(const std::vector<int64_t>& starts, AttentionMask mask) {
  Runtime runtime(RuntimeOptions{.threads = 2});
  const AttentionShape s{starts, 3, 4, mask};
  const int64_t d = s.heads * s.head_dim, rows = starts.back();
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-2, 2);
  std::vector<float> q(rows * d), k(rows * d), v(rows * d), out(rows * d);
  for (auto* t : {&q, &k, &v}) {
    for (float& f : *t) f = dist(rng);
  }
  attention(runtime, q.data(), k.data(), v.data(), d, s, out.data(), d);
  const std::vector<double> expected = naive_attention(q, k, v, s);
  for (size_t i = 0; i < out.size(); ++i) ASSERT_NEAR(out[i], expected[i], 1e-4) << i;
}

TEST(AttentionTest, MatchesNaiveMultiHeadAttention) {
  expect_matches_naive({0, 5, 10}, AttentionMask::kNone);
}

TEST(AttentionTest, ItemsOfTheirOwnLengthsAttendOnlyToThemselves) {
  expect_matches_naive({0, 2, 9, 10, 16}, AttentionMask::kNone);
}

TEST(AttentionTest, CausalMaskAttendsToEarlierRowsOnly) {
  expect_matches_naive({0, 7, 8, 13}, AttentionMask::kCausal);
}

// A row of a causal item depends on the rows before it alone: rows appended after it (padding,
// or the rest of a longer text) leave it bit-identical.
TEST(AttentionTest, CausalRowsIgnoreLaterRows) {
  Runtime runtime(RuntimeOptions{.threads = 2});
  const int64_t d = 8, n = 6;
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> dist(-2, 2);
  std::vector<float> q(n * d), k(n * d), v(n * d);
  for (auto* t : {&q, &k, &v}) {
    for (float& f : *t) f = dist(rng);
  }
  const std::vector<int64_t> whole{0, n}, prefix{0, 4};
  std::vector<float> out_whole(n * d), out_prefix(4 * d);
  attention(runtime, q.data(), k.data(), v.data(), d, {whole, 2, 4, AttentionMask::kCausal},
            out_whole.data(), d);
  attention(runtime, q.data(), k.data(), v.data(), d, {prefix, 2, 4, AttentionMask::kCausal},
            out_prefix.data(), d);
  for (int64_t i = 0; i < 4 * d; ++i) EXPECT_EQ(out_prefix[i], out_whole[i]) << i;
}

// With one query row per item, each item's row comes out in the item's row of out, the same bits
// as in a call over every row.
TEST(AttentionTest, QueryRowsAreTheSameBitsAsEveryRow) {
  Runtime runtime(RuntimeOptions{.threads = 2});
  const int64_t d = 12;
  const std::vector<int64_t> starts{0, 5, 6, 13, 22};
  const std::vector<int64_t> query_rows{0, 5, 12, 17};
  const int64_t rows = starts.back(), items = 4;
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-2, 2);
  std::vector<float> q(rows * d), k(rows * d), v(rows * d);
  for (auto* t : {&q, &k, &v}) {
    for (float& f : *t) f = dist(rng);
  }
  for (AttentionMask mask : {AttentionMask::kNone, AttentionMask::kCausal}) {
    AttentionShape s{starts, 3, 4, mask};
    std::vector<float> every(rows * d), some(items * d, NAN);
    attention(runtime, q.data(), k.data(), v.data(), d, s, every.data(), d);
    s.query_rows = query_rows;
    attention(runtime, q.data(), k.data(), v.data(), d, s, some.data(), d);
    for (int64_t i = 0; i < items; ++i) {
      for (int64_t c = 0; c < d; ++c) {
        ASSERT_EQ(some[i * d + c], every[query_rows[i] * d + c]) << i << "," << c;
      }
    }
  }
}

}  // namespace
}  // namespace clipembed::ops
