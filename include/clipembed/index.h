// clipembed/index.h: a collection's embeddings on disk, searchable by text or image.
//
//   auto model = clipembed::ClipModel::load("openai/clip-vit-base-patch32");
//   std::vector<clipembed::ImageInput> photos = {"a.jpg", "b.jpg"};
//   clipembed::EmbeddingIndex::add("photos.idx", *model, "openai/clip-vit-base-patch32", photos);
//   auto index = clipembed::EmbeddingIndex::open("photos.idx");
//   auto query = model->embed_text("a red car", {.normalize = true});
//   for (const clipembed::SearchHit& hit : index->search(query, 10)[0]) { /* hit.path, hit.score */
//   } auto groups = index->duplicate_groups(0.95f);   // near-duplicate rows
//
// An index directory holds vectors.npy (the normalized embeddings, float32 [N, D]) with
// vectors.npy.paths.txt and vectors.npy.errors.jsonl (the files `clipembed embed --output`
// writes), index.json (IndexInfo) and the search structure of an approximate type: index.hnsw
// (hnsw; an index built before hnswlib has index.faiss instead, and still opens) or index.faiss
// (ivfpq). A flat index is searched in vectors.npy itself. Scores are cosines.
//
// Threading rule: an opened EmbeddingIndex is immutable and may be searched from any number of
// threads at once. A flat index's scan is spread over the shared runtime (clipembed/runtime.h);
// an approximate search computes on the calling thread. One IndexWriter (or add()) per directory
// at a time.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "clipembed/input.h"
#include "clipembed/model.h"

namespace clipembed {

enum class IndexType {
  kFlat,   // Exact: every vector of vectors.npy scanned in place (memory-mapped). The default.
  kHnsw,   // HNSW graph (hnswlib): fast approximate search, full vectors in memory.
  kIvfPq,  // Inverted lists of product-quantized codes (IndexIVFPQ), trained on a sample: the
           // smallest memory per vector, for collections of millions.
};
// "flat", "hnsw" or "ivfpq"; anything else throws Error(kInvalidArgument).
IndexType parse_index_type(const std::string& name);
const char* index_type_name(IndexType type);

// How an index is built and searched. A zero asks for the automatic choice; the values an index
// was built with are IndexInfo::resolved.
struct IndexSettings {
  IndexType type = IndexType::kFlat;
  int hnsw_m = 32;                // Graph neighbours per node.
  int hnsw_ef_construction = 80;  // Candidate list while building.
  int hnsw_ef_search = 0;         // Candidate list while searching; 0: tuned (below).
  int ivf_nlist = 0;              // Inverted lists; 0: about 4 x sqrt(vectors).
  int pq_m = 0;                   // Sub-quantizers (must divide the dimension); 0: dimension / 4.
  int ivf_nprobe = 0;             // Lists visited per query; 0: tuned (below).
  // ivfpq: candidates per result re-scored exactly from the memory-mapped vectors (so scores are
  // true cosines and PQ's rounding does not reorder the results); 0: tuned (below), from 10 up.
  int ivf_rerank = 0;
  // The recall@10 the tuned settings aim for: each build holds a sample of the collection's own
  // vectors out of the structure, searches for them with growing settings and keeps the smallest
  // whose recall against exact search reaches this.
  double target_recall = 0.95;
};

// What index.json records.
struct IndexInfo {
  std::string model;       // The model reference the index was built with.
  std::string model_hash;  // SHA-256 of the model's config files: which weights' space it is.
  int dimension = 0;
  std::string precision;   // "fp32", "int8" or "bf16".
  IndexSettings settings;  // As asked (zeros: automatic); kept when vectors are added.
  IndexSettings resolved;  // What the search structure was built with and is searched with.
  // Recall@10 of `resolved` measured on the build's sample (see target_recall); 1 for flat and
  // exhaustive settings, 0 where a collection of under 10 vectors left nothing to measure with.
  double estimated_recall = 1;
  // Rows held out of the search structure while tuning and added to it last (its row order).
  size_t tuning_sample = 0;
  size_t count = 0;              // Vectors (rows) indexed.
  size_t failures = 0;           // Inputs that failed to embed (in vectors.npy.errors.jsonl).
  std::string created, updated;  // UTC, ISO 8601.
};

// The identity a model gives the vectors it computes: its reference, config hash, dimension and
// precision. Vectors of another identity never enter an index.
IndexInfo model_identity(const ClipModel& model, const std::string& reference);
// The same from a model directory and a precision, without loading its weights.
IndexInfo model_identity(const std::string& directory, Precision precision,
                         const std::string& reference);

struct SearchHit {
  size_t row = 0;  // Row in vectors.npy.
  std::string path;
  float score = 0;  // Cosine of the query and the row's vector.
};

// Adds embeddings to an index directory, creating it, and builds its search structure.
// Not thread-safe (one writer per directory).
class IndexWriter {
 public:
  // Creates `directory` for vectors of `identity` with `settings`, or opens an existing index to
  // add to (its own settings are kept); refuses an index of another model, precision or
  // dimension with kIndexInvalid. Inputs a previous run wrote (embedded or failed) count as
  // present, including those of a run killed midway: rerunning it resumes.
  IndexWriter(const std::string& directory, const IndexInfo& identity,
              const IndexSettings& settings = {});
  ~IndexWriter();
  IndexWriter(const IndexWriter&) = delete;
  IndexWriter& operator=(const IndexWriter&) = delete;

