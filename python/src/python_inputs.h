// The Python package's conversions: Python objects to image inputs, and clipembed::Error to the
// package's clipembed.Error. Called with the GIL held.
#pragma once

#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "clipembed/error.h"
#include "clipembed/input.h"

namespace clipembed::python {

// One image input from a Python object: a path (str or os.PathLike) or an http(s) URL, as the CLI
// takes them; bytes of an encoded image; a PIL.Image.Image (converted as Pillow's convert("RGB"));
// or a uint8 array [H, W, 3] taken as RGB. Raises TypeError naming `index` for anything else.
ImageInput image_input(const pybind11::handle& item, size_t index);

// The bytes of a file system path given as str, bytes or os.PathLike (os.fsencode: a name that
// is not UTF-8 keeps its bytes); raises TypeError for anything else.
std::string fs_path(const pybind11::handle& path);

// Every item of a Python iterable, converted with image_input().
std::vector<ImageInput> image_inputs(const pybind11::iterable& items);

// Every item of a Python iterable of str.
std::vector<std::string> texts_of(const pybind11::iterable& items);

// Registers clipembed.Error (a subclass of Exception with .code, the CLI's code name, and .index,
// the failing item or None) on `module`, and translates every clipembed::Error into it.
void register_error(pybind11::module_& module);

// Raises clipembed.Error for `error`; with index >= 0 the message names that item.
[[noreturn]] void raise_error(const Error& error, long index = -1);

}  // namespace clipembed::python
