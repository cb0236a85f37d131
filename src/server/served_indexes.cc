#include "server/served_indexes.h"

#include <vector>

#include "clipembed/error.h"
#include "clipembed/hub.h"

namespace clipembed::server {

ServedIndexes::ServedIndexes(const std::vector<std::string>& specs, const ServedModels& models,
                             Precision precision) {
  // Each served model's identity, computed once (it hashes the model's config files) and only
  // when an index is served.
  std::vector<IndexInfo> identities;
  if (!specs.empty()) {
    for (const ServedModel& model : models.models()) {
      identities.push_back(
          model_identity(locate_model(model.reference), precision, model.reference));
    }
  }
  for (const std::string& spec : specs) {
    const size_t equals = spec.find('=');
    if (equals == 0 || equals == std::string::npos || equals + 1 == spec.size()) {
      throw Error(ErrorCode::kInvalidArgument, "--index takes NAME=DIR, not '" + spec + "'");
    }
    ServedIndex served{spec.substr(0, equals), nullptr, "", spec.substr(equals + 1)};
    if (find(served.name) != nullptr) {
      throw Error(ErrorCode::kInvalidArgument, "index name '" + served.name + "' is repeated");
    }
    served.index = EmbeddingIndex::open(served.directory);
    const IndexInfo& info = served.index->info();
    for (size_t m = 0; m < identities.size(); ++m) {
      const IndexInfo& identity = identities[m];
      if (identity.model_hash == info.model_hash && identity.dimension == info.dimension &&
          identity.precision == info.precision) {
        served.model = models.models()[m].name;
        break;
      }
    }
    if (served.model.empty()) {
      throw Error(ErrorCode::kIndexInvalid,
                  "index '" + served.name + "' holds vectors of " + info.model + " (" +
                      info.precision +
                      "), which no --model serves at this precision; add --model " + info.model +
                      (info.precision != "fp32" ? " and --precision " + info.precision : ""));
    }
    indexes_.push_back(std::move(served));
  }
}

const ServedIndex* ServedIndexes::find(const std::string& name) const {
  if (name.empty()) return indexes_.size() == 1 ? &indexes_.front() : nullptr;
  for (const ServedIndex& index : indexes_) {
    if (index.name == name) return &index;
  }
  return nullptr;
}

}  // namespace clipembed::server