  bool present(const std::string& input) const;
  void add(const std::string& input, std::span<const float> normalized_embedding);
  void add_failure(const std::string& input, std::string_view code, const std::string& message);
  // Makes everything added so far durable (a later run resumes from here).
  void flush();
  // Builds the search structure from every vector and writes index.json (each through a temporary
  // file and a rename). Returns the finished index's info.
  IndexInfo finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

class EmbeddingIndex {
 public:
  // Embeds `inputs` (files or URLs, named by their text) normalized with `model` and adds them
  // to the index at `directory` (IndexWriter), skipping inputs already present; a failing input
  // is recorded and the others go on. Returns the finished index's info.
  static IndexInfo add(const std::string& directory, const ClipModel& model,
                       const std::string& model_reference, std::span<const ImageInput> inputs,
                       const IndexSettings& settings = {});

  // Opens a finished index (IVF lists memory-mapped). Throws Error(kIndexInvalid) for a missing,
  // truncated or unfinished file, naming it.
  static std::shared_ptr<const EmbeddingIndex> open(const std::string& directory);
  ~EmbeddingIndex();
  EmbeddingIndex(const EmbeddingIndex&) = delete;
  EmbeddingIndex& operator=(const EmbeddingIndex&) = delete;

  const IndexInfo& info() const;
  size_t size() const;
  const std::string& path(size_t row) const;
  // The stored (normalized) vector of a row, memory-mapped: valid while the index is open.
  // Throws kInvalidArgument for a row past size(). search(vector(r), k) finds rows like row r.
  std::span<const float> vector(size_t row) const;

  // The best min(k, size()) rows for each query (queries.size() / dimension vectors, normalized
  // here), best first. Throws kInvalidArgument for a size that is not a multiple of the
  // dimension or a query holding NaN or infinity.
  std::vector<std::vector<SearchHit>> search(std::span<const float> queries, size_t k) const;

  // Groups of near-duplicate rows: rows joined when their cosine is above `threshold`, and
  // groups closed over such pairs (a connected component). Each group is in row order, groups in
  // the order of their first row; a row with no near duplicate is in no group. Computed exactly
  // (a range search over every stored vector), whatever the index type.
  std::vector<std::vector<size_t>> duplicate_groups(float threshold) const;

 private:
  struct State;
  explicit EmbeddingIndex(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace clipembed
