#include "search/hnsw_structure.h"

// Without hnswlib's own SIMD: its distance functions are not used (ours is), and its SSE
// prefetches read one link past the end of a full neighbour list (AddressSanitizer's
// heap-buffer-overflow in searchBaseLayer), which hnswlib 0.6.2 does on every full list.
#define NO_MANUAL_VECTORIZATION
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "clipembed/error.h"
#include "clipembed/runtime.h"
#include "kernels/dot_rows.h"

namespace clipembed::search {
namespace {

// hnswlib's distance: 1 - the kernels' inner product (for normalized vectors, a monotone image of
// the cosine), so the graph is the same whatever the ISA.
class KernelInnerProduct : public hnswlib::SpaceInterface<float> {
 public:
  explicit KernelInnerProduct(size_t dimension)
      : param_{kernels::dot_function(kernels::active_isa()), static_cast<int64_t>(dimension)},
        bytes_(dimension * sizeof(float)) {}
  size_t get_data_size() override { return bytes_; }
  hnswlib::DISTFUNC<float> get_dist_func() override { return distance; }
  void* get_dist_func_param() override { return &param_; }
  float score(const float* a, const float* b) const { return param_.dot(a, b, param_.dim); }

 private:
  struct Param {
    kernels::DotFunction dot;
    int64_t dim;
  };
  static float distance(const void* a, const void* b, const void* param) {
    const auto& p = *static_cast<const Param*>(param);
    return 1.0f - p.dot(static_cast<const float*>(a), static_cast<const float*>(b), p.dim);
  }
  Param param_;
  size_t bytes_;
};

using Graph = hnswlib::HierarchicalNSW<float>;

// The bytes a graph file of hnswlib's format must have, from its header and link-list sizes (what
// hnswlib's own load checks): a short file, or one of another layout, throws kIndexInvalid here,
// before hnswlib allocates anything from its header.
void check_graph_file(const std::string& path, size_t dimension) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(ErrorCode::kIndexInvalid, path +
                                              " is missing: finish the index with "
                                              "clipembed index add");
  in.seekg(0, std::ios::end);
  const auto total = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  // offsetLevel0, max_elements, cur_element_count, size_data_per_element, label_offset,
  // offsetData (size_t each), maxlevel, enterpoint_node (int), maxM, maxM0, M (size_t),
  // mult (double), ef_construction (size_t).
  uint64_t offset0 = 0, max_elements = 0, count = 0, per_element = 0, label_offset = 0,
           data_offset = 0;
  int32_t max_level = 0, entry = 0;
  uint64_t max_m = 0, max_m0 = 0, m = 0;
  double mult = 0;
  uint64_t ef_construction = 0;
  for (auto* field : {&offset0, &max_elements, &count, &per_element, &label_offset, &data_offset}) {
    in.read(reinterpret_cast<char*>(field), sizeof(*field));
  }
  in.read(reinterpret_cast<char*>(&max_level), sizeof(max_level));
  in.read(reinterpret_cast<char*>(&entry), sizeof(entry));
  for (auto* field : {&max_m, &max_m0, &m}) in.read(reinterpret_cast<char*>(field), 8);
  in.read(reinterpret_cast<char*>(&mult), sizeof(mult));
  in.read(reinterpret_cast<char*>(&ef_construction), sizeof(ef_construction));
  const uint64_t links0 = max_m0 * 4 + 4;
  const bool layout = in && offset0 == 0 && max_m0 > 0 && max_m0 <= 2 * 10000 &&
                      data_offset == links0 && label_offset == links0 + dimension * 4 &&
                      per_element == label_offset + 8 && count <= max_elements &&
                      (count == 0 || (entry >= 0 && static_cast<uint64_t>(entry) < count)) &&
                      max_level >= -1 && max_level < 64;
  if (!layout) {
    throw Error(ErrorCode::kIndexInvalid, path + " is not an HNSW graph of vectors of dimension " +
                                              std::to_string(dimension) +
                                              " (damaged, or written by something else)");
  }
  uint64_t at = static_cast<uint64_t>(in.tellg()) + count * per_element;
  for (uint64_t i = 0; i < count; ++i) {
    uint32_t links = 0;
    in.seekg(static_cast<std::streamoff>(at));
    in.read(reinterpret_cast<char*>(&links), sizeof(links));
    if (!in || at + 4 > total) break;
    at += 4 + links;
  }
  if (!in || at != total) {
    throw Error(ErrorCode::kIndexInvalid,
                path + " is truncated or damaged (" + std::to_string(total) + " bytes)");
  }
}

class HnswStructure : public AnnStructure {
 public:
  // A new graph for `count` vectors.
  HnswStructure(const IndexSettings& s, size_t count, size_t dimension)
      : space_(dimension),
        dimension_(dimension),
        graph_(std::make_unique<Graph>(&space_, std::max<size_t>(count, 1),
                                       static_cast<size_t>(s.hnsw_m),
                                       static_cast<size_t>(s.hnsw_ef_construction))) {}
  // A graph read from `path` (check_graph_file() first).
  HnswStructure(const std::string& path, size_t dimension)
      : space_(dimension), dimension_(dimension), graph_(std::make_unique<Graph>(&space_, path)) {}

