// clipembed._write_embedding_files: the files `clipembed embed --output FILE.npy` writes (FILE, its
// .paths.txt and .errors.jsonl), written by the CLI's own writer (io::EmbeddingFile), so that
// clipembed.dask's partitions are the CLI's bytes by construction rather than by a second copy of
// the format in Python.
#include <pybind11/numpy.h>

#include <span>
#include <string>
#include <vector>

#include "clipembed/error.h"
#include "io/embedding_file.h"
#include "python_inputs.h"
#include "python_model.h"

namespace py = pybind11;

namespace clipembed::python {
namespace {

// Text as the files hold it: a str's UTF-8, with a file name's undecodable bytes (surrogate
// escapes, as os.fsdecode gives them) kept as those bytes.
std::string file_text(const py::handle& text) {
  return text.attr("encode")("utf-8", "surrogateescape").cast<std::string>();
}

struct Record {
  std::string input;
  bool embedded = false;
  std::string code, message;
};

// rows: float32 [N, D] (row i is used where ok[i]); items: N inputs (str, bytes or os.PathLike,
// written as os.fsencode gives them); errors: N entries, None where ok[i], else an object with
// .code and .message (a clipembed.Error).
void write_embedding_files(
    const py::handle& path,
    const py::array_t<float, py::array::c_style | py::array::forcecast>& rows,
    const py::sequence& items, const py::sequence& ok, const py::sequence& errors) {
  const std::string file = fs_path(path);
  const auto n = static_cast<size_t>(py::len(items));
  if (rows.ndim() != 2 || static_cast<size_t>(rows.shape(0)) != n ||
      static_cast<size_t>(py::len(ok)) != n || static_cast<size_t>(py::len(errors)) != n) {
    throw Error(ErrorCode::kInvalidArgument,
                "rows [N, D], items, ok and errors must describe the same N inputs");
  }
  std::vector<Record> records(n);
  for (size_t i = 0; i < n; ++i) {
    records[i].input = fs_path(items[i]);
    records[i].embedded = ok[i].cast<bool>();
    if (!records[i].embedded) {
      const py::object error = errors[i];
      if (error.is_none()) {
        throw Error(ErrorCode::kInvalidArgument,
                    "input " + std::to_string(i) + " failed but has no error");
      }
      records[i].code = file_text(error.attr("code"));
      records[i].message = py::hasattr(error, "_message_bytes")
                               ? error.attr("_message_bytes").cast<std::string>()
                               : file_text(error.attr("message"));
    }
  }
  const auto dim = static_cast<size_t>(rows.shape(1));
  const float* data = rows.data();
  py::gil_scoped_release unlocked;
  io::EmbeddingFile out(file, static_cast<int>(dim), nullptr);
  for (size_t i = 0; i < n; ++i) {
    const Record& r = records[i];
    if (r.embedded) {
      out.success(r.input, std::span<const float>(data + i * dim, dim));
    } else {
      out.failure(r.input, r.code, r.message);
    }
  }
  out.flush();
}

}  // namespace

void bind_embedding_files(py::module_& module) {
  module.def("_write_embedding_files", &write_embedding_files, py::arg("path"), py::arg("rows"),
             py::arg("items"), py::arg("ok"), py::arg("errors"),
             "Writes PATH, PATH.paths.txt and PATH.errors.jsonl as `clipembed embed --output` "
             "does, from embed_images(..., errors='mask')'s rows, mask and errors.");
}

}  // namespace clipembed::python
