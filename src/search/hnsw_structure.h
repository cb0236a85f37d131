// Internal: HNSW graphs built and searched with hnswlib (Debian's libhnswlib-dev), behind
// AnnStructure (ann_structure.h).
//
// Why hnswlib rather than FAISS's HNSW: hnswlib is header-only, so its graph code is compiled here
// and its distance is ours: one minus the kernels' inner product (kernels/dot_rows.h), chosen for
// the CPU at run time. Debian's FAISS is built for generic x86-64, and its HNSW build of 200,000
// 512-float vectors took half an hour (docs/perf.md has both).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "clipembed/index.h"
#include "search/ann_structure.h"

namespace clipembed::search {

constexpr char kHnswFile[] = "index.hnsw";

// An empty graph of `settings` (hnsw_m, hnsw_ef_construction) for `count` vectors of `dimension`.
std::unique_ptr<AnnStructure> create_hnsw_structure(const IndexSettings& settings, size_t count,
                                                    int dimension);

// Reads a graph written by an HNSW structure's write(), which must hold vectors of `dimension`,
// and applies hnsw_ef_search. Throws Error(kIndexInvalid) for a missing, truncated or foreign
// file.
std::unique_ptr<AnnStructure> load_hnsw_structure(const std::string& path,
                                                  const IndexSettings& settings, int dimension);

}  // namespace clipembed::search
