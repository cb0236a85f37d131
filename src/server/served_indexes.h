// Internal: the search indexes `clipembed serve --index NAME=DIR` answers POST /v1/search with.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "clipembed/index.h"
#include "clipembed/model.h"
#include "server/served_models.h"

namespace clipembed::server {

struct ServedIndex {
  std::string name;
  std::shared_ptr<const EmbeddingIndex> index;
  std::string model;  // The served model (by name) whose vectors the index holds.
  std::string directory;
};

class ServedIndexes {
 public:
  // Opens each NAME=DIR spec (its IVF lists memory-mapped) and finds the served model it was
  // built with: the same weights and precision (model_identity). Throws Error: kInvalidArgument
  // for a malformed or repeated name, kIndexInvalid for an unreadable index or one whose model
  // is not served (naming the --model to add).
  ServedIndexes(const std::vector<std::string>& specs, const ServedModels& models,
                Precision precision);

  // The index a request names; "" is the only one when there is one. Null when there is none.
  const ServedIndex* find(const std::string& name) const;
  const std::vector<ServedIndex>& indexes() const { return indexes_; }

 private:
  std::vector<ServedIndex> indexes_;
};

}  // namespace clipembed::server
