#include "cli/shard.h"

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "clipembed/error.h"
#include "io/embedding_file.h"
#include "io/file.h"
#include "io/npy_writer.h"

namespace clipembed::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string read_text(const std::string& path) {
  const std::vector<uint8_t> bytes = io::read_file(path);
  return {bytes.begin(), bytes.end()};
}

// One output to merge: its rows (float32 [rows, dim], read when written), its paths and errors
// lines, and its shard manifest if it has one.
struct Part {
  std::string path;
  size_t rows = 0;
  size_t dim = 0;
  size_t data_offset = 0;
  std::vector<std::string> paths, errors;
  std::optional<Shard> shard;
  size_t inputs = 0;
  std::set<size_t> failed;  // Positions within the shard.
};

Part read_part(const std::string& path) {
  Part part;
  part.path = path;
  const io::NpyShape shape = io::read_npy_shape(path);
  part.rows = shape.rows;
  part.dim = shape.cols;
  part.data_offset = shape.data_offset;
  part.paths = io::read_row_lines(path + ".paths.txt", part.rows, ErrorCode::kInvalidArgument);
  part.errors = io::complete_lines(path + ".errors.jsonl").text;  // None when there is no file.
  if (!fs::exists(path + ".shard.json")) return part;
  try {
    const json manifest = json::parse(read_text(path + ".shard.json"));
    part.shard = Shard{manifest.at("shard").get<size_t>(), manifest.at("of").get<size_t>()};
    part.inputs = manifest.at("inputs").get<size_t>();
    for (const json& f : manifest.at("failed")) part.failed.insert(f.get<size_t>());
  } catch (const json::exception& e) {
    throw Error(ErrorCode::kInvalidArgument, path + ".shard.json is malformed: " + e.what());
  }
  if (part.failed.size() != part.errors.size() || part.rows + part.errors.size() != part.inputs) {
    throw Error(ErrorCode::kInvalidArgument,
                path + " is an unfinished shard: " + std::to_string(part.rows) + " rows and " +
                    std::to_string(part.errors.size()) + " errors of " +
                    std::to_string(part.inputs) + " inputs");
  }
  return part;
}

// The order rows and errors are written in: (part, is_error, index within the part's rows or
// errors), in input order.
struct Step {
  size_t part;
  bool error;
  size_t index;
};

std::vector<Step> merge_order(const std::vector<Part>& parts) {
  std::vector<Step> steps;
  const bool sharded = parts.front().shard.has_value();
  if (!sharded) {
    for (size_t p = 0; p < parts.size(); ++p) {
      if (parts[p].shard) {
        throw Error(ErrorCode::kInvalidArgument,
                    "cannot merge shard " + parts[p].path + " with outputs that are not shards");
      }
      // A plain output records rows and errors apart: rows first, then its errors.
      for (size_t r = 0; r < parts[p].rows; ++r) steps.push_back({p, false, r});
      for (size_t e = 0; e < parts[p].errors.size(); ++e) steps.push_back({p, true, e});
    }
    return steps;
  }
  const size_t count = parts.front().shard->count;
  std::vector<const Part*> by_shard(count, nullptr);
  std::vector<size_t> order(count);
  for (size_t p = 0; p < parts.size(); ++p) {
    const auto& shard = parts[p].shard;
    if (!shard || shard->count != count || shard->index >= count || by_shard[shard->index]) {
      throw Error(ErrorCode::kInvalidArgument,
                  parts[p].path + " does not fit: merge takes shards 0 to " +
                      std::to_string(count - 1) + " of one run, each once");
    }
    by_shard[shard->index] = &parts[p];
    order[shard->index] = p;
  }
  for (size_t k = 0; k < count; ++k) {
    if (by_shard[k] == nullptr) {
      throw Error(ErrorCode::kInvalidArgument,
                  "shard " + std::to_string(k) + "/" + std::to_string(count) + " is missing");
    }
  }
  std::vector<size_t> next_row(count), next_error(count);
  for (size_t ordinal = 0;; ++ordinal) {
    const size_t k = ordinal % count, position = ordinal / count;
    if (position >= by_shard[k]->inputs) break;  // Shard k takes ordinals first, so all done.
    const bool failed = by_shard[k]->failed.count(position) != 0;
    steps.push_back({order[k], failed, failed ? next_error[k]++ : next_row[k]++});
  }
  return steps;
}

}  // namespace

