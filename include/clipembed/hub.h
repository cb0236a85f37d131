// clipembed/hub.h: where models live: a directory, or a Hugging Face repo id in the local cache.
//
//   std::string dir = clipembed::locate_model("openai/clip-vit-base-patch32");
//   auto model = clipembed::ClipModel::load(dir);
//
// The cache is the one huggingface_hub, transformers and `clipembed download` share, so a model a
// user downloaded with Python works as is. Thread-safe: these functions only read the environment
// and the file system.
#pragma once

#include <string>

namespace clipembed {

// Resolves a model reference: a directory as is, or a Hugging Face repo id such as
// "openai/clip-vit-base-patch32" found in the local hub cache (hub_cache_directory(); the snapshot
// refs/main names, else the newest). Throws Error(kModelInvalid) saying how to download a model
// that is missing.
std::string locate_model(const std::string& reference);

// The Hugging Face home the environment selects: HF_HOME, else XDG_CACHE_HOME/huggingface, else
// ~/.cache/huggingface (where `huggingface-cli login` keeps its token).
std::string hub_home_directory();

// The hub cache directory the environment selects: HF_HUB_CACHE, else hub_home_directory()/hub.
std::string hub_cache_directory();

}  // namespace clipembed
