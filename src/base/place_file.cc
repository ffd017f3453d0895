#include "base/place_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "oodscore/error.h"

namespace fs = std::filesystem;

namespace oodscore {

fs::path NumberedName(const fs::path& path, int n) {
  if (n == 0) return path;
  const fs::path name = path.filename();
  fs::path numbered = name.stem();
  numbered += "." + std::to_string(n);
  numbered += name.extension();
  return path.parent_path() / numbered;
}

namespace {

// Past this many taken names something is wrong (a loop, a hostile folder): stop.
constexpr int kMaxNumber = 1000000;

[[noreturn]] void Fail(const std::string& verb, const fs::path& from, const fs::path& to, int err) {
  throw Error("cannot " + verb + " '" + from.string() + "' to '" + to.string() +
              "': " + std::strerror(err) + " (the file was left where it was)");
}

// How one try at a destination name ended.
enum class Outcome { kDone, kTaken, kCrossDevice, kNoAtomicRename };

int RenameNoReplace(const char* from, const char* to) {
#ifdef RENAME_NOREPLACE
  return ::renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
#else
  errno = ENOSYS;
  return -1;
#endif
}

Outcome TryRename(const fs::path& from, const fs::path& to) {
  if (RenameNoReplace(from.c_str(), to.c_str()) == 0) return Outcome::kDone;
  if (errno == EEXIST) return Outcome::kTaken;
  if (errno == EXDEV) return Outcome::kCrossDevice;
  if (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP) return Outcome::kNoAtomicRename;
  Fail("move", from, to, errno);
}

// A file system without renameat2's flag: link() claims the name atomically, unlink() drops
// the old one. Without hard links either, the caller copies.
Outcome TryLink(const fs::path& from, const fs::path& to) {
  if (::link(from.c_str(), to.c_str()) != 0) {
    if (errno == EEXIST) return Outcome::kTaken;
    if (errno == EXDEV || errno == EPERM || errno == ENOTSUP) return Outcome::kCrossDevice;
    Fail("move", from, to, errno);
  }
  if (::unlink(from.c_str()) != 0) {
    const int err = errno;
    ::unlink(to.c_str());  // one file under two names: back to the one it had
    Fail("move", from, to, err);
  }
  return Outcome::kDone;
}

// Opened file descriptors, closed on every path out.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

void FsyncFolder(const fs::path& dir) {
  Fd d{::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (d.fd >= 0) ::fsync(d.fd);  // best effort: some file systems refuse a folder's fsync
}

// Copies from's bytes into a new file `to` (O_EXCL: never one that exists), with from's
// permissions and modification time, fsynced with its folder. A failed copy is removed.
Outcome TryCopy(const fs::path& from, const fs::path& to) {
  Fd in{::open(from.c_str(), O_RDONLY | O_CLOEXEC)};
  if (in.fd < 0) Fail("copy", from, to, errno);
  struct stat st;
  if (::fstat(in.fd, &st) != 0) Fail("copy", from, to, errno);
  Fd out{::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777)};
  if (out.fd < 0) {
    if (errno == EEXIST) return Outcome::kTaken;
    Fail("copy", from, to, errno);
  }
  auto fail = [&](int err) {
    ::unlink(to.c_str());
    Fail("copy", from, to, err);
  };
  std::vector<char> buffer(1 << 20);
  for (;;) {
    const ssize_t n = ::read(in.fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(errno);
    if (n == 0) break;
    for (ssize_t done = 0; done < n;) {
      const ssize_t w = ::write(out.fd, buffer.data() + done, static_cast<std::size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) fail(errno);
      done += w;
    }
  }
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  ::futimens(out.fd, times);  // best effort: the bytes are what matters
  if (::fsync(out.fd) != 0) fail(errno);
  const int fd = out.fd;
  out.fd = -1;
  if (::close(fd) != 0) fail(errno);
  FsyncFolder(to.parent_path());
  return Outcome::kDone;
}

// The copy is durable: only now may the source go.
void RemoveSourceAfterCopy(const fs::path& from, const fs::path& to) {
  if (::unlink(from.c_str()) != 0) {
    const int err = errno;
    ::unlink(to.c_str());  // not moved after all: no second copy left behind
    Fail("move", from, to, err);
  }
}

}  // namespace

Placed PlaceFile(const fs::path& from, const fs::path& to, const PlaceOptions& options) {
  std::error_code ec;
  if (!to.parent_path().empty()) {
    fs::create_directories(to.parent_path(), ec);
    if (ec) Fail("place", from, to, ec.value());
  }
  const bool copy = options.mode == PlaceMode::kCopy;
  bool cross_device = options.as_if_cross_device;
  bool atomic_rename = true;
  for (int n = 0; n <= kMaxNumber; ++n) {
    Placed placed{NumberedName(to, n), n > 0, copy || cross_device};
    Outcome outcome = Outcome::kCrossDevice;
    if (!copy && !cross_device) {
      outcome = atomic_rename ? TryRename(from, placed.to) : TryLink(from, placed.to);
      if (outcome == Outcome::kNoAtomicRename) {
        atomic_rename = false;
        outcome = TryLink(from, placed.to);
      }
      if (outcome == Outcome::kCrossDevice) {
        cross_device = true;
        placed.copied = true;
      }
    }
    if (copy || cross_device) outcome = TryCopy(from, placed.to);
    if (outcome == Outcome::kTaken) continue;
    if (!copy && cross_device) RemoveSourceAfterCopy(from, placed.to);
    return placed;
  }
  throw Error("cannot place '" + from.string() + "': '" + to.string() + "' and " +
              std::to_string(kMaxNumber) + " numbered names beside it are all taken");
}

}  // namespace oodscore
