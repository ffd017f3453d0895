// Opening a file that a user named: a regular file only, never blocking on a FIFO.
#ifndef OODSCORE_SRC_BASE_USER_FILE_H_
#define OODSCORE_SRC_BASE_USER_FILE_H_

#include <cstddef>
#include <filesystem>
#include <string>

namespace oodscore {

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