  // Rows are inserted one at a time, in order, on the calling thread. hnswlib's concurrent
  // insertion shares unlocked state between threads (the level generator, the entry point read
  // after its lock is released): data races, and a graph that differs from build to build. In
  // order, the same vectors always give the same graph, at twice the build time on two threads.
  void add(const float* vectors, std::span<const int64_t> rows) override {
    try {
      for (const int64_t row : rows) {
        const auto at = static_cast<size_t>(row);
        graph_->addPoint(vectors + at * dimension_, at);
      }
    } catch (const std::runtime_error& e) {
      throw Error(ErrorCode::kInternal,
                  std::string("hnswlib could not build the graph: ") + e.what());
    }
  }

  void apply(const IndexSettings& s) override {
    graph_->setEf(static_cast<size_t>(std::max(1, s.hnsw_ef_search)));
  }

  void candidates(const float* queries, size_t count, size_t wanted, int threads, int64_t* rows,
                  float* scores) const override {
    auto search = [&](size_t q) {
      const float* query = queries + q * dimension_;
      auto found = graph_->searchKnn(query, wanted);
      std::fill_n(rows + q * wanted, wanted, -1);
      std::fill_n(scores + q * wanted, wanted, 0.0f);
      // searchKnn's queue gives the farthest first; the best are placed from the last found.
      for (size_t i = found.size(); i-- > 0; found.pop()) {
        const auto row = static_cast<size_t>(found.top().second);
        rows[q * wanted + i] = static_cast<int64_t>(row);
        // The kernels' product itself, not 1 - (1 - product): a flat index's score for the row.
        scores[q * wanted + i] = space_.score(query, vector(row));
      }
    };
    try {
      if (threads <= 1 || count == 1) {
        for (size_t q = 0; q < count; ++q) search(q);
        return;
      }
      shared_runtime().parallel_for(0, static_cast<int64_t>(count), [&](int64_t b, int64_t e) {
        for (auto q = static_cast<size_t>(b); q < static_cast<size_t>(e); ++q) search(q);
      });
    } catch (const std::runtime_error& e) {
      throw Error(ErrorCode::kIndexInvalid, std::string("the HNSW graph is damaged: ") + e.what());
    }
  }

  void write(const std::string& path) const override {
    graph_->saveIndex(path);  // hnswlib checks none of its writes: the file is checked instead.
    try {
      check_graph_file(path, dimension_);
    } catch (const Error& e) {
      throw Error(ErrorCode::kIo, "cannot write " + path + ": the file is incomplete (" + e.what() +
                                      "); is the disk full?");
    }
  }

  size_t size() const override { return graph_->cur_element_count; }
  size_t dimension() const override { return dimension_; }
  const char* file_name() const override { return kHnswFile; }

 private:
  // The stored vector of a row (the graph keeps a copy of each, labelled by its row).
  const float* vector(size_t row) const {
    return reinterpret_cast<const float*>(graph_->getDataByInternalId(
        graph_->label_lookup_.at(static_cast<hnswlib::labeltype>(row))));
  }

  KernelInnerProduct space_;
  size_t dimension_;
  std::unique_ptr<Graph> graph_;
};

}  // namespace

std::unique_ptr<AnnStructure> create_hnsw_structure(const IndexSettings& settings, size_t count,
                                                    int dimension) {
  return std::make_unique<HnswStructure>(settings, count, static_cast<size_t>(dimension));
}

std::unique_ptr<AnnStructure> load_hnsw_structure(const std::string& path,
                                                  const IndexSettings& settings, int dimension) {
  check_graph_file(path, static_cast<size_t>(dimension));
  std::unique_ptr<HnswStructure> structure;
  try {
    structure = std::make_unique<HnswStructure>(path, static_cast<size_t>(dimension));
  } catch (const std::exception& e) {
    throw Error(ErrorCode::kIndexInvalid, path + " is not a readable HNSW graph: " + e.what());
  }
  structure->apply(settings);
  return structure;
}

}  // namespace clipembed::search
