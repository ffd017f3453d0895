// Files that a user named: what a name refers to, and opening one (a regular file only, never
// blocking on a FIFO).
#ifndef OODSCORE_SRC_BASE_USER_FILE_H_
#define OODSCORE_SRC_BASE_USER_FILE_H_

#include <cstddef>
#include <filesystem>
#include <string>

namespace oodscore {

// What `path` refers to, so that two names of one file or folder compare equal: absolute, every
// link resolved as far as the path exists, "." and ".." gone, and no trailing '/' ("res/"
// equals "res", existing or not). Relative paths are taken from the current folder; when
// that cannot be read, the path comes back lexically normal.
std::filesystem::path ResolvedPath(const std::filesystem::path& path);

// An open regular file, or why there is none.
struct UserFile {
  int fd = -1;                 // >= 0 when open: the caller closes it
  std::size_t size = 0;        // its size when opened
  int error = 0;               // errno of a failed open() or fstat()
  const char* kind = nullptr;  // the path is not a regular file: "a FIFO", "a directory", ...
};

// Opens `path` read-only with O_NONBLOCK (opening a FIFO never blocks the run) and O_CLOEXEC,
// then refuses (closes) anything fstat does not call a regular file.
UserFile OpenUserFile(const std::filesystem::path& path);

// "a directory", "a FIFO", "a socket", "a character device", "a block device" or
// "not a plain file", for a st_mode that is not a regular file's.
const char* FileKind(unsigned mode);

// Why OpenUserFile failed: "not a regular file (a FIFO)", or strerror(error).
std::string UserFileFailure(const UserFile& file);

// The whole of a regular file. Throws oodscore::Error "cannot open <where>: <reason>",
// "<where>: not a regular file (a FIFO)" or "cannot read <where>: <reason>".
std::string ReadUserFile(const std::filesystem::path& path, const std::string& where);

}  // namespace oodscore

#endif  // OODSCORE_SRC_BASE_USER_FILE_H_
