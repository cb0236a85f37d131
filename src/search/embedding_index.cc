// IndexWriter and EmbeddingIndex (include/clipembed/index.h) over the embedding files
// (io/embedding_file.h), the exact scan (search/exact_scan.h) and the approximate structures
// (search/ann_structure.h).
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <optional>
#include <unordered_set>

#include "clipembed/error.h"
#include "clipembed/index.h"
#include "clipembed/runtime.h"
#include "io/durable_file.h"
#include "io/embedding_file.h"
#include "io/file.h"
#include "io/json_text.h"
#include "io/npy_writer.h"
#include "search/ann_structure.h"
#include "search/exact_scan.h"
#include "search/faiss_index.h"
#include "search/hnsw_structure.h"
#include "search/index_info.h"
#include "search/search_tuning.h"

namespace clipembed {
namespace {

namespace fs = std::filesystem;

constexpr char kVectors[] = "/vectors.npy";
constexpr char kFaiss[] = "/index.faiss";
// Images per forward pass in EmbeddingIndex::add(), as the CLI's default: progress is made
// durable after each.
constexpr size_t kAddBatch = 16;

// The rows of vectors.npy, memory-mapped read-only.
class MappedVectors {
 public:
  explicit MappedVectors(const std::string& path) : shape_(io::read_npy_shape(path)), file_(path) {}
  const float* data() const {
    return reinterpret_cast<const float*>(file_.bytes().data() + shape_.data_offset);
  }
  size_t rows() const { return shape_.rows; }
  size_t cols() const { return shape_.cols; }

