#include "cli/npy_writer.h"

#include <cerrno>
#include <cstring>

#include "clipembed/error.h"

namespace clipembed::cli {
namespace {

// Version 1.0 header padded to a fixed 128 bytes, so the row count can be rewritten in place.
constexpr size_t kHeaderBytes = 128;

}  // namespace

NpyWriter::NpyWriter(const std::string& path, int dim) : path_(path), dim_(dim) {
  file_ = std::fopen(path.c_str(), "wb");
  if (file_ == nullptr) {
    throw Error(ErrorCode::kIo, "cannot create " + path + ": " + std::strerror(errno));
  }
  write_header();
}

NpyWriter::~NpyWriter() {
  if (file_ != nullptr) {
    flush();
    std::fclose(file_);
  }
}

void NpyWriter::write_header() {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows_) +
                     ", " + std::to_string(dim_) + "), }";
  std::string header = "\x93NUMPY";
  header += '\x01';
  header += '\x00';
  const size_t dict_len = kHeaderBytes - 10;
  dict.resize(dict_len - 1, ' ');
  dict += '\n';
  header += static_cast<char>(dict_len & 0xFF);
  header += static_cast<char>(dict_len >> 8);
  header += dict;
  std::fseek(file_, 0, SEEK_SET);
  if (std::fwrite(header.data(), 1, header.size(), file_) != header.size()) {
    throw Error(ErrorCode::kIo, "cannot write " + path_);
  }
  std::fseek(file_, 0, SEEK_END);
}

void NpyWriter::append(const float* row) {
  // x86-64 is little-endian, as '<f4' declares.
  if (std::fwrite(row, sizeof(float), static_cast<size_t>(dim_), file_) !=
      static_cast<size_t>(dim_)) {
    throw Error(ErrorCode::kIo, "cannot write " + path_);
  }
  ++rows_;
}

void NpyWriter::flush() {
  std::fflush(file_);
  write_header();
  std::fflush(file_);
}

}  // namespace clipembed::cli
