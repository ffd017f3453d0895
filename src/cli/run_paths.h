// Every file a run reads and every file it writes, each with the flag that named it, so that
// one rule holds for every command: no output is, or links to, an input, and no two outputs
// are one file. Filled as the command learns its paths and checked once before anything is
// written (front-end code).
//
//   RunPaths paths;
//   paths.Read("--model", opt.model_path);
//   paths.Write("-o", opt.output);
//   paths.Check();  // UsageError (exit 2) naming both flags
#ifndef OODSCORE_SRC_CLI_RUN_PATHS_H_
#define OODSCORE_SRC_CLI_RUN_PATHS_H_

#include <filesystem>
#include <string>
#include <vector>

#include "oodscore/dataset.h"

namespace oodscore {

class RunPaths {
 public:
  // A file the run reads, named by `flag` ("--model", "--card"). "" and "-" (standard input)
  // are ignored, and so is a path that does not exist (nothing there can be lost).
  void Read(const std::string& flag, const std::string& path);
  // Every file the sets were listed from (a list file, a .npy and its labels) and every image
  // in them, under `flag`.
  void ReadSets(const std::string& flag, const std::vector<SampleSet>& sets);
  // A file the run writes (its temporary lies beside it). "" and "-" (standard output) are
  // ignored, and so is a path that is a device or a FIFO (nothing there can be lost).
  void Write(const std::string& flag, const std::string& path);
  // A report folder (include/oodscore/report_folder.h): each file in it with a report file's
  // name may be replaced or removed by the run.
  void WriteReportFolder(const std::string& flag, const std::filesystem::path& dir);
  // A folder the run owns (finetune's checkpoints): any file below it may be replaced or
  // removed.
  void WriteTree(const std::string& flag, const std::filesystem::path& dir);

  // Throws UsageError when a written file is a read one (the same file after links are
  // resolved, a hard link too), or lies in the report folder under a report file's name, or
  // when two written files are one: "-o 'link.pt' would overwrite --model 'm.pt' (the same
  // file): a run never writes over its own input; give -o another path".
  void Check() const;

 private:
  struct Entry {
    std::string flag, path;
  };
  std::vector<Entry> reads_, images_, writes_, folders_, trees_;
};

}  // namespace oodscore

#endif  // OODSCORE_SRC_CLI_RUN_PATHS_H_
