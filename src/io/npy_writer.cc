#include "io/npy_writer.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>

#include "clipembed/error.h"

namespace clipembed::io {
namespace {

// Version 1.0 header padded to a fixed 128 bytes, so the row count can be rewritten in place.
constexpr size_t kHeaderBytes = 128;

}  // namespace

NpyWriter::NpyWriter(const std::string& path, int dim, bool resume) : path_(path), dim_(dim) {
  if (resume && std::filesystem::exists(path)) {
    reopen();
    return;
  }
  file_ = std::fopen(path.c_str(), "wb");
  if (file_ == nullptr) {
    throw Error(ErrorCode::kIo, "cannot create " + path + ": " + std::strerror(errno));
  }
  write_header();
}

NpyWriter::~NpyWriter() {
  if (file_ == nullptr) return;
  try {
    flush();
  } catch (const Error&) {
    // A destructor cannot report; the last explicit flush() already did for a healthy file.
  }
  std::fclose(file_);
}

void NpyWriter::reopen() {
  file_ = std::fopen(path_.c_str(), "r+b");
  if (file_ == nullptr) {
    throw Error(ErrorCode::kIo, "cannot open " + path_ + ": " + std::strerror(errno));
  }
  char header[kHeaderBytes + 1] = {0};
  const size_t got = std::fread(header, 1, kHeaderBytes, file_);
  const std::string text(header, got);
  long long rows = -1, dim = -1;
  const size_t shape = text.find("'shape': (");
  if (got != kHeaderBytes || text.compare(0, 6, "\x93NUMPY") != 0 ||
      text.find("'descr': '<f4'") == std::string::npos || shape == std::string::npos ||
      std::sscanf(text.c_str() + shape, "'shape': (%lld, %lld)", &rows, &dim) != 2) {
    std::fclose(file_);
    file_ = nullptr;
    throw Error(ErrorCode::kInvalidArgument, path_ + " is not an output of clipembed to resume");
  }
  if (dim != dim_) {
    std::fclose(file_);
    file_ = nullptr;
    throw Error(ErrorCode::kInvalidArgument, path_ + " holds " + std::to_string(dim) +
                                                 "-dimensional rows, the model gives " +
                                                 std::to_string(dim_));
  }
  rows_ = rows;
  // Rows past the header's count belong to a write the interruption cut short.
  std::filesystem::resize_file(path_, kHeaderBytes + static_cast<uintmax_t>(rows_) * dim_ * 4);
  std::fseek(file_, 0, SEEK_END);
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

NpyShape read_npy_shape(const std::string& path) {
  auto bad = [&](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument, path + " is not a float32 [N, D] .npy file: " + why);
  };
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kIo, "cannot open " + path + ": " + std::strerror(errno));
  char prefix[12] = {0};
  in.read(prefix, sizeof(prefix));
  if (in.gcount() < 10 || std::string_view(prefix, 6) != "\x93NUMPY") throw bad("no npy magic");
  const auto major = static_cast<uint8_t>(prefix[6]);
  size_t length = 0, start = 0;
  if (major == 1) {
    length = static_cast<size_t>(static_cast<uint8_t>(prefix[8])) |
             static_cast<size_t>(static_cast<uint8_t>(prefix[9])) << 8;
    start = 10;
  } else if ((major == 2 || major == 3) && in.gcount() == 12) {
    for (int i = 3; i >= 0; --i) length = length << 8 | static_cast<uint8_t>(prefix[8 + i]);
    start = 12;
  } else {
    throw bad("unknown version");
  }
  if (length > (1u << 20)) throw bad("header too long");
  std::string header(length, '\0');
  in.clear();
  in.seekg(static_cast<std::streamoff>(start));
  in.read(header.data(), static_cast<std::streamsize>(length));
  if (static_cast<size_t>(in.gcount()) != length) throw bad("header cut short");
  if (header.find("'descr': '<f4'") == std::string::npos) throw bad("dtype is not '<f4'");
  if (header.find("'fortran_order': False") == std::string::npos) throw bad("Fortran order");
  const size_t at = header.find("'shape': (");
  unsigned long long rows = 0, cols = 0;
  if (at == std::string::npos ||
      std::sscanf(header.c_str() + at, "'shape': (%llu, %llu)", &rows, &cols) != 2) {
    throw bad("shape is not two-dimensional");
  }
  NpyShape shape{rows, cols, start + length};
  const uintmax_t size = std::filesystem::file_size(path);
  if (size != shape.data_offset + shape.rows * shape.cols * sizeof(float)) {
    throw Error(ErrorCode::kInvalidArgument,
                path + " holds " +
                    std::to_string(size - std::min<uintmax_t>(size, shape.data_offset)) +
                    " data bytes, not the " + std::to_string(shape.rows * shape.cols * 4) +
                    " its header says (a truncated or unfinished file)");
  }
  return shape;
}

}  // namespace clipembed::io
