// Internal: the automatic search settings of an approximate index (IndexSettings::target_recall).
//
// A vector searched for in a structure that holds it is an easy query (an HNSW node's own edges
// lead to its neighbours: recall 0.99 where unseen queries get 0.74), so the build holds a sample
// of the collection out of the structure, tunes with the sample as queries, and adds the sample
// last. The structure's positions are then not the rows of vectors.npy: structure_order() maps
// them, from the count and the sample size that index.json records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "clipembed/index.h"
#include "search/ann_structure.h"

namespace clipembed::search {

// Rows held out for tuning an index of `count` vectors of `type` (0 for flat, or too few).
size_t tuning_sample_size(IndexType type, size_t count);

// The rows of vectors.npy in the order the structure holds them: every row outside the sample
// ascending, then the `held_out` sample rows (evenly spaced over the collection) ascending.
std::vector<int64_t> structure_order(size_t count, size_t held_out);

// Chooses each zero search-time setting of `resolved` (hnsw_ef_search; ivf_rerank, the shortest
// candidate list with which visiting every list reaches the target, then ivf_nprobe) for
// `structure`, which holds the rows of order[0, count - held_out) of `vectors` but not the held-out
// sample order[count - held_out, count): the smallest value whose recall@10 for the sample as
// queries, against exact search over the rows held, reaches resolved.target_recall (by two standard
// errors). Applies it to `structure` and returns the recall measured with it (for a setting given
// explicitly, only measured; 1 with no sample). Uses `threads` threads.
double tune_search(AnnStructure& structure, IndexSettings& resolved, const float* vectors,
                   int dimension, std::span<const int64_t> order, size_t held_out, int threads);

}  // namespace clipembed::search
