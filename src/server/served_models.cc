#include "server/served_models.h"

#include <filesystem>

#include "clipembed/error.h"

namespace clipembed::server {
namespace {

[[noreturn]] void invalid(const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, message);
}

// "NAME=REF" splits when NAME is a plain name (no '/'), so that a path or repo id holding '='
// is still taken whole.
std::pair<std::string, std::string> split_spec(const std::string& spec) {
  const size_t eq = spec.find('=');
  if (eq != std::string::npos && spec.substr(0, eq).find('/') == std::string::npos) {
    return {spec.substr(0, eq), spec.substr(eq + 1)};
  }
  return {"", spec};
}

}  // namespace

std::string default_name(const std::string& reference) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(reference, ec)) {
    fs::path path(reference);
    while (!path.empty() && path.filename().empty()) path = path.parent_path();  // Trailing '/'.
    const std::string last = path.filename().string();
    return last.empty() || last == "." || last == ".." ? reference : last;
  }
  return reference;
}

ServedModels::ServedModels(const std::vector<std::string>& model_specs,
                           const std::vector<std::string>& aliases) {
  if (model_specs.empty()) invalid("no model to serve");
  for (const std::string& spec : model_specs) {
    auto [name, reference] = split_spec(spec);
    if (reference.empty()) invalid("--model " + spec + ": no model after '='");
    if (name.empty()) name = default_name(reference);
    if (find(name)) invalid("--model " + spec + ": the name '" + name + "' is already served");
    models_.push_back({name, reference});
  }
  for (const std::string& spec : aliases) {
    // ALIAS=NAME splits at the last '=' (an alias such as infinity's "default/not-specified" may
    // hold a '/'); without '=', the alias names the default model.
    const size_t eq = spec.rfind('=');
    const std::string alias = eq == std::string::npos ? spec : spec.substr(0, eq);
    const std::string target = eq == std::string::npos ? default_model().name : spec.substr(eq + 1);
    if (alias.empty()) invalid("--served-model-name " + spec + ": an empty name");
    if (!find(target)) {
      invalid("--served-model-name " + spec + ": no model is served as '" + target + "'");
    }
    if (find(alias)) invalid("--served-model-name " + spec + ": '" + alias + "' is already a name");
    aliases_[alias] = find(target)->name;
  }
}

std::optional<ServedModel> ServedModels::find(const std::string& name) const {
  if (name.empty() && !models_.empty()) return models_.front();
  const auto alias = aliases_.find(name);
  const std::string& own = alias != aliases_.end() ? alias->second : name;
  for (const ServedModel& m : models_) {
    if (m.name == own) return m;
  }
  return std::nullopt;
}

std::vector<std::string> ServedModels::names_of(const std::string& name) const {
  std::vector<std::string> names{name};
  for (const auto& [alias, target] : aliases_) {
    if (target == name) names.push_back(alias);
  }
  return names;
}

std::map<std::string, std::string> ServedModels::directories() const {
  std::map<std::string, std::string> out;
  for (const ServedModel& m : models_) out[m.name] = m.reference;
  return out;
}

}  // namespace clipembed::server
