// Internal: the names the server answers to, and the models behind them.
//
//   --model /srv/models/clip-vit-base-patch32   served as "clip-vit-base-patch32"
//   --model openai/clip-vit-base-patch32        served as "openai/clip-vit-base-patch32"
//   --model clip=/srv/models/clip-vit-base-patch32   served as "clip"
//   --served-model-name default/not-specified   another name for the default model
//   --served-model-name text-embedding-3-small=clip   another name for "clip"
//
// A model's name is the pool key; its reference (a directory or a repo id) is where it loads
// from. Clients never see paths: /v1/models lists names, and a request without "model" gets the
// first model.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace clipembed::server {

struct ServedModel {
  std::string name;
  std::string reference;
};

class ServedModels {
 public:
  // Parses --model specs (NAME=REF or REF) and --served-model-name aliases (ALIAS=NAME, or ALIAS
  // for the default model). Throws Error(kInvalidArgument) for no model, an empty or repeated
  // name, or an alias of a name not served.
  ServedModels(const std::vector<std::string>& model_specs,
               const std::vector<std::string>& aliases);

  const std::vector<ServedModel>& models() const { return models_; }
  const ServedModel& default_model() const { return models_.front(); }
  // The model a request's "model" names ("" is the default), or nullopt.
  std::optional<ServedModel> find(const std::string& name) const;
  // Every name a model answers to, its own first.
  std::vector<std::string> names_of(const std::string& name) const;
  // Name -> reference, for PoolOptions::model_directories.
  std::map<std::string, std::string> directories() const;

 private:
  std::vector<ServedModel> models_;
  std::map<std::string, std::string> aliases_;  // Alias -> model name.
};

// The name a reference is served under without NAME=: a repo id is its own name, a directory
// its last path component.
std::string default_name(const std::string& reference);

}  // namespace clipembed::server