 private:
  io::NpyShape shape_;  // read_npy_shape() checked the file holds exactly these rows.
  io::MappedFile file_;
};

}  // namespace

struct IndexWriter::State {
  std::string directory;
  IndexInfo info;
  std::unordered_set<std::string> present;
  std::optional<io::EmbeddingFile> file;
};

namespace {

// Makes a new index directory appear whole, with its index.json: it is made under a temporary
// name and renamed, so a build killed at any moment leaves either no directory (build again) or
// an index that `index add` resumes, never a directory that is neither.
void create_index_directory(const std::string& directory, const IndexInfo& info) {
  std::error_code error;
  const fs::path path = fs::path(directory).lexically_normal();
  const fs::path parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
  fs::create_directories(parent, error);
  // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) on a chain of string +.
  std::string name = ".";
  name += path.filename().string();
  name += ".creating-";
  name += std::to_string(::getpid());
  const std::string temporary = (parent / name).string();
  fs::remove_all(temporary, error);
  fs::create_directory(temporary, error);
  if (error) throw Error(ErrorCode::kIo, "cannot create " + directory + ": " + error.message());
  search::write_info(temporary, info);
  fs::rename(temporary, path, error);
  if (error) {
    std::error_code ignored;
    fs::remove_all(temporary, ignored);
    throw Error(ErrorCode::kIo, "cannot create " + directory + ": " + error.message());
  }
  io::sync_directory(parent.string());
}

}  // namespace

IndexWriter::IndexWriter(const std::string& directory, const IndexInfo& identity,
                         const IndexSettings& settings)
    : state_(std::make_unique<State>()) {
  state_->directory = directory;
  // The identity is recorded before the first vector, so a resumed build checks it too.
  IndexInfo fresh = identity;
  fresh.settings = fresh.resolved = settings;
  fresh.created = fresh.updated = search::utc_now();
  std::error_code error;
  if (!fs::exists(directory, error)) create_index_directory(directory, fresh);
  fs::create_directories(directory, error);
  if (error) throw Error(ErrorCode::kIo, "cannot create " + directory + ": " + error.message());
  if (fs::exists(directory + "/index.json")) {
    state_->info = search::read_info(directory);
    search::check_identity(state_->info, identity, directory);
  } else if (fs::exists(directory + kVectors)) {
    throw Error(ErrorCode::kIndexInvalid,
                directory + " holds vectors.npy but no index.json: not an index clipembed wrote");
  } else {
    state_->info = fresh;
    search::write_info(directory, state_->info);
  }
  state_->file.emplace(directory + kVectors, identity.dimension, &state_->present);
}

IndexWriter::~IndexWriter() = default;

bool IndexWriter::present(const std::string& input) const {
  return state_->present.count(input) != 0;
}

void IndexWriter::add(const std::string& input, std::span<const float> embedding) {
  state_->file->success(input, embedding);
  state_->present.insert(input);
}

void IndexWriter::add_failure(const std::string& input, std::string_view code,
                              const std::string& message) {
  state_->file->failure(input, code, message);
  state_->present.insert(input);
}

void IndexWriter::flush() { state_->file->flush(); }

IndexInfo IndexWriter::finish() {
  state_->file->flush();
  const std::string& dir = state_->directory;
  IndexInfo& info = state_->info;
  {
    const MappedVectors vectors(dir + kVectors);
    const int dim = static_cast<int>(vectors.cols());
    const int threads = shared_runtime().num_threads();
    // The automatic settings are chosen again for the collection as it is now.
    IndexSettings resolved = search::resolve_settings(info.settings, vectors.rows(), dim);
    // Each type keeps one file beside vectors.npy (none for flat: the exact scan reads the
    // vectors); a file another type or an older version wrote there is removed before the new
    // one appears, so a build stopped in between leaves an index that says it is unfinished.
    std::error_code ignored;
    if (resolved.type == IndexType::kFlat) {
      fs::remove(dir + kFaiss, ignored);
      fs::remove(dir + "/" + search::kHnswFile, ignored);
      info.estimated_recall = 1;
      info.tuning_sample = 0;
    } else {
      const std::unique_ptr<search::AnnStructure> structure =
          search::create_structure(resolved, vectors.data(), vectors.rows(), dim);
      const size_t held_out = search::tuning_sample_size(resolved.type, vectors.rows());
      const std::vector<int64_t> order = search::structure_order(vectors.rows(), held_out);
      const std::span<const int64_t> rows(order);
      structure->add(vectors.data(), rows.first(rows.size() - held_out));
      info.estimated_recall =
          search::tune_search(*structure, resolved, vectors.data(), dim, rows, held_out, threads);
      structure->add(vectors.data(), rows.last(held_out));
      info.tuning_sample = held_out;
      const std::string target = dir + "/" + structure->file_name();
      const std::string temporary = target + ".tmp";
      structure->write(temporary);
      fs::remove(dir + kFaiss, ignored);
      fs::remove(dir + "/" + search::kHnswFile, ignored);
      io::replace_durably(temporary, target);
    }
    info.resolved = resolved;
    info.count = vectors.rows();
  }
  info.failures = io::failed_inputs(dir + kVectors).size();
  info.updated = search::utc_now();
  search::write_info(dir, info);
  return info;
}

struct EmbeddingIndex::State {
  IndexInfo info;
  std::vector<std::string> paths;
  // The approximate structure; null for flat (the exact scan reads `vectors`).
  std::unique_ptr<search::AnnStructure> structure;
  std::string vectors_path;
  // The full vectors, memory-mapped (pages read as a scan or candidates need them).
  std::unique_ptr<MappedVectors> vectors;
};

EmbeddingIndex::EmbeddingIndex(std::unique_ptr<State> state) : state_(std::move(state)) {}
EmbeddingIndex::~EmbeddingIndex() = default;

IndexInfo EmbeddingIndex::add(const std::string& directory, const ClipModel& model,
                              const std::string& model_reference,
                              std::span<const ImageInput> inputs, const IndexSettings& settings) {
  IndexWriter writer(directory, model_identity(model, model_reference), settings);
  std::vector<ImageInput> todo;
  for (const ImageInput& input : inputs) {
    if (input.kind() != ImageInput::Kind::kFile && input.kind() != ImageInput::Kind::kUrl) {
      throw Error(ErrorCode::kInvalidArgument,
                  "an index names its rows by path or URL; " + input.describe() + " has neither");
    }
    if (!writer.present(input.text())) todo.push_back(input);
  }
  // The model's one batcher: reading overlaps the forward pass, and what each batch added is
  // made durable before the next, so an interrupted add resumes where it stopped.
  const auto dim = static_cast<size_t>(model.dimension());
  size_t next = 0;
  model.embed_image_stream(
      [&]() -> std::optional<ImageInput> {
        if (next == todo.size()) return std::nullopt;
        return todo[next++];
      },
      [&](size_t i, const float* embedding, const Error* error) {
        if (error != nullptr) {
          writer.add_failure(todo[i].text(), code_name(error->code()), error->what());
        } else {
          writer.add(todo[i].text(), {embedding, dim});
        }
      },
      {.batch_size = kAddBatch, .embed = {.normalize = true}}, [&] { writer.flush(); });
  return writer.finish();
}

std::shared_ptr<const EmbeddingIndex> EmbeddingIndex::open(const std::string& directory) {
  auto state = std::make_unique<State>();
  state->info = search::read_info(directory);
  state->vectors_path = directory + kVectors;
  if (!fs::exists(state->vectors_path)) {
    throw Error(ErrorCode::kIndexInvalid, state->vectors_path + " is missing");
  }
  io::NpyShape shape;
  try {
    shape = io::read_npy_shape(state->vectors_path);
  } catch (const Error& e) {
    throw Error(ErrorCode::kIndexInvalid, e.what());
  }
  if (shape.cols != static_cast<size_t>(state->info.dimension) || shape.rows != state->info.count) {
    throw Error(ErrorCode::kIndexInvalid,
                directory + " is unfinished: index.json counts " +
                    std::to_string(state->info.count) + " vectors, vectors.npy holds " +
                    std::to_string(shape.rows) + " (run clipembed index add to finish it)");
  }
  state->paths =
      io::read_row_inputs(state->vectors_path + ".paths.txt", shape.rows, ErrorCode::kIndexInvalid);
  // Mapped for every type: the exact scan, vector() and ivfpq's re-ranking read rows, pages on
  // demand.
  state->vectors = std::make_unique<MappedVectors>(state->vectors_path);
  if (state->info.resolved.type == IndexType::kFlat) {
    return std::shared_ptr<const EmbeddingIndex>(new EmbeddingIndex(std::move(state)));
  }
  std::vector<int64_t> row_of;  // A FAISS structure's positions (search/search_tuning.h).
  if (state->info.tuning_sample > 0) {
    if (state->info.tuning_sample > shape.rows) {
      throw Error(ErrorCode::kIndexInvalid, directory +
                                                "/index.json is malformed: its tuning "
                                                "sample is larger than the index");
    }
    row_of = search::structure_order(shape.rows, state->info.tuning_sample);
  }
  state->structure = search::load_structure(directory, state->info.resolved, shape.rows,
                                            state->info.dimension, std::move(row_of));
  return std::shared_ptr<const EmbeddingIndex>(new EmbeddingIndex(std::move(state)));
}

const IndexInfo& EmbeddingIndex::info() const { return state_->info; }
size_t EmbeddingIndex::size() const { return state_->paths.size(); }
const std::string& EmbeddingIndex::path(size_t row) const { return state_->paths.at(row); }

std::span<const float> EmbeddingIndex::vector(size_t row) const {
  if (row >= size()) {
    throw Error(
        ErrorCode::kInvalidArgument,
        "row " + std::to_string(row) + " is past the index's " + std::to_string(size()) + " rows");
  }
  const auto dim = static_cast<size_t>(state_->info.dimension);
  return {state_->vectors->data() + row * dim, dim};
}

std::vector<std::vector<SearchHit>> EmbeddingIndex::search(std::span<const float> queries,
                                                           size_t k) const {
  const auto dim = static_cast<size_t>(state_->info.dimension);
  if (queries.size() % dim != 0) {
    throw Error(ErrorCode::kInvalidArgument, "queries hold " + std::to_string(queries.size()) +
                                                 " floats, not a multiple of " +
                                                 std::to_string(dim));
  }
  const size_t count = queries.size() / dim;
  // A NaN query (a failed row of a masked batch, say) would rank rows arbitrarily; refuse it.
  for (size_t i = 0; i < queries.size(); ++i) {
    if (!std::isfinite(queries[i])) {
      throw Error(ErrorCode::kInvalidArgument,
                  "query " + std::to_string(i / dim) + " holds a value that is not finite");
    }
  }
  k = std::min(k, size());
  std::vector<std::vector<SearchHit>> hits(count);
  if (k == 0 || count == 0) return hits;
  std::vector<float> normalized(queries.begin(), queries.end());
  for (size_t q = 0; q < count; ++q) normalize_embedding({normalized.data() + q * dim, dim});
  std::vector<int64_t> rows;
  std::vector<float> scores;
  if (state_->structure == nullptr) {
    search::exact_search(state_->vectors->data(), size(), dim, normalized.data(), count, k, rows,
                         scores);
  } else {
    // One thread: an approximate search computes on its caller's thread (the threading rule).
    search::search_ranked(
        *state_->structure,
        state_->info.resolved.type == IndexType::kIvfPq ? state_->vectors->data() : nullptr,
        state_->info.resolved.ivf_rerank, normalized.data(), count, k, 1, rows, scores);
  }
  for (size_t q = 0; q < count; ++q) {
    for (size_t r = 0; r < k; ++r) {
      const int64_t row = rows[q * k + r];
      if (row < 0) continue;  // An approximate index found fewer.
      const auto at = static_cast<size_t>(row);
      hits[q].push_back({at, state_->paths[at], scores[q * k + r]});
    }
  }
  return hits;
}

std::vector<std::vector<size_t>> EmbeddingIndex::duplicate_groups(float threshold) const {
  const MappedVectors& vectors = *state_->vectors;
  const auto pairs =
      search::exact_pairs_above(vectors.data(), vectors.rows(), vectors.cols(), threshold);
  // Union-find over the pairs; each set's root is its smallest row.
  std::vector<size_t> parent(vectors.rows());
  std::iota(parent.begin(), parent.end(), size_t{0});
  auto root = [&](size_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  for (const auto& [a, b] : pairs) {
    const size_t ra = root(a), rb = root(b);
    if (ra != rb) parent[std::max(ra, rb)] = std::min(ra, rb);
  }
  std::vector<std::vector<size_t>> by_root(vectors.rows());
  for (size_t row = 0; row < vectors.rows(); ++row) by_root[root(row)].push_back(row);
  std::vector<std::vector<size_t>> groups;
  for (auto& members : by_root) {
    if (members.size() > 1) groups.push_back(std::move(members));
  }
  return groups;
}

}  // namespace clipembed
