#include "base/user_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "oodscore/error.h"

namespace oodscore {

std::filesystem::path ResolvedPath(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  if (ec) p = path;  // no current folder to start from: as given
  const fs::path canonical = fs::weakly_canonical(p, ec);
  p = (ec ? p : canonical).lexically_normal();
  return p.has_filename() || p == p.root_path() ? p : p.parent_path();
}

const char* FileKind(unsigned mode) {
  return S_ISDIR(mode)    ? "a directory"
         : S_ISFIFO(mode) ? "a FIFO"
         : S_ISSOCK(mode) ? "a socket"
         : S_ISCHR(mode)  ? "a character device"
         : S_ISBLK(mode)  ? "a block device"
                          : "not a plain file";
}

UserFile OpenUserFile(const std::filesystem::path& path) {
  UserFile file;
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    file.error = errno;
    return file;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    file.error = errno;
    ::close(fd);
    return file;
  }
  if (!S_ISREG(st.st_mode)) {
    file.kind = FileKind(st.st_mode);
    ::close(fd);
    return file;
  }
  file.fd = fd;
  file.size = static_cast<std::size_t>(st.st_size);
  return file;
}

std::string UserFileFailure(const UserFile& file) {
  if (file.kind) return std::string("not a regular file (") + file.kind + ")";
  return std::strerror(file.error);
}

std::string ReadUserFile(const std::filesystem::path& path, const std::string& where) {
  const UserFile file = OpenUserFile(path);
  if (file.kind) throw Error(where + ": " + UserFileFailure(file));
  if (file.fd < 0) throw Error("cannot open " + where + ": " + UserFileFailure(file));
  std::string bytes;
  std::size_t got = 0;
  try {
    bytes.resize(file.size);
    while (true) {
      if (got == bytes.size()) bytes.resize(bytes.size() + 4096);  // a file that grew
      const ssize_t n = ::read(file.fd, bytes.data() + got, bytes.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int err = errno;
        ::close(file.fd);
        throw Error("cannot read " + where + ": " + std::strerror(err));
      }
      if (n == 0) break;
      got += static_cast<std::size_t>(n);
    }
  } catch (const std::bad_alloc&) {
    ::close(file.fd);
    throw Error("cannot read " + where + ": out of memory for " + std::to_string(file.size) +
                " bytes");
  }
  ::close(file.fd);
  bytes.resize(got);
  return bytes;
}

}  // namespace oodscore
