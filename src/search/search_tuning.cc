#include "search/search_tuning.h"

#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/utils/distances.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "clipembed/error.h"
#include "search/faiss_index.h"

namespace clipembed::search {
namespace {

// Sample queries per trial: 5,000 neighbours, so a recall is known to about +-0.006.
constexpr size_t kSampleQueries = 500;
// At most this share of a small collection is held out (its queries would otherwise be the
// collection).
constexpr size_t kSampleShareDivisor = 10;
constexpr size_t kRecallAt = 10;
// Bisection steps after the doubling has bracketed the smallest value that reaches the target:
// the value kept is then within 1/16 of the bracket above the smallest.
constexpr int kBisections = 4;
// ivfpq's automatic re-ranking: candidates per result re-scored exactly, from the first to the
// most.
constexpr int kFirstRerank = 10;
constexpr int kMostRerank = 160;

// Exact search over every row but the held-out ones.
class HeldRows : public faiss::IDSelector {
 public:
  HeldRows(size_t count, std::span<const int64_t> held_out) : held_(count, true) {
    for (int64_t row : held_out) held_[static_cast<size_t>(row)] = false;
  }
  bool is_member(idx_t id) const override { return held_[static_cast<size_t>(id)]; }

 private:
  std::vector<bool> held_;
};

struct Sample {
  size_t dim = 0, k = 0;
  std::vector<float> queries;
  std::vector<float> kth_best;  // Each query's k-th best cosine among the rows held.
};

Sample exact_sample(const float* vectors, size_t dim, std::span<const int64_t> order,
                    size_t held_out, int threads) {
  Sample s;
  s.dim = dim;
  const size_t count = order.size();
  s.k = std::min(kRecallAt, count - held_out);
  const std::span<const int64_t> sample = order.subspan(count - held_out);
  s.queries.resize(held_out * dim);
  for (size_t i = 0; i < held_out; ++i) {
    std::copy_n(vectors + static_cast<size_t>(sample[i]) * dim, dim, s.queries.data() + i * dim);
  }
  std::vector<float> scores(held_out * s.k);
  std::vector<int64_t> rows(held_out * s.k);
  const HeldRows held(count, sample);
  const OmpThreads omp(threads);
  try {
    faiss::knn_inner_product(s.queries.data(), vectors, dim, held_out, count, s.k, scores.data(),
                             rows.data(), &held);
  } catch (const faiss::FaissException& e) {
    throw Error(ErrorCode::kInternal, std::string("FAISS exact search failed: ") + e.what());
  }
  for (size_t q = 0; q < held_out; ++q) s.kth_best.push_back(scores[q * s.k + s.k - 1]);
  return s;
}

// Recall@k of the index as it is set now: the share of the hits whose exact cosine reaches the
// exact k-th best (so a duplicate found in place of its twin counts).
double measure_recall(const AnnStructure& structure, const IndexSettings& settings, const Sample& s,
                      const float* vectors, int threads) {
  std::vector<int64_t> rows;
  std::vector<float> scores;
  const size_t n = s.kth_best.size();
  search_ranked(structure, settings.type == IndexType::kIvfPq ? vectors : nullptr,
                settings.ivf_rerank, s.queries.data(), n, s.k, threads, rows, scores);
  size_t hits = 0;
  for (size_t q = 0; q < n; ++q) {
    for (size_t r = 0; r < s.k; ++r) {
      const int64_t row = rows[q * s.k + r];
      if (row < 0) continue;
      const double cosine = exact_cosine(vectors + static_cast<size_t>(row) * s.dim,
                                         s.queries.data() + q * s.dim, s.dim);
      // The tolerance covers two sums of one product rounding apart.
      hits += cosine >= double{s.kth_best[q]} - 1e-5 ? 1 : 0;
    }
  }
  return static_cast<double>(hits) / static_cast<double>(n * s.k);
}

// Whether a recall measured on `trials` neighbours reaches `target` with confidence: by two
// standard errors of a proportion. Without the margin about half of the settings chosen would fall
// short on other queries (docs/perf.md has a case).
bool reaches_with_confidence(double recall, double target, size_t trials) {
  return recall - 2 * std::sqrt(recall * (1 - recall) / static_cast<double>(trials)) >= target;
}

// The smallest value in [low, high] whose `recall` `reaches` the target (high if none does), with
// its recall: doubling from low, then bisecting the last bracket.
std::pair<int, double> smallest_reaching(int low, int high,
                                         const std::function<bool(double)>& reaches,
                                         const std::function<double(int)>& recall) {
  int failing = low;  // Below the bracket once doubling starts; equal to value if low passes.
  int value = low;
  double measured = recall(value);
  while (!reaches(measured) && value < high) {
    failing = value;
    value = std::min(high, value * 2);
    measured = recall(value);
  }
  if (!reaches(measured)) return {value, measured};
  for (int step = 0; step < kBisections && value - failing > 1; ++step) {
    const int middle = failing + (value - failing) / 2;
    const double at_middle = recall(middle);
    if (reaches(at_middle)) {
      value = middle;
      measured = at_middle;
    } else {
      failing = middle;
    }
  }
  return {value, measured};
}

}  // namespace

size_t tuning_sample_size(IndexType type, size_t count) {
  if (type == IndexType::kFlat) return 0;
  return std::min(kSampleQueries, count / kSampleShareDivisor);
}

std::vector<int64_t> structure_order(size_t count, size_t held_out) {
  std::vector<bool> sampled(count, false);
  for (size_t i = 0; i < held_out; ++i) sampled[i * count / held_out] = true;
  std::vector<int64_t> order;
  order.reserve(count);
  for (size_t row = 0; row < count; ++row) {
    if (!sampled[row]) order.push_back(static_cast<int64_t>(row));
  }
  for (size_t row = 0; row < count; ++row) {
    if (sampled[row]) order.push_back(static_cast<int64_t>(row));
  }
  return order;
}

double tune_search(AnnStructure& structure, IndexSettings& resolved, const float* vectors,
                   int dimension, std::span<const int64_t> order, size_t held_out, int threads) {
  int* setting = nullptr;
  int low = 1, high = 1;
  if (resolved.type == IndexType::kHnsw) {
    setting = &resolved.hnsw_ef_search;
    low = static_cast<int>(std::max<size_t>(16, kRecallAt));
    // Past the collection's size a longer candidate list finds nothing more.
    high = static_cast<int>(std::clamp<size_t>(order.size(), static_cast<size_t>(low), 1 << 16));
  } else if (resolved.type == IndexType::kIvfPq) {
    setting = &resolved.ivf_nprobe;
    high = resolved.ivf_nlist;
  } else {
    return 1;
  }
  if (held_out == 0) {
    // Too few vectors to sample (under 10): the automatic setting searches exhaustively; an
    // explicit one is kept, unmeasured.
    if (*setting == 0) *setting = high;
    structure.apply(resolved);
    return *setting >= high ? 1 : 0;
  }
  const Sample sample =
      exact_sample(vectors, static_cast<size_t>(dimension), order, held_out, threads);
  const auto reaches = [&](double measured) {
    return reaches_with_confidence(measured, resolved.target_recall,
                                   sample.kth_best.size() * sample.k);
  };
  auto recall = [&](int value) {
    *setting = value;
    structure.apply(resolved);
    return measure_recall(structure, resolved, sample, vectors, threads);
  };
  if (resolved.type == IndexType::kIvfPq && resolved.ivf_rerank == 0) {
    // Visiting every list bounds what nprobe can reach: PQ's rounding drops true neighbours from
    // too short a candidate list, so the list grows until every list visited reaches the target.
    const int nprobe = *setting;
    *setting = high;
    for (resolved.ivf_rerank = kFirstRerank;
         resolved.ivf_rerank < kMostRerank && !reaches(recall(high));) {
      resolved.ivf_rerank = std::min(kMostRerank, resolved.ivf_rerank * 2);
    }
    *setting = nprobe;
  }
  if (*setting != 0) return recall(*setting);
  const auto [value, measured] = smallest_reaching(low, high, reaches, recall);
  *setting = value;
  structure.apply(resolved);
  return measured;
}

}  // namespace clipembed::search
