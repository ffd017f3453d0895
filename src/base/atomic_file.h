// Whole-file writes that never leave a half-written file behind.
#ifndef OODSCORE_SRC_BASE_ATOMIC_FILE_H_
#define OODSCORE_SRC_BASE_ATOMIC_FILE_H_

#include <filesystem>
#include <string_view>

namespace oodscore {

// Writes contents to a temporary file beside path, then renames it over path. Creates missing
// parent folders. A symbolic link stays a link (the file it points to is written); an
// existing file that is not a regular one (a FIFO, /dev/stdout) is written through, never
// replaced. Throws oodscore::Error naming the path on failure.
void WriteFileAtomic(const std::filesystem::path& path, std::string_view contents);

// Reads a whole file. Throws oodscore::Error naming the path on failure.
std::string ReadFile(const std::filesystem::path& path);

}  // namespace oodscore

#endif  // OODSCORE_SRC_BASE_ATOMIC_FILE_H_
