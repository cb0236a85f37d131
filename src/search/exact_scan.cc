#include "search/exact_scan.h"

#include <algorithm>
#include <cmath>

#include "clipembed/runtime.h"
#include "kernels/dot_rows.h"

namespace clipembed::search {
namespace {

// Rows one runtime task scans: 16 MiB of 512-float vectors, enough to hide a task's start and
// few enough that two threads share a 200,000-row collection evenly.
constexpr size_t kChunkRows = 8192;
// Rows scored per kernel call, against a group of at most kQueryGroup queries: the rows (128 KiB
// at 512 floats) stay in L2 while every group is scored against them, and the group's queries
// (64 KiB) stay there for the whole chunk.
constexpr size_t kBlockRows = 64;
constexpr size_t kQueryGroup = 32;

struct Hit {
  float score;
  int64_t row;
};

// Better: the higher score, then the lower row.
bool better(const Hit& a, const Hit& b) {
  return a.score > b.score || (a.score == b.score && a.row < b.row);
}

// The best k hits seen so far, as a heap whose top is the worst of them. Rows arrive in ascending
// order, so a newcomer whose score equals the worst's is worse than it.
class TopK {
 public:
  explicit TopK(size_t k) : k_(k) { heap_.reserve(k); }
  void offer(float score, int64_t row) {
    if (heap_.size() == k_) {
      if (!(score > heap_.front().score)) return;  // Also drops NaN.
      std::pop_heap(heap_.begin(), heap_.end(), better);
      heap_.back() = {score, row};
    } else {
      if (std::isnan(score)) return;
      heap_.push_back({score, row});
    }
    std::push_heap(heap_.begin(), heap_.end(), better);
  }
  const std::vector<Hit>& hits() const { return heap_; }

 private:
  size_t k_;
  std::vector<Hit> heap_;
};

// Scores rows [begin, end) against every query into one TopK per query.
void scan_chunk(const float* vectors, size_t begin, size_t end, size_t dim, const float* queries,
                size_t query_count, std::vector<TopK>& best) {
  const kernels::Isa isa = kernels::active_isa();
  std::vector<float> scores(kQueryGroup * kBlockRows);
  for (size_t r = begin; r < end; r += kBlockRows) {
    const size_t rows = std::min(kBlockRows, end - r);
    for (size_t q = 0; q < query_count; q += kQueryGroup) {
      const size_t group = std::min(kQueryGroup, query_count - q);
      kernels::dot_rows(isa, queries + q * dim, static_cast<int64_t>(group), vectors + r * dim,
                        static_cast<int64_t>(rows), static_cast<int64_t>(dim), scores.data(),
                        static_cast<int64_t>(kBlockRows));
      for (size_t g = 0; g < group; ++g) {
        for (size_t i = 0; i < rows; ++i) {
          best[q + g].offer(scores[g * kBlockRows + i], static_cast<int64_t>(r + i));
        }
      }
    }
  }
}

size_t chunk_count(size_t rows) { return (rows + kChunkRows - 1) / kChunkRows; }

}  // namespace

void exact_search(const float* vectors, size_t count, size_t dim, const float* queries,
                  size_t query_count, size_t k, std::vector<int64_t>& rows,
                  std::vector<float>& scores) {
  k = std::min(k, count);
  rows.assign(query_count * k, -1);
  scores.assign(query_count * k, 0);
  if (k == 0 || query_count == 0) return;
  const size_t chunks = chunk_count(count);
  std::vector<std::vector<TopK>> found(chunks);
  shared_runtime().parallel_for(0, static_cast<int64_t>(chunks), [&](int64_t first, int64_t last) {
    for (auto c = static_cast<size_t>(first); c < static_cast<size_t>(last); ++c) {
      found[c].assign(query_count, TopK(k));
      scan_chunk(vectors, c * kChunkRows, std::min(count, (c + 1) * kChunkRows), dim, queries,
                 query_count, found[c]);
    }
  });
  std::vector<Hit> merged;
  for (size_t q = 0; q < query_count; ++q) {
    merged.clear();
    for (const auto& chunk : found) {
      const auto& hits = chunk[q].hits();
      merged.insert(merged.end(), hits.begin(), hits.end());
    }
    const size_t kept = std::min(k, merged.size());
    std::partial_sort(merged.begin(), merged.begin() + static_cast<std::ptrdiff_t>(kept),
                      merged.end(), better);
    for (size_t i = 0; i < kept; ++i) {
      rows[q * k + i] = merged[i].row;
      scores[q * k + i] = merged[i].score;
    }
  }
}

std::vector<std::pair<size_t, size_t>> exact_pairs_above(const float* vectors, size_t count,
                                                         size_t dim, float threshold) {
  // Query groups of kQueryGroup rows, each scored against the rows after its first: every pair
  // once, half the products of a scan of every row against every row.
  const size_t groups = (count + kQueryGroup - 1) / kQueryGroup;
  std::vector<std::vector<std::pair<size_t, size_t>>> found(groups);
  shared_runtime().parallel_for(0, static_cast<int64_t>(groups), [&](int64_t first, int64_t last) {
    const kernels::Isa isa = kernels::active_isa();
    std::vector<float> scores(kQueryGroup * kBlockRows);
    for (auto g = static_cast<size_t>(first); g < static_cast<size_t>(last); ++g) {
      const size_t q0 = g * kQueryGroup, group = std::min(kQueryGroup, count - q0);
      for (size_t r = q0; r < count; r += kBlockRows) {
        const size_t rows = std::min(kBlockRows, count - r);
        kernels::dot_rows(isa, vectors + q0 * dim, static_cast<int64_t>(group), vectors + r * dim,
                          static_cast<int64_t>(rows), static_cast<int64_t>(dim), scores.data(),
                          static_cast<int64_t>(kBlockRows));
        for (size_t q = 0; q < group; ++q) {
          for (size_t i = 0; i < rows; ++i) {
            if (r + i > q0 + q && scores[q * kBlockRows + i] > threshold) {
              found[g].emplace_back(q0 + q, r + i);
            }
          }
        }
      }
    }
  });
  std::vector<std::pair<size_t, size_t>> pairs;
  for (auto& group : found) pairs.insert(pairs.end(), group.begin(), group.end());
  std::sort(pairs.begin(), pairs.end());
  return pairs;
}

}  // namespace clipembed::search
