#include "pgstack/base/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "pgstack/base/error.h"
#include "pgstack/base/fd.h"

namespace pgstack {

namespace {

std::string read_all(const Fd& fd, std::uint64_t offset) {
  std::string text;
  char buffer[65536];
  auto position = static_cast<off_t>(offset);
  for (;;) {
    ssize_t n = ::pread(fd.get(), buffer, sizeof buffer, position);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
    position += n;
  }
  return text;
}

}  // namespace

std::string read_text_file(const std::string& path, std::uint64_t offset) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return {};
  return read_all(fd, offset);
}

std::optional<std::string> read_text_file_if_readable(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  return read_all(fd, 0);
}

void write_text_file(const std::string& path, const std::string& text, WriteMode mode) {
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (mode == WriteMode::append ? O_APPEND : O_TRUNC);
  Fd fd(::open(path.c_str(), flags, 0644));
  if (!fd) throw Error("cannot write " + path + ": " + std::strerror(errno));
  std::size_t written = 0;
  while (written < text.size()) {
    ssize_t n = ::write(fd.get(), text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error("cannot write " + path + ": " + std::strerror(errno));
    written += static_cast<std::size_t>(n);
  }
}

bool replace_file_if_changed(const std::string& path, const std::string& text, unsigned mode) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 07777) == mode && read_text_file(path) == text) return false;
  const std::string tmp = path + ".tmp";
  {
    // A fresh file, never one found there: when root writes into a folder the server
    // user owns, a planted symlink must not redirect the write.
    ::unlink(tmp.c_str());
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
    if (!fd) throw Error("cannot write " + tmp + ": " + std::strerror(errno));
    ::fchmod(fd.get(), mode);  // the umask may have narrowed it; a stale temp file may be wider
    std::size_t written = 0;
    while (written < text.size()) {
      ssize_t n = ::write(fd.get(), text.data() + written, text.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw Error("cannot write " + tmp + ": " + std::strerror(errno) + "; check free space");
      written += static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) != 0) throw Error("cannot write " + tmp + ": " + std::strerror(errno) + "; check free space");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw Error("cannot replace " + path + ": " + std::strerror(errno));
  return true;
}

}  // namespace pgstack
