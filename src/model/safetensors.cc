#include "model/safetensors.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "clipembed/error.h"

namespace clipembed::model {
namespace {

using nlohmann::json;

// Headers of real checkpoints are a few hundred KiB; the format's own reference caps them at 100
// MB.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

bool parse_dtype(const std::string& name, DType* out) {
  static const std::pair<const char*, DType> kNames[] = {
      {"F64", DType::kF64},   {"F32", DType::kF32},        {"F16", DType::kF16},
      {"BF16", DType::kBF16}, {"I64", DType::kI64},        {"I32", DType::kI32},
      {"I16", DType::kI16},   {"I8", DType::kI8},          {"U8", DType::kU8},
      {"BOOL", DType::kBool}, {"F8_E4M3", DType::kOther8}, {"F8_E5M2", DType::kOther8},
      {"U16", DType::kI16},   {"U32", DType::kI32},        {"U64", DType::kI64}};
  for (const auto& [n, d] : kNames) {
    if (name == n) {
      *out = d;
      return true;
    }
  }
  return false;
}

}  // namespace

void SafetensorsFile::release(const void* data, size_t bytes) const {
  if (mapping_ != nullptr) mapping_->release(data, bytes);
}

int dtype_size(DType d) {
  switch (d) {
    case DType::kF64:
    case DType::kI64:
      return 8;
    case DType::kF32:
    case DType::kI32:
      return 4;
    case DType::kF16:
    case DType::kBF16:
    case DType::kI16:
      return 2;
    case DType::kI8:
    case DType::kU8:
    case DType::kBool:
    case DType::kOther8:
      return 1;
  }
  return 0;
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  mapping_ = std::make_unique<io::MappedFile>(path);
  parse(mapping_->bytes());
}

SafetensorsFile::SafetensorsFile(std::span<const uint8_t> bytes, const std::string& name)
    : path_(name) {
  parse(bytes);
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

void SafetensorsFile::parse(std::span<const uint8_t> bytes) {
  auto bad = [&](const std::string& what) -> void {
    throw Error(ErrorCode::kModelInvalid, path_ + ": " + what);
  };
  if (bytes.size() < 8) bad("file is too short to be safetensors (truncated?)");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  if (header_len > kMaxHeaderBytes || header_len > bytes.size() - 8) {
    bad("header length " + std::to_string(header_len) + " does not fit the file (truncated?)");
  }
  const char* header_begin = reinterpret_cast<const char*>(bytes.data() + 8);
  json header = json::parse(header_begin, header_begin + header_len, nullptr,
                            /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) bad("header is not a JSON object");
  const std::span<const uint8_t> data = bytes.subspan(8 + header_len);

  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const std::string& name = it.key();
    const json& entry = it.value();
    auto bad_tensor = [&](const std::string& what) { bad("tensor '" + name + "': " + what); };
    if (!entry.is_object()) bad_tensor("entry is not an object");
    TensorInfo info;
    if (!entry.contains("dtype") || !entry["dtype"].is_string()) bad_tensor("missing dtype");
    info.dtype_name = entry["dtype"].get<std::string>();
    if (!parse_dtype(info.dtype_name, &info.dtype)) {
      bad_tensor("unknown dtype '" + info.dtype_name + "'");
    }
    if (!entry.contains("shape") || !entry["shape"].is_array()) bad_tensor("missing shape");
    uint64_t numel = 1;
    for (const json& d : entry["shape"]) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > (uint64_t{1} << 40)) {
        bad_tensor("shape entries must be non-negative integers");
      }
      const uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && numel > (uint64_t{1} << 62) / dim) bad_tensor("shape is too large");
      numel *= dim;
      info.shape.push_back(static_cast<int64_t>(dim));
    }
    const json& offsets = entry.contains("data_offsets") ? entry["data_offsets"] : json();
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned()) {
      bad_tensor("data_offsets must be two non-negative integers");
    }
    const uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
    if (begin > end || end > data.size()) {
      bad_tensor("data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                 ") lie outside the " + std::to_string(data.size()) + "-byte data section");
    }
    if (numel > (uint64_t{1} << 60) || end - begin != numel * dtype_size(info.dtype)) {
      bad_tensor("byte size " + std::to_string(end - begin) + " does not match dtype " +
                 info.dtype_name + " and its shape");
    }
    info.data = data.subspan(begin, end - begin);
    ranges.emplace_back(begin, end);
    tensors_.emplace(name, std::move(info));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second) bad("two tensors overlap in the data section");
  }
}

}  // namespace clipembed::model
