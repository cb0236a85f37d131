#include "io/durable_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "clipembed/error.h"

namespace clipembed::io {
namespace {

// Writes all of `bytes` at `offset` (or at the end when offset < 0); returns 0 or the errno of
// the failure. A short write without an error (a full disk reports the bytes it took first) is
// retried, and the retry reports the error.
int write_fully(int fd, std::string_view bytes, int64_t offset) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = offset < 0
                          ? ::write(fd, bytes.data() + done, bytes.size() - done)
                          : ::pwrite(fd, bytes.data() + done, bytes.size() - done,
                                     static_cast<off_t>(offset + static_cast<int64_t>(done)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return EIO;
    done += static_cast<size_t>(n);
  }
  return 0;
}

std::string parent_of(const std::string& path) {
  const std::string parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

}  // namespace

std::string os_reason(int error_number) {
  const char* name = strerrorname_np(error_number);
  return std::string(std::strerror(error_number)) + " (" +
         (name != nullptr ? name : "errno " + std::to_string(error_number)) + ")";
}

void throw_os_error(std::string_view what, const std::string& path, int error_number) {
  throw Error(ErrorCode::kIo, std::string(what) + " " + path + ": " + os_reason(error_number));
}

AppendFile::AppendFile(std::string path, bool keep) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (keep ? 0 : O_TRUNC), 0644);
  if (fd_ < 0) throw_os_error(keep ? "cannot open" : "cannot create", path_, errno);
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const int error = errno;
    ::close(fd_);
    throw_os_error("cannot stat", path_, error);
  }
  written_ = committed_ = static_cast<uint64_t>(st.st_size);
}

AppendFile::~AppendFile() {
  if (fd_ >= 0) ::close(fd_);
}

void AppendFile::append(std::string_view bytes) { queue_.append(bytes); }

void AppendFile::sync() {
  if (!queue_.empty()) {
    const int error = write_fully(fd_, queue_, static_cast<int64_t>(written_));
    if (error != 0) {
      // What was written of the queue is past the last commit: rollback() cuts it.
      written_ = static_cast<uint64_t>(::lseek(fd_, 0, SEEK_END));
      throw_os_error("cannot write", path_, error);
    }
    written_ += queue_.size();
    queue_.clear();
  }
  if (::fsync(fd_) != 0) throw_os_error("cannot write", path_, errno);
}

void AppendFile::write_at(uint64_t offset, std::string_view bytes) {
  if (const int error = write_fully(fd_, bytes, static_cast<int64_t>(offset)); error != 0) {
    throw_os_error("cannot write", path_, error);
  }
  if (::fsync(fd_) != 0) throw_os_error("cannot write", path_, errno);
}

void AppendFile::commit() { committed_ = written_; }

void AppendFile::rollback() noexcept {
  queue_.clear();
  if (::ftruncate(fd_, static_cast<off_t>(committed_)) == 0) {
    written_ = committed_;
    ::fsync(fd_);
  }
}

void AppendFile::cut(uint64_t bytes) {
  queue_.clear();
  if (::ftruncate(fd_, static_cast<off_t>(bytes)) != 0 || ::fsync(fd_) != 0) {
    throw_os_error("cannot cut", path_, errno);
  }
  written_ = committed_ = bytes;
}

void sync_directory(const std::string& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_os_error("cannot open", directory, errno);
  const int error = ::fsync(fd) != 0 ? errno : 0;
  ::close(fd);
  // Some file systems cannot sync a directory (EINVAL): their renames are as durable as they get.
  if (error != 0 && error != EINVAL) throw_os_error("cannot sync", directory, error);
}

void replace_durably(const std::string& temporary, const std::string& path) {
  int error = 0;
  const int fd = ::open(temporary.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) error = errno;
  if (fd >= 0) ::close(fd);
  if (error == 0 && ::rename(temporary.c_str(), path.c_str()) != 0) error = errno;
  if (error != 0) {
    ::unlink(temporary.c_str());
    throw_os_error("cannot write", path, error);
  }
  sync_directory(parent_of(path));
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
  const std::string temporary = path + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw_os_error("cannot create", temporary, errno);
  int error = write_fully(fd, bytes, -1);
  if (error == 0 && ::fsync(fd) != 0) error = errno;
  ::close(fd);
  if (error != 0) {
    ::unlink(temporary.c_str());
    throw_os_error("cannot write", path, error);
  }
  replace_durably(temporary, path);
}

}  // namespace clipembed::io
