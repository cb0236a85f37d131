#include "python_inputs.h"

#include <pybind11/numpy.h>

#include <cstring>
#include <exception>
#include <utility>

#include "service/inputs.h"

namespace py = pybind11;

namespace clipembed::python {
namespace {

// The clipembed.Error type, created once at import and kept for the life of the process (the
// interpreter owns it through the module; this is a borrowed pointer for raising it).
PyObject* error_type = nullptr;

// Text for Python from bytes that are UTF-8 except where a message quotes a file name that is not:
// those bytes become \xNN escapes instead of failing the conversion.
py::str text_of(const std::string& bytes) {
  PyObject* text =
      PyUnicode_DecodeUTF8(bytes.data(), static_cast<Py_ssize_t>(bytes.size()), "backslashreplace");
  if (text == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(text);
}

void set_error(const Error& error, long index) {
  const std::string message =
      index >= 0 ? "input " + std::to_string(index) + ": " + error.what() : error.what();
  py::object instance = py::reinterpret_borrow<py::object>(error_type)(text_of(message));
  instance.attr("code") = std::string(code_name(error.code()));
  instance.attr("message") = text_of(error.what());
  // The message's exact bytes, for the files the CLI's writer makes from it (message escapes a
  // file name's bytes that are not UTF-8 as \xNN for printing; the files keep the bytes).
  instance.attr("_message_bytes") = py::bytes(error.what());
  instance.attr("index") = index >= 0 ? py::object(py::int_(index)) : py::object(py::none());
  PyErr_SetObject(error_type, instance.ptr());
}

Image image_from_rgb(int width, int height, const uint8_t* data) {
  Image image;
  image.width = width;
  image.height = height;
  image.rgb.assign(data, data + static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
  return image;
}

bool is_pil_image(const py::handle& item) {
  // PIL is imported only if the caller already did (an Image instance implies it).
  py::module_ sys = py::module_::import("sys");
  py::object modules = sys.attr("modules");
  if (!modules.contains("PIL.Image")) return false;
  return py::isinstance(item, modules["PIL.Image"].attr("Image"));
}

ImageInput pil_input(const py::handle& item, size_t index) {
  // Pillow's own conversion, so palette, alpha and 16-bit images become exactly the RGB Pillow
  // gives (and the one clipembed's decoders reproduce for files).
  py::object rgb = item.attr("mode").cast<std::string>() == "RGB"
                       ? py::reinterpret_borrow<py::object>(item)
                       : item.attr("convert")("RGB");
  const auto size = rgb.attr("size").cast<std::pair<int, int>>();
  const auto bytes = rgb.attr("tobytes")().cast<std::string>();
  if (bytes.size() != static_cast<size_t>(size.first) * static_cast<size_t>(size.second) * 3) {
    throw py::value_error("item " + std::to_string(index) + ": a PIL image gave " +
                          std::to_string(bytes.size()) + " bytes for its size");
  }
  return ImageInput::pixels(
      image_from_rgb(size.first, size.second, reinterpret_cast<const uint8_t*>(bytes.data())));
}

ImageInput array_input(const py::array& array, size_t index) {
  if (!py::isinstance<py::array_t<uint8_t>>(array) || array.ndim() != 3 || array.shape(2) != 3) {
    throw py::type_error("item " + std::to_string(index) +
                         ": an array must be uint8 with shape [H, W, 3] (RGB), not " +
                         py::str(array.dtype()).cast<std::string>() + " with " +
                         std::to_string(array.ndim()) + " dimensions");
  }
  // A C-contiguous view (a copy only when the caller's array is strided).
  auto rgb = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>::ensure(array);
  return ImageInput::pixels(
      image_from_rgb(static_cast<int>(rgb.shape(1)), static_cast<int>(rgb.shape(0)), rgb.data()));
}

}  // namespace

std::string fs_path(const py::handle& path) {
  return py::module_::import("os").attr("fsencode")(path).cast<std::string>();
}

ImageInput image_input(const py::handle& item, size_t index) {
  if (py::isinstance<py::bytes>(item) || py::isinstance<py::bytearray>(item) ||
      PyMemoryView_Check(item.ptr())) {
    const py::buffer_info view = py::reinterpret_borrow<py::buffer>(item).request();
    const auto* data = static_cast<const uint8_t*>(view.ptr);
    return ImageInput::bytes(std::vector<uint8_t>(data, data + view.size * view.itemsize));
  }
  if (py::isinstance<py::str>(item) || py::hasattr(item, "__fspath__")) {
    // The path's bytes, as the CLI takes its arguments: a name that is not UTF-8 (a str with
    // surrogate escapes, as os.listdir gives it) still names its file.
    return service::local_image(fs_path(item));
  }
  if (py::isinstance<py::array>(item))
    return array_input(py::reinterpret_borrow<py::array>(item), index);
  if (is_pil_image(item)) return pil_input(item, index);
  throw py::type_error("item " + std::to_string(index) +
                       ": expected a path, a URL, bytes, a PIL image or a uint8 array, not " +
                       py::str(py::type::of(item).attr("__name__")).cast<std::string>());
}

std::vector<ImageInput> image_inputs(const py::iterable& items) {
  std::vector<ImageInput> inputs;
  for (const py::handle item : items) inputs.push_back(image_input(item, inputs.size()));
  return inputs;
}

std::vector<std::string> texts_of(const py::iterable& items) {
  std::vector<std::string> texts;
  for (const py::handle item : items) {
    if (!py::isinstance<py::str>(item)) {
      throw py::type_error("item " + std::to_string(texts.size()) + ": expected str, not " +
                           py::str(py::type::of(item).attr("__name__")).cast<std::string>());
    }
    texts.push_back(item.cast<std::string>());
  }
  return texts;
}

void register_error(py::module_& module) {
  error_type = PyErr_NewExceptionWithDoc(
      "clipembed.Error",
      "A clipembed failure. .code is the stable code name the CLI and the server use "
      "(e.g. 'image_decode', 'url_timeout'); .message says what failed (without the item's index); "
      ".index is the failing item of a batch, or None.",
      PyExc_Exception, nullptr);
  module.add_object("Error", py::handle(error_type));
  // pybind11 takes translators as plain function pointers of this by-value signature.
  py::register_exception_translator([](std::exception_ptr pointer) {  // NOLINT
    try {
      if (pointer) std::rethrow_exception(pointer);
    } catch (const Error& error) {
      set_error(error, -1);
    }
  });
}

void raise_error(const Error& error, long index) {
  set_error(error, index);
  throw py::error_already_set();
}

}  // namespace clipembed::python
