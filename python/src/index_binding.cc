// clipembed.Index over EmbeddingIndex (index.h): build or extend an index of image files and URLs,
// search it with embeddings from clipembed.Model, find near duplicates.
//
// Threading: the index is immutable once opened (index.h's rule), so searches from many Python
// threads run at once; each releases the GIL while it computes on its own thread.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <string>
#include <utility>
#include <vector>

#include "clipembed/error.h"
#include "clipembed/index.h"
#include "python_inputs.h"
#include "python_model.h"

namespace py = pybind11;

namespace clipembed::python {
namespace {

// A stored path as Python names files: os.fsdecode, so a name that is not UTF-8 comes back as the
// str that opens it (surrogate escapes), not as a UnicodeDecodeError.
py::object path_object(const std::string& path) {
  return py::module_::import("os").attr("fsdecode")(py::bytes(path));
}

class Index {
 public:
  explicit Index(const py::handle& directory) : Index(fs_path(directory)) {}
  explicit Index(std::string directory) : directory_(std::move(directory)) {
    py::gil_scoped_release unlocked;
    index_ = EmbeddingIndex::open(directory_);
  }

  static Index add(const py::handle& where, const py::handle& model, const py::iterable& items,
                   const std::string& type, double target_recall) {
    const std::string directory = fs_path(where);
    const LoadedModel loaded = loaded_model(model);
    const std::vector<ImageInput> inputs = image_inputs(items);
    IndexSettings settings;
    settings.type = parse_index_type(type);
    settings.target_recall = target_recall;
    {
      py::gil_scoped_release unlocked;
      EmbeddingIndex::add(directory, *loaded.model, loaded.reference, inputs, settings);
    }
    return Index(directory);
  }

  size_t size() const { return index_->size(); }
  py::object directory() const { return path_object(directory_); }

  py::object path(size_t row) const {
    if (row >= index_->size())
      throw py::index_error("row " + std::to_string(row) + " of " + std::to_string(index_->size()));
    return path_object(index_->path(row));
  }

  py::dict info() const {
    const IndexInfo& i = index_->info();
    py::dict d;
    d["model"] = i.model;
    d["model_hash"] = i.model_hash;
    d["dimension"] = i.dimension;
    d["precision"] = i.precision;
    d["type"] = index_type_name(i.resolved.type);
    d["estimated_recall"] = i.estimated_recall;
    d["count"] = i.count;
    d["failures"] = i.failures;
    d["created"] = i.created;
    d["updated"] = i.updated;
    return d;
  }

  // One query [dimension] gives a list of hits; queries [n, dimension] a list per query.
  py::object search(const py::array_t<float, py::array::c_style | py::array::forcecast>& queries,
                    size_t k) const {
    const auto dim = static_cast<py::ssize_t>(index_->info().dimension);
    if ((queries.ndim() != 1 && queries.ndim() != 2) || queries.shape(queries.ndim() - 1) != dim) {
      throw Error(ErrorCode::kInvalidArgument, "queries must be an array [" + std::to_string(dim) +
                                                   "] or [n, " + std::to_string(dim) +
                                                   "] (this index's dimension)");
    }
    std::vector<std::vector<SearchHit>> hits;
    {
      py::gil_scoped_release unlocked;
      hits = index_->search({queries.data(), static_cast<size_t>(queries.size())}, k);
    }
    if (queries.ndim() == 1) return py::cast(hits.front());
    return py::cast(hits);
  }

  std::vector<std::vector<size_t>> duplicate_groups(float threshold) const {
    py::gil_scoped_release unlocked;
    return index_->duplicate_groups(threshold);
  }

 private:
  std::shared_ptr<const EmbeddingIndex> index_;
  std::string directory_;
};

}  // namespace

void bind_index(py::module_& m) {
  py::class_<SearchHit>(m, "SearchHit", "One result of Index.search: row, path and score (cosine).")
      .def_readonly("row", &SearchHit::row, "The row in the index (vectors.npy).")
      .def_property_readonly(
          "path", [](const SearchHit& h) { return path_object(h.path); },
          "The path or URL the row was embedded from.")
      .def_readonly("score", &SearchHit::score, "Cosine of the query and the row's vector.")
      .def("__repr__", [](const SearchHit& h) {
        return "SearchHit(row=" + std::to_string(h.row) +
               ", path=" + py::repr(path_object(h.path)).cast<std::string>() +
               ", score=" + py::repr(py::float_(h.score)).cast<std::string>() + ")";
      });
  py::class_<Index>(m, "Index", R"doc(A searchable index of image embeddings on disk.

    index = clipembed.Index.add("photos.idx", model, ["a.jpg", "b.jpg"])   # builds or extends
    index = clipembed.Index("photos.idx")                                  # opens
    hits = index.search(model.embed_texts(["a red car"])[0], k=10)          # [SearchHit]
    groups = index.duplicate_groups(0.95)                                   # [[row, ...], ...]

The directory is the one `clipembed index build` writes and `clipembed serve --index` serves.
Searches release the GIL and may run from many threads at once.)doc")
      .def(py::init<const py::handle&>(), py::arg("directory"),
           "Opens a finished index; raises clipembed.Error (\"index_invalid\") for a missing,\n"
           "truncated or unfinished one.")
      .def_static("add", &Index::add, py::arg("directory"), py::arg("model"), py::arg("items"),
                  py::arg("type") = "flat", py::arg("target_recall") = 0.95,
                  R"doc(Embeds image files and URLs (normalized) with `model` into the index at
`directory`, creating it, and returns it opened. Items already present are skipped, so a rerun
resumes; an item that fails is recorded (info["failures"]) and the others go on. An existing index
keeps its own type; one of another model, precision or dimension raises clipembed.Error
("index_invalid"). type: "flat" (exact), "hnsw" or "ivfpq" (approximate, tuned for
target_recall). Items must be paths or URLs: rows are named by them.)doc")
      .def("__len__", &Index::size)
      .def_property_readonly("directory", &Index::directory, "The index directory.")
      .def_property_readonly("info", &Index::info,
                             "What index.json records: model, dimension, type, count, ...")
      .def("path", &Index::path, py::arg("row"), "The path or URL of a row.")
      .def("search", &Index::search, py::arg("queries"), py::arg("k") = 10,
           R"doc(The best k rows for a query (an embedding [dimension], normalized here): a list
of SearchHit, best first; for queries [n, dimension], a list of such lists. Raises
clipembed.Error ("invalid_argument") for another dimension or a NaN or infinite value.)doc")
      .def("duplicate_groups", &Index::duplicate_groups, py::arg("threshold") = 0.95,
           "Groups of near-duplicate rows (cosine above threshold, closed over such pairs),\n"
           "each in row order; a row with no near duplicate is in no group. Exact whatever\n"
           "the index type.");
}

}  // namespace clipembed::python
