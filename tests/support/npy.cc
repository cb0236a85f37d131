#include "support/npy.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace clipembed::testing {

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || std::string(bytes.begin() + 1, bytes.begin() + 6) != "NUMPY") {
    throw std::runtime_error(path + " is not a .npy file");
  }
  const int major = bytes[6];
  size_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = bytes[8] | (bytes[9] << 8);
    offset = 10;
  } else {
    header_len = bytes[8] | (bytes[9] << 8) | (bytes[10] << 16) | (size_t{bytes[11]} << 24);
    offset = 12;
  }
  const std::string header(bytes.begin() + offset, bytes.begin() + offset + header_len);
  // The header is a Python dict literal such as
  // {'descr': '<f4', 'fortran_order': False, 'shape': (23, 16), }
  auto value_after = [&](const std::string& key) {
    const size_t at = header.find("'" + key + "':");
    if (at == std::string::npos) throw std::runtime_error(path + ": no " + key);
    size_t v = at + key.size() + 3;
    while (v < header.size() && header[v] == ' ') ++v;
    return v;
  };
  NpyArray a;
  size_t v = value_after("descr");
  const size_t close = header.find('\'', v + 1);
  a.dtype = header.substr(v + 1, close - v - 1);
  const bool fortran = header.compare(value_after("fortran_order"), 4, "True") == 0;
  v = value_after("shape");
  const size_t end = header.find(')', v);
  int64_t dim = -1;
  for (size_t i = v + 1; i < end; ++i) {
    if (header[i] >= '0' && header[i] <= '9') {
      dim = (dim < 0 ? 0 : dim * 10) + (header[i] - '0');
    } else if (dim >= 0) {
      a.shape.push_back(dim);
      dim = -1;
    }
  }
  if (dim >= 0) a.shape.push_back(dim);
  a.data.assign(bytes.begin() + offset + header_len, bytes.end());
  if (fortran && a.shape.size() > 2) {
    throw std::runtime_error(path + ": Fortran order is supported up to 2 dimensions");
  }
  if (fortran && a.shape.size() == 2) {
    // Column-major on disk: transpose into the row-major layout callers index.
    const size_t rows = static_cast<size_t>(a.shape[0]), cols = static_cast<size_t>(a.shape[1]);
    const size_t item = a.data.size() / std::max<size_t>(1, rows * cols);
    std::vector<uint8_t> row_major(a.data.size());
    for (size_t r = 0; r < rows; ++r) {
      for (size_t c = 0; c < cols; ++c) {
        std::memcpy(&row_major[(r * cols + c) * item], &a.data[(c * rows + r) * item], item);
      }
    }
    a.data = std::move(row_major);
  }
  return a;
}

}  // namespace clipembed::testing
