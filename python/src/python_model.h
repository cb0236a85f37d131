// What the package's other bindings need from a clipembed.Model, and the registration of the
// bindings that live outside the module's main file. Called with the GIL held.
#pragma once

#include <pybind11/pybind11.h>

#include <memory>
#include <string>

#include "clipembed/model.h"

namespace clipembed::python {

// The model a clipembed.Model holds and the reference it was loaded by (a repo id or directory,
// as given); raises TypeError for any other object.
struct LoadedModel {
  std::shared_ptr<const ClipModel> model;
  std::string reference;
};
LoadedModel loaded_model(const pybind11::handle& model);

// Registers clipembed.Index and clipembed.SearchHit (index_binding.cc).
void bind_index(pybind11::module_& module);

// Registers clipembed._write_embedding_files (embedding_files_binding.cc).
void bind_embedding_files(pybind11::module_& module);

}  // namespace clipembed::python
