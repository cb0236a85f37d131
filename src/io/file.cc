#include "io/file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "clipembed/error.h"

namespace clipembed::io {
namespace {

[[noreturn]] void throw_io(const std::string& what, const std::string& path) {
  throw Error(ErrorCode::kIo, what + " " + path + ": " + std::strerror(errno));
}

// Closes a descriptor on every path out of a function.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

size_t regular_file_size(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_io("cannot stat", path);
  if (!S_ISREG(st.st_mode)) {
    throw Error(ErrorCode::kIo, "not a regular file: " + path);
  }
  return static_cast<size_t>(st.st_size);
}

}  // namespace

std::vector<uint8_t> read_file(const std::string& path, uint64_t max_bytes) {
  // O_NONBLOCK: opening a FIFO without a writer would otherwise wait forever; a regular file is
  // read as usual, and anything else is refused below.
  FdGuard fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) throw_io("cannot open", path);
  const size_t size = regular_file_size(fd.get(), path);
  if (size > max_bytes) {
    throw Error(ErrorCode::kIo, path + " is " + std::to_string(size) +
                                    " bytes, over the limit of " + std::to_string(max_bytes));
  }
  std::vector<uint8_t> out(size);
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_io("cannot read", path);
    if (n == 0) break;  // The file shrank while we read it; keep what we have.
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

void write_file(const std::string& path, std::span<const uint8_t> bytes) {
  FdGuard fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) throw_io("cannot create", path);
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw_io("cannot write", path);
    done += static_cast<size_t>(n);
  }
}

MappedFile::MappedFile(const std::string& path) : path_(path) {
  FdGuard fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw_io("cannot open", path);
  size_ = regular_file_size(fd.get(), path);
  if (size_ == 0) return;  // mmap refuses empty files; an empty span is the right view.
  void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (p == MAP_FAILED) throw_io("cannot map", path);
  data_ = static_cast<const uint8_t*>(p);
}

void MappedFile::release(const void* data, size_t bytes) const {
  const auto* begin = static_cast<const uint8_t*>(data);
  if (data_ == nullptr || begin < data_ || begin + bytes > data_ + size_) return;
  // The mapping starts on a page boundary, so whole pages are whole multiples of offsets.
  const auto page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t offset = static_cast<size_t>(begin - data_);
  const size_t first = (offset + page - 1) / page * page;
  const size_t last = (offset + bytes) / page * page;
  // Advice only: a failure leaves the pages resident, which is harmless.
  if (last > first) ::madvise(const_cast<uint8_t*>(data_) + first, last - first, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace clipembed::io
