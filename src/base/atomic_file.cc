#include "base/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "oodscore/error.h"

namespace oodscore {

namespace {

// Writes into an existing file that is not a regular one (a FIFO, /dev/stdout, a terminal) as
// a user expects: open it and write, never replace it.
void WriteThrough(const std::filesystem::path& path, std::string_view contents) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot write '" + path.string() + "': " + std::strerror(errno));
  std::size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      throw Error("writing '" + path.string() + "' failed: " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
}

}  // namespace

void WriteFileAtomic(const std::filesystem::path& given, std::string_view contents) {
  std::error_code ec;
  std::filesystem::path path = given;
  struct stat st;
  // A link stays a link: write where it points (also when that file does not exist yet).
  for (int hops = 0; ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode); ++hops) {
    const std::filesystem::path target = std::filesystem::read_symlink(path, ec);
    if (ec || hops == 40) throw Error("cannot resolve link '" + given.string() + "'");
    path = target.is_absolute() ? target : path.parent_path() / target;
  }
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    if (S_ISDIR(st.st_mode)) throw Error("cannot write '" + given.string() + "': it is a folder");
    WriteThrough(path, contents);
    return;
  }
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) {
    throw Error("cannot create folder '" + path.parent_path().string() + "': " + ec.message());
  }
  std::filesystem::path tmp = path;
  tmp += ".tmp" + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error("cannot write '" + given.string() + "': " + std::strerror(errno));
  bool ok = std::fwrite(contents.data(), 1, contents.size(), f) == contents.size();
  ok = (std::fflush(f) == 0) && ok;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    int err = errno;
    std::filesystem::remove(tmp, ec);
    throw Error("writing '" + given.string() + "' failed: " + std::strerror(err));
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw Error("cannot rename into '" + given.string() + "': " + ec.message());
  }
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open '" + path.string() + "': " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error("reading '" + path.string() + "' failed");
  return ss.str();
}

}  // namespace oodscore
