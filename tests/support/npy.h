// Test support: a reader for the .npy files of the reference fixtures (little-endian, C order).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace clipembed::testing {

struct NpyArray {
  std::string dtype;  // e.g. "<f4", "|u1"
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
  template <typename T>
  const T* as() const {
    return reinterpret_cast<const T*>(data.data());
  }
};

// Throws std::runtime_error when the file is missing or not a version 1/2 .npy; a 2-D array in
// Fortran order is transposed into C order.
NpyArray read_npy(const std::string& path);

}  // namespace clipembed::testing
