#include "search/ann_structure.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string_view>

#include "clipembed/error.h"
#include "search/faiss_index.h"
#include "search/hnsw_structure.h"

namespace clipembed::search {

double exact_cosine(const float* a, const float* b, size_t dimension) {
  double sum = 0;
  for (size_t d = 0; d < dimension; ++d) sum += double{a[d]} * b[d];
  return sum;
}

void search_ranked(const AnnStructure& structure, const float* exact, int rerank,
                   const float* queries, size_t count, size_t k, int threads,
                   std::vector<int64_t>& rows, std::vector<float>& scores) {
  const size_t total = structure.size();
  k = std::min(k, total);
  // With re-ranking, more candidates than asked for are scored exactly and the best k kept.
  const size_t wanted =
      exact != nullptr && rerank > 0 ? std::min(total, k * static_cast<size_t>(rerank)) : k;
  std::vector<int64_t> found(count * wanted, -1);
  std::vector<float> found_scores(count * wanted, 0);
  structure.candidates(queries, count, wanted, threads, found.data(), found_scores.data());
  if (wanted == k) {
    rows = std::move(found);
    scores = std::move(found_scores);
    return;
  }
  rows.assign(count * k, -1);
  scores.assign(count * k, 0);
  const size_t dim = structure.dimension();
  std::vector<std::pair<float, int64_t>> ranked;
  for (size_t q = 0; q < count; ++q) {
    ranked.clear();
    for (size_t r = 0; r < wanted; ++r) {
      const int64_t row = found[q * wanted + r];
      if (row < 0) continue;  // An approximate structure found fewer.
      ranked.emplace_back(static_cast<float>(exact_cosine(exact + static_cast<size_t>(row) * dim,
                                                          queries + q * dim, dim)),
                          row);
    }
    // The structure's order is kept among equal scores.
    std::stable_sort(ranked.begin(), ranked.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    for (size_t r = 0; r < std::min(k, ranked.size()); ++r) {
      scores[q * k + r] = ranked[r].first;
      rows[q * k + r] = ranked[r].second;
    }
  }
}

namespace {

// CLIPEMBED_HNSW_LIBRARY=faiss builds HNSW graphs with FAISS (as versions before hnswlib did):
// to compare the two (bench/index_bench) and to test that such indexes still open.
bool hnsw_with_faiss() {
  const char* library = std::getenv("CLIPEMBED_HNSW_LIBRARY");
  return library != nullptr && std::string_view(library) == "faiss";
}

}  // namespace

std::unique_ptr<AnnStructure> create_structure(const IndexSettings& settings, const float* vectors,
                                               size_t count, int dimension) {
  if (settings.type == IndexType::kHnsw && !hnsw_with_faiss()) {
    return create_hnsw_structure(settings, count, dimension);
  }
  return create_faiss_structure(settings, vectors, count, dimension);
}

std::unique_ptr<AnnStructure> load_structure(const std::string& directory,
                                             const IndexSettings& settings, size_t count,
                                             int dimension, std::vector<int64_t> row_of) {
  std::unique_ptr<AnnStructure> structure;
  const std::string hnsw = directory + "/" + kHnswFile;
  if (settings.type == IndexType::kHnsw && std::filesystem::exists(hnsw)) {
    structure = load_hnsw_structure(hnsw, settings, dimension);
  } else {
    // IVF-PQ lists, or an HNSW graph FAISS built.
    structure =
        load_faiss_structure(directory + "/index.faiss", settings, dimension, std::move(row_of));
  }
  if (structure->size() != count) {
    throw Error(ErrorCode::kIndexInvalid, directory + "/" + structure->file_name() + " holds " +
                                              std::to_string(structure->size()) +
                                              " vectors, not the index's " + std::to_string(count));
  }
  return structure;
}

}  // namespace clipembed::search
