#include "model/weight_file.h"

#include <cstring>

#include "clipembed/error.h"

namespace clipembed::model {
namespace {

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ffu, bits = 0;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // Subnormal: normalise.
      exp = 127 - 15 + 1;
      while ((mant & 0x400u) == 0) {
        mant <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

WeightFile::WeightFile(std::unique_ptr<SafetensorsFile> file,
                       std::map<std::string, TensorAlias> aliases)
    : file_(std::move(file)), aliases_(std::move(aliases)) {}

const TensorInfo* WeightFile::find(const std::string& name) const {
  if (aliases_.empty()) return file_->find(name);
  const auto it = aliases_.find(name);
  return it == aliases_.end() ? nullptr : file_->find(it->second.source);
}

std::string WeightFile::stored_dtype(const std::string& name) const {
  const TensorInfo* t = find(name);
  return t != nullptr ? t->dtype_name : std::string();
}

float* WeightFile::convert(const TensorInfo& t, const uint8_t* src, size_t n) {
  std::vector<float> out(n);
  switch (t.dtype) {
    case DType::kF32:
      std::memcpy(out.data(), src, n * sizeof(float));
      break;
    case DType::kF16:
      for (size_t i = 0; i < n; ++i) {
        out[i] = half_to_float(static_cast<uint16_t>(src[2 * i] | (src[2 * i + 1] << 8)));
      }
      break;
    case DType::kBF16:
      for (size_t i = 0; i < n; ++i) {
        const uint32_t bits = (uint32_t{src[2 * i]} << 16) | (uint32_t{src[2 * i + 1]} << 24);
        std::memcpy(&out[i], &bits, 4);
      }
      break;
    default:
      throw Error(ErrorCode::kModelInvalid, file_->path() + ": a tensor has dtype " + t.dtype_name +
                                                "; only F32, F16 and BF16 are supported");
  }
  converted_.push_back(std::move(out));
  return converted_.back().data();
}

const float* WeightFile::bind(const std::string& name, const std::vector<int64_t>& shape) {
  const auto alias_it = aliases_.find(name);
  // Without an alias the name is its own (find() says whether the file holds it).
  const TensorAlias alias = alias_it != aliases_.end() ? alias_it->second : TensorAlias{name};
  const std::string& stored = alias.source;
  const TensorInfo* t = find(name);
  auto bad = [&](const std::string& what) {
    throw Error(ErrorCode::kModelInvalid, file_->path() + ": tensor '" + stored + "' " + what);
  };
  if (t == nullptr) bad("is missing");
  // The shape the stored tensor must have for `shape` to be (a part of) it.
  std::vector<int64_t> expected = shape;
  if (alias.transposed && shape.size() == 2) expected = {shape[1], shape[0]};
  if (alias.parts > 1 && !expected.empty()) expected[0] *= alias.parts;
  if (t->shape != expected) {
    bad("has shape " + shape_text(t->shape) + " but the config implies " + shape_text(expected));
  }
  const size_t n = static_cast<size_t>(t->numel()) / static_cast<size_t>(alias.parts);
  const uint8_t* src = t->data.data() + static_cast<size_t>(alias.part) * n *
                                            static_cast<size_t>(dtype_size(t->dtype));
  if (t->dtype != DType::kF32 && t->dtype != DType::kF16 && t->dtype != DType::kBF16) {
    bad("has dtype " + t->dtype_name + "; only F32, F16 and BF16 are supported");
  }
  if (!alias.transposed && t->dtype == DType::kF32 &&
      reinterpret_cast<uintptr_t>(src) % alignof(float) == 0) {
    return reinterpret_cast<const float*>(src);
  }
  float* out = convert(*t, src, n);
  if (alias.transposed && shape.size() == 2) {
    // Stored [in, out] (used as x @ proj); the towers read [out, in] rows.
    const std::vector<float> stored_order(out, out + n);
    const auto rows = static_cast<size_t>(shape[0]), cols = static_cast<size_t>(shape[1]);
    for (size_t r = 0; r < rows; ++r) {
      for (size_t c = 0; c < cols; ++c) out[r * cols + c] = stored_order[c * rows + r];
    }
  }
  return out;
}

void WeightFile::release(const float* data, size_t count) {
  for (auto it = converted_.begin(); it != converted_.end(); ++it) {
    if (it->data() == data) {
      converted_.erase(it);
      return;
    }
  }
  file_->release(data, count * sizeof(float));
}

size_t WeightFile::converted_bytes() const {
  size_t n = 0;
  for (const auto& v : converted_) n += v.size() * sizeof(float);
  return n;
}

}  // namespace clipembed::model
