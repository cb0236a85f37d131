// A fault injector for the durable-write tests, loaded with LD_PRELOAD into a `clipembed` (or
// Python) process: writes to files under CLIPEMBED_FAULT_DIR fail as a full or broken disk makes
// them fail, without root and without filling a real disk.
//   CLIPEMBED_FAULT_DIR     a path prefix; only descriptors of files under it are affected
//   CLIPEMBED_FAULT_BYTES   bytes those files may take in all (write and pwrite); the write that
//                           crosses it is cut short there, as a disk that fills up cuts it, and
//                           every later one fails
//   CLIPEMBED_FAULT_ERRNO   the error of the failing writes: ENOSPC (default), EIO, EFBIG, EDQUOT
//   CLIPEMBED_FAULT_FSYNC   if set, fsync fails with the error once the bytes are spent, instead
//                           of the write (a disk that reports a lost write-back at fsync)
// Shrinking a file (ftruncate) always works, as it does on a full disk. As on a file system that
// writes in place (ext4, XFS), a full disk (ENOSPC, EDQUOT) or a size limit (EFBIG) fails only
// writes that grow a file, and those may be cut short; a broken disk (EIO) fails every write,
// whole.
#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace {

using WriteFn = ssize_t (*)(int, const void*, size_t);
using PwriteFn = ssize_t (*)(int, const void*, size_t, off_t);
using FsyncFn = int (*)(int);

struct Config {
  bool active = false;
  char prefix[4096] = {0};
  long long budget = 0;
  int error = ENOSPC;
  bool at_fsync = false;
};

Config& config() {
  static Config c = [] {
    Config k;
    const char* dir = std::getenv("CLIPEMBED_FAULT_DIR");
    const char* bytes = std::getenv("CLIPEMBED_FAULT_BYTES");
    if (dir == nullptr || bytes == nullptr) return k;
    k.active = true;
    std::snprintf(k.prefix, sizeof k.prefix, "%s", dir);
    k.budget = std::atoll(bytes);
    const char* name = std::getenv("CLIPEMBED_FAULT_ERRNO");
    if (name != nullptr && std::strcmp(name, "EIO") == 0) k.error = EIO;
    if (name != nullptr && std::strcmp(name, "EFBIG") == 0) k.error = EFBIG;
    if (name != nullptr && std::strcmp(name, "EDQUOT") == 0) k.error = EDQUOT;
    k.at_fsync = std::getenv("CLIPEMBED_FAULT_FSYNC") != nullptr;
    return k;
  }();
  return c;
}

std::mutex& budget_mutex() {
  static std::mutex m;
  return m;
}

bool affected(int fd) {
  const Config& c = config();
  if (!c.active) return false;
  char link[64], target[4096];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = ::readlink(link, target, sizeof target - 1);
  if (n <= 0) return false;
  target[n] = '\0';
  return std::strncmp(target, c.prefix, std::strlen(c.prefix)) == 0;
}

// How many of `n` bytes may be written now (0 with errno set: none).
ssize_t allowance(size_t n) {
  Config& c = config();
  std::lock_guard<std::mutex> lock(budget_mutex());
  if (c.at_fsync) {
    c.budget -= static_cast<long long>(n);
    return static_cast<ssize_t>(n);
  }
  if (c.budget <= 0) {
    errno = c.error;
    return 0;
  }
  const long long take = std::min<long long>(c.budget, static_cast<long long>(n));
  c.budget -= take;
  return static_cast<ssize_t>(take);
}

template <typename Fn>
Fn next(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" {

// Whether a write of n bytes at `offset` (-1: the current position) stays inside the file.
bool overwrites(int fd, size_t n, off_t offset) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return false;
  const off_t at = offset >= 0 ? offset : lseek(fd, 0, SEEK_CUR);
  return at >= 0 && at + static_cast<off_t>(n) <= st.st_size;
}

// How much of the write goes through (-1 with errno: none).
ssize_t permitted(int fd, size_t n, off_t offset) {
  if (n == 0 || !affected(fd)) return static_cast<ssize_t>(n);
  if (config().error != EIO && overwrites(fd, n, offset)) return static_cast<ssize_t>(n);
  if (config().error == EIO) {
    std::lock_guard<std::mutex> lock(budget_mutex());
    if (config().budget < static_cast<long long>(n) && !config().at_fsync) {
      config().budget = 0;
      errno = EIO;
      return -1;
    }
  }
  const ssize_t take = allowance(n);
  return take == 0 ? -1 : take;
}

ssize_t write(int fd, const void* data, size_t n) {
  static const WriteFn real = next<WriteFn>("write");
  const ssize_t take = permitted(fd, n, -1);
  if (take < 0) return -1;
  return real(fd, data, static_cast<size_t>(take));
}

ssize_t pwrite(int fd, const void* data, size_t n, off_t offset) {
  static const PwriteFn real = next<PwriteFn>("pwrite");
  const ssize_t take = permitted(fd, n, offset);
  if (take < 0) return -1;
  return real(fd, data, static_cast<size_t>(take), offset);
}

ssize_t pwrite64(int fd, const void* data, size_t n, off_t offset) {
  return pwrite(fd, data, n, offset);
}

int fsync(int fd) {
  static const FsyncFn real = next<FsyncFn>("fsync");
  Config& c = config();
  if (c.at_fsync && affected(fd)) {
    std::lock_guard<std::mutex> lock(budget_mutex());
    if (c.budget < 0) {
      errno = c.error;
      return -1;
    }
  }
  return real(fd);
}

}  // extern "C"
