// index.json and the identity of a model's vectors (include/clipembed/index.h).
#include "search/index_info.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>

#include "clipembed/error.h"
#include "clipembed/index.h"
#include "io/durable_file.h"
#include "io/sha256.h"

namespace clipembed {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// The bytes that tell a model's weights apart cheaply: its config files whole, and the weight
// file's size with its first and last MiB (the tensor header and the last tensors' values). Two
// checkpoints of one architecture (a fine-tune) differ there; hashing gigabytes would not.
std::string model_fingerprint(const std::string& directory) {
  io::Sha256 digest;
  std::error_code error;
  // An open_clip checkpoint (no config.json) is told apart by its own files; a transformers one
  // hashes as it always has, so existing indexes keep their fingerprints.
  const bool open_clip = !fs::exists(directory + "/config.json", error) &&
                         fs::exists(directory + "/open_clip_config.json", error);
  const std::vector<std::string> configs =
      open_clip ? std::vector<std::string>{"open_clip_config.json"}
                : std::vector<std::string>{"config.json", "preprocessor_config.json"};
  for (const std::string& name : configs) {
    std::ifstream in(directory + "/" + name, std::ios::binary);
    digest.update(name + "\n");
    if (in) {
      digest.update(
          std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
    }
  }
  const std::string weights =
      directory + (open_clip ? "/open_clip_model.safetensors" : "/model.safetensors");
  const uintmax_t size = fs::file_size(weights, error);
  if (!error) {
    constexpr uintmax_t kEdge = 1 << 20;
    digest.update("weights " + std::to_string(size) + "\n");
    std::ifstream in(weights, std::ios::binary);
    std::string edge(static_cast<size_t>(std::min(size, kEdge)), '\0');
    in.read(edge.data(), static_cast<std::streamsize>(edge.size()));
    digest.update(edge);
    in.seekg(static_cast<std::streamoff>(size - edge.size()));
    in.read(edge.data(), static_cast<std::streamsize>(edge.size()));
    digest.update(edge);
  }
  return digest.hex();
}

json settings_json(const IndexSettings& s) {
  return {{"hnsw_m", s.hnsw_m},
          {"hnsw_ef_construction", s.hnsw_ef_construction},
          {"hnsw_ef_search", s.hnsw_ef_search},
          {"ivf_nlist", s.ivf_nlist},
          {"pq_m", s.pq_m},
          {"ivf_nprobe", s.ivf_nprobe},
          {"ivf_rerank", s.ivf_rerank},
          {"target_recall", s.target_recall}};
}

IndexSettings settings_from_json(const json& j, IndexType type) {
  IndexSettings s;
  s.type = type;
  s.hnsw_m = j.at("hnsw_m").get<int>();
  s.hnsw_ef_construction = j.at("hnsw_ef_construction").get<int>();
  s.hnsw_ef_search = j.at("hnsw_ef_search").get<int>();
  s.ivf_nlist = j.at("ivf_nlist").get<int>();
  s.pq_m = j.at("pq_m").get<int>();
  s.ivf_nprobe = j.at("ivf_nprobe").get<int>();
  // Absent from indexes written before they existed: the defaults they were built with.
  s.ivf_rerank = j.value("ivf_rerank", 10);
  s.target_recall = j.value("target_recall", IndexSettings{}.target_recall);
  return s;
}

}  // namespace

IndexType parse_index_type(const std::string& name) {
  if (name == "flat") return IndexType::kFlat;
  if (name == "hnsw") return IndexType::kHnsw;
  if (name == "ivfpq") return IndexType::kIvfPq;
  throw Error(ErrorCode::kInvalidArgument,
              "unknown index type '" + name + "' (flat, hnsw or ivfpq)");
}

const char* index_type_name(IndexType type) {
  switch (type) {
    case IndexType::kHnsw:
      return "hnsw";
    case IndexType::kIvfPq:
      return "ivfpq";
    case IndexType::kFlat:
      break;
  }
  return "flat";
}

IndexInfo model_identity(const ClipModel& model, const std::string& reference) {
  IndexInfo info;
  info.model = reference;
  info.model_hash = model_fingerprint(model.directory());
  info.dimension = model.dimension();
  info.precision = precision_name(model.precision());
  return info;
}

IndexInfo model_identity(const std::string& directory, Precision precision,
                         const std::string& reference) {
  IndexInfo info;
  info.model = reference;
  info.model_hash = model_fingerprint(directory);
  info.dimension = ModelConfig::read(directory).dimension();
  info.precision = precision_name(precision);
  return info;
}

namespace search {

std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm parts{};
  gmtime_r(&now, &parts);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

void check_identity(const IndexInfo& index, const IndexInfo& vectors, const std::string& where) {
  if (index.model_hash == vectors.model_hash && index.dimension == vectors.dimension &&
      index.precision == vectors.precision) {
    return;
  }
  throw Error(ErrorCode::kIndexInvalid,
              where + " holds vectors of " + index.model + " (" + index.precision + ", " +
                  std::to_string(index.dimension) + " dimensions), not of " + vectors.model + " (" +
                  vectors.precision + ", " + std::to_string(vectors.dimension) +
                  " dimensions): vectors of different models or precisions are not comparable");
}

IndexInfo read_info(const std::string& directory) {
  const std::string path = directory + "/index.json";
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kIndexInvalid, path + " is missing: not a clipembed index");
  try {
    const json j = json::parse(in);
    IndexInfo info;
    info.model = j.at("model").get<std::string>();
    info.model_hash = j.at("model_hash").get<std::string>();
    info.dimension = j.at("dimension").get<int>();
    info.precision = j.at("precision").get<std::string>();
    const IndexType type = parse_index_type(j.at("index_type").get<std::string>());
    info.settings = settings_from_json(j.at("settings"), type);
    // Indexes written before settings and resolved values were told apart hold only the latter.
    info.resolved =
        j.contains("resolved") ? settings_from_json(j.at("resolved"), type) : info.settings;
    info.estimated_recall = j.value("estimated_recall_at_10", 1.0);
    info.tuning_sample = j.value("tuning_sample", size_t{0});
    info.count = j.at("count").get<size_t>();
    info.failures = j.at("failures").get<size_t>();
    info.created = j.at("created").get<std::string>();
    info.updated = j.at("updated").get<std::string>();
    return info;
  } catch (const json::exception& e) {
    throw Error(ErrorCode::kIndexInvalid, path + " is malformed: " + e.what());
  } catch (const Error& e) {
    throw Error(ErrorCode::kIndexInvalid, path + ": " + e.what());
  }
}

void write_info(const std::string& directory, const IndexInfo& info) {
  const json j = {{"format", 1},
                  {"model", info.model},
                  {"model_hash", info.model_hash},
                  {"dimension", info.dimension},
                  {"precision", info.precision},
                  {"index_type", index_type_name(info.settings.type)},
                  {"settings", settings_json(info.settings)},
                  {"resolved", settings_json(info.resolved)},
                  {"estimated_recall_at_10", info.estimated_recall},
                  {"tuning_sample", info.tuning_sample},
                  {"count", info.count},
                  {"failures", info.failures},
                  {"created", info.created},
                  {"updated", info.updated}};
  io::write_file_atomically(directory + "/index.json", j.dump(1) + "\n");
}

}  // namespace search
}  // namespace clipembed
