#include "support/npy.h"

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
  if (header.compare(value_after("fortran_order"), 5, "False") != 0) {
    throw std::runtime_error(path + ": only C order is supported");
  }
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
  return a;
}

}  // namespace clipembed::testing
