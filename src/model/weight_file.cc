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

WeightFile::WeightFile(std::unique_ptr<SafetensorsFile> file) : file_(std::move(file)) {}

std::string WeightFile::stored_dtype(const std::string& name) const {
  const TensorInfo* t = file_->find(name);
  return t != nullptr ? t->dtype_name : std::string();
}

const float* WeightFile::bind(const std::string& name, const std::vector<int64_t>& shape) {
  const TensorInfo* t = file_->find(name);
  auto bad = [&](const std::string& what) {
    throw Error(ErrorCode::kModelInvalid, file_->path() + ": tensor '" + name + "' " + what);
  };
  if (t == nullptr) bad("is missing");
  if (t->shape != shape) {
    bad("has shape " + shape_text(t->shape) + " but the config implies " + shape_text(shape));
  }
  const size_t n = static_cast<size_t>(t->numel());
  const uint8_t* src = t->data.data();
  if (t->dtype == DType::kF32 && reinterpret_cast<uintptr_t>(src) % alignof(float) == 0) {
    return reinterpret_cast<const float*>(src);
  }
  std::vector<float> out(n);
  switch (t->dtype) {
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
      bad("has dtype " + t->dtype_name + "; only F32, F16 and BF16 are supported");
  }
  converted_.push_back(std::move(out));
  return converted_.back().data();
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
