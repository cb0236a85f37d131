#include "io/npy_writer.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
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

NpyWriter::NpyWriter(const std::string& path, int dim, bool resume) : dim_(dim) {
  const uint64_t row_bytes = static_cast<uint64_t>(dim) * sizeof(float);
  if (resume && std::filesystem::exists(path)) {
    std::ifstream in(path, std::ios::binary);
    char buffer[kHeaderBytes + 1] = {0};
    in.read(buffer, kHeaderBytes);
    const std::string text(buffer, static_cast<size_t>(in.gcount()));
    long long rows = -1, cols = -1;
    const size_t shape = text.find("'shape': (");
    if (text.size() != kHeaderBytes || text.compare(0, 6, "\x93NUMPY") != 0 ||
        text.find("'descr': '<f4'") == std::string::npos || shape == std::string::npos ||
        std::sscanf(text.c_str() + shape, "'shape': (%lld, %lld)", &rows, &cols) != 2 || rows < 0) {
      throw Error(ErrorCode::kInvalidArgument, path + " is not an output of clipembed to resume");
    }
    if (cols != dim) {
      throw Error(ErrorCode::kInvalidArgument, path + " holds " + std::to_string(cols) +
                                                   "-dimensional rows, the model gives " +
                                                   std::to_string(dim));
    }
    // Rows are counted from the data as well as the header, and only those both hold are kept:
    // data past the header's count (a batch that never committed) and a header counting rows
    // whose data is not all there (a write the disk cut short) are both cut.
    const uint64_t data = std::filesystem::file_size(path) - kHeaderBytes;
    rows_ = std::min<int64_t>(rows, static_cast<int64_t>(data / row_bytes));
    file_ = std::make_unique<AppendFile>(path, true);
    cut_to(rows_);
    return;
  }
  // The header alone first, under a temporary name renamed into place: the file either does
  // not exist or is a valid array (of no rows), whatever interrupts its creation.
  write_file_atomically(path, header());
  file_ = std::make_unique<AppendFile>(path, true);
}

NpyWriter::~NpyWriter() = default;

void NpyWriter::cut_to(int64_t rows) {
  rows_ = std::min(rows_, rows);
  pending_ = 0;
  file_->cut(kHeaderBytes + static_cast<uint64_t>(rows_) * static_cast<uint64_t>(dim_) * 4);
  file_->write_at(0, header());
}

std::string NpyWriter::header() const {
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
  return header;
}

void NpyWriter::append(const float* row) {
  // x86-64 is little-endian, as '<f4' declares.
  file_->append(std::string_view(reinterpret_cast<const char*>(row),
                                 static_cast<size_t>(dim_) * sizeof(float)));
  ++pending_;
}

void NpyWriter::sync_rows() { file_->sync(); }

void NpyWriter::commit() {
  file_->sync();
  rows_ += pending_;
  header_dirty_ = true;  // From here until the write succeeds, the header may say either.
  try {
    file_->write_at(0, header());
  } catch (...) {
    rows_ -= pending_;
    throw;
  }
  header_dirty_ = false;
  pending_ = 0;
  file_->commit();
}

bool NpyWriter::rollback() noexcept {
  pending_ = 0;
  if (header_dirty_) {
    // A commit failed while writing the header (or making it durable): it may count the new
    // rows. Only once it says the committed count again may their data go.
    try {
      file_->write_at(0, header());
    } catch (const Error&) {
      file_->drop_queued();
      return false;
    }
    header_dirty_ = false;
  }
  file_->rollback();
  return true;
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
  // Bytes past the rows the header counts are an unfinished batch (a writer killed before its
  // commit) and are not part of the array, as numpy.load reads it; fewer bytes than the header
  // counts mean a damaged file.
  const uintmax_t size = std::filesystem::file_size(path);
  if (size < shape.data_offset + shape.rows * shape.cols * sizeof(float)) {
    throw Error(ErrorCode::kInvalidArgument,
                path + " holds " +
                    std::to_string(size - std::min<uintmax_t>(size, shape.data_offset)) +
                    " data bytes, not the " + std::to_string(shape.rows * shape.cols * 4) +
                    " its header says (a truncated or unfinished file)");
  }
  return shape;
}

}  // namespace clipembed::io
