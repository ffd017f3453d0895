// Moving or copying a file to a destination that is never overwritten: when the name is taken
// (by an earlier run, or by another file of this run) a numbered name beside it is used.
// What `score --move-flagged` and `--copy-flagged` do with each flagged file.
#ifndef OODSCORE_SRC_BASE_PLACE_FILE_H_
#define OODSCORE_SRC_BASE_PLACE_FILE_H_

#include <filesystem>
#include <string>

namespace oodscore {

// The n-th alternative to a taken file name: a number before the last extension,
// "a/IMG_0001.png", 1 -> "a/IMG_0001.1.png"; "notes", 2 -> "notes.2"; ".hidden", 1 ->
// ".hidden.1" (a leading dot starts no extension). n = 0 is the name itself.
std::filesystem::path NumberedName(const std::filesystem::path& path, int n);

enum class PlaceMode { kMove, kCopy };

struct PlaceOptions {
  PlaceMode mode = PlaceMode::kMove;
  // A test seam: move as if the destination were on another file system (rename() failing
  // with EXDEV), so that the copy, fsync and unlink path runs on one file system too.
  bool as_if_cross_device = false;
};

// Where a file went.
struct Placed {
  std::filesystem::path to;  // the destination, or a numbered name beside it
  bool renumbered = false;   // the destination was taken: `to` is a numbered name
  bool copied = false;       // the bytes were copied (copy mode, or a move across devices)
};

// Moves (or copies) `from` to `to`, creating to's missing folders; never replaces a file. The
// free name (to, then NumberedName(to, 1), 2, ...) is claimed atomically: a move is a
// renameat2(RENAME_NOREPLACE), or link() + unlink() where the file system lacks it; a copy
// writes a file created with O_EXCL. A move across file systems (EXDEV) copies, fsyncs the
// copy and its folder, and only then unlinks the source. Throws oodscore::Error naming both
// paths and the reason; the source is then where it was (a partial copy is removed).
Placed PlaceFile(const std::filesystem::path& from, const std::filesystem::path& to,
                 const PlaceOptions& options = {});

}  // namespace oodscore

#endif  // OODSCORE_SRC_BASE_PLACE_FILE_H_
