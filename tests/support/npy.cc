#include "support/npy.h"

#include <fstream>
#include <iterator>
#include <regex>
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
  std::smatch m;
  NpyArray a;
  if (!std::regex_search(header, m, std::regex("'descr':\\s*'([^']+)'"))) {
    throw std::runtime_error(path + ": no descr");
  }
  a.dtype = m[1];
  if (header.find("'fortran_order': False") == std::string::npos) {
    throw std::runtime_error(path + ": only C order is supported");
  }
  if (!std::regex_search(header, m, std::regex("'shape':\\s*\\(([^)]*)\\)"))) {
    throw std::runtime_error(path + ": no shape");
  }
  const std::string dims = m[1];
  std::regex number("\\d+");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), number);
       it != std::sregex_iterator(); ++it) {
    a.shape.push_back(std::stoll(it->str()));
  }
  a.data.assign(bytes.begin() + offset + header_len, bytes.end());
  return a;
}

}  // namespace clipembed::testing