Shard parse_shard(const std::string& text) {
  const size_t slash = text.find('/');
  Shard shard;
  auto number = [&](std::string_view part, size_t& out) {
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), out);
    return ec == std::errc() && end == part.data() + part.size() && !part.empty();
  };
  if (slash == std::string::npos || !number(std::string_view(text).substr(0, slash), shard.index) ||
      !number(std::string_view(text).substr(slash + 1), shard.count) || shard.count == 0 ||
      shard.index >= shard.count) {
    throw Error(
        ErrorCode::kInvalidArgument,
        "--shard takes K/N with 0 <= K < N (e.g. 0/4 is the first of four), not '" + text + "'");
  }
  return shard;
}

void write_shard_manifest(const std::string& npy_path, const Shard& shard,
                          const std::vector<std::string>& inputs,
                          const std::unordered_set<std::string>& failed) {
  json positions = json::array();
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (failed.count(inputs[i]) != 0) positions.push_back(i);
  }
  const json manifest = {{"shard", shard.index},
                         {"of", shard.count},
                         {"inputs", inputs.size()},
                         {"failed", positions}};
  io::write_file_atomically(npy_path + ".shard.json", manifest.dump() + "\n");
}

size_t merge_outputs(const std::vector<std::string>& inputs, const std::string& output) {
  std::vector<std::string> files;
  for (const std::string& input : inputs) {
    if (!fs::is_directory(input)) {
      files.push_back(input);
      continue;
    }
    std::vector<std::string> listed;
    for (const auto& entry : fs::directory_iterator(input)) {
      const std::string name = entry.path().string();
      if (entry.is_regular_file() && name.ends_with(".npy") &&
          !(fs::exists(output) && fs::equivalent(entry.path(), output))) {
        listed.push_back(name);
      }
    }
    std::sort(listed.begin(), listed.end());
    files.insert(files.end(), listed.begin(), listed.end());
  }
  if (files.empty()) throw Error(ErrorCode::kInvalidArgument, "merge: no .npy outputs given");
  std::vector<Part> parts;
  parts.reserve(files.size());
  for (const std::string& file : files) parts.push_back(read_part(file));
  for (const Part& part : parts) {
    if (part.dim != parts.front().dim) {
      throw Error(ErrorCode::kInvalidArgument,
                  part.path + " has dimension " + std::to_string(part.dim) + ", " +
                      parts.front().path + " " + std::to_string(parts.front().dim));
    }
  }
  const std::vector<Step> steps = merge_order(parts);

  // Everything goes to temporary files made durable and renamed at the end (the .npy last), so a
  // failed merge leaves nothing.
  const std::string tmp = output + ".merging";
  size_t rows = 0;
  try {
    io::NpyWriter matrix(tmp, static_cast<int>(parts.front().dim));
    io::AppendFile paths(tmp + ".paths", false), errors(tmp + ".errors", false);
    std::vector<std::ifstream> data;
    for (const Part& part : parts) {
      data.emplace_back(part.path, std::ios::binary);
      data.back().seekg(static_cast<std::streamoff>(part.data_offset));
    }
    std::vector<float> row(parts.front().dim);
    for (const Step& step : steps) {
      const Part& part = parts[step.part];
      if (step.error) {
        errors.append(part.errors[step.index] + "\n");
        continue;
      }
      // Rows of a part are taken in order, so each part's data is read front to back.
      data[step.part].read(reinterpret_cast<char*>(row.data()),
                           static_cast<std::streamsize>(row.size() * sizeof(float)));
      if (!data[step.part]) throw Error(ErrorCode::kIo, "cannot read " + part.path);
      matrix.append(row.data());
      paths.append(part.paths[step.index] + "\n");
      ++rows;
    }
    paths.sync();
    errors.sync();
    matrix.commit();
    io::replace_durably(tmp + ".paths", output + ".paths.txt");
    io::replace_durably(tmp + ".errors", output + ".errors.jsonl");
    io::replace_durably(tmp, output);
  } catch (const Error&) {
    std::error_code ignored;
    for (const char* suffix : {"", ".paths", ".errors"}) fs::remove(tmp + suffix, ignored);
    throw;
  }
  return rows;
}

}  // namespace clipembed::cli
