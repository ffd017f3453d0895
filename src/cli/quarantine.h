// score --move-flagged / --copy-flagged: each flagged sample's file is placed in a quarantine
// folder, under its path relative to its input folder, never over another file, and recorded
// in the folder's manifest.tsv so that a move can be undone (front-end code).
//
//   DIR/manifest.tsv, appended across runs, its header written once:
//   from<TAB>to<TAB>score<TAB>value
//   /abs/uploads/a/IMG_1.png<TAB>/abs/uploads/quarantine/a/IMG_1.png<TAB>energy<TAB>-1.25
//
// Undo: cut -f1,2 DIR/manifest.tsv | tail -n +2 | while IFS=$'\t' read -r from to; do
//         mv -n "$to" "$from"; done
#ifndef OODSCORE_SRC_CLI_QUARANTINE_H_
#define OODSCORE_SRC_CLI_QUARANTINE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/place_file.h"
#include "oodscore/dataset.h"

namespace oodscore {

struct QuarantineOptions {
  std::string dir;                    // the folder the flagged files go to
  PlaceMode mode = PlaceMode::kMove;  // --move-flagged or --copy-flagged
  std::string flag = "--move-flagged";
  bool as_if_cross_device = false;  // a test seam (PlaceOptions)
};

// Refuses (UsageError, exit 2) a DIR that is, or holds, a folder input (flagged files would
// be moved onto or among the files being listed), that holds an image of a list or
// single-image input, that names an .npy input (rows, not files), or whose path holds a tab
// or a newline (manifest.tsv could not record it).
void CheckQuarantine(const QuarantineOptions& opt, const std::vector<SampleSet>& sets);

// The files of one run's flagged samples, placed batch by batch: Add() as each row is
// written, Flush() once the batch's rows are flushed to the CSV.
class Quarantine {
 public:
  // `score` is the column the card's threshold applies to, written beside each file.
  Quarantine(const QuarantineOptions& opt, const std::vector<SampleSet>& sets,
             const std::string& score);
  ~Quarantine();
  Quarantine(const Quarantine&) = delete;
  Quarantine& operator=(const Quarantine&) = delete;

  // A flagged sample of set `set` (by name) whose card column holds `value`.
  void Add(const std::string& set, const std::string& path, double value);
  // Places every added file and appends its manifest line. A file that cannot be placed is
  // logged with the reason and left where it is (counted); a manifest line that cannot be
  // written ends the run (Error): the manifest must stay a true record.
  void Flush();

  std::size_t placed() const { return placed_count_; }
  std::size_t left() const { return left_; }  // flagged, but still where they were

 private:
  struct Pending {
    std::string set, path;
    double value;
  };
  // Where `path` goes below the folder: its path relative to its set's input folder, else
  // its file name.
  std::filesystem::path Destination(const std::string& set, const std::string& path) const;
  void Place(const Pending& p);
  void Record(const std::filesystem::path& from, const std::filesystem::path& to, double value);

  QuarantineOptions opt_;
  std::string score_;
  std::unordered_map<std::string, std::filesystem::path> roots_;  // set name -> input folder
  // True when `path` lies in DIR (resolved): a file quarantined already.
  bool InDir(const std::string& path);

  std::filesystem::path dir_;             // DIR resolved, on first use
  std::unordered_set<std::string> seen_;  // a batch may name a file twice: placed once
  std::vector<Pending> pending_;
  int manifest_ = -1;  // DIR/manifest.tsv, opened O_APPEND on the first placed file
  std::size_t placed_count_ = 0, left_ = 0;
  // Each placed path and the file it named (device, inode, mtime): the same file named again
  // is not placed twice.
  std::unordered_map<std::string, std::array<std::int64_t, 4>> placed_;
};

}  // namespace oodscore

#endif  // OODSCORE_SRC_CLI_QUARANTINE_H_
