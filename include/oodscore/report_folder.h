// A report folder that never mixes two runs.
//
// Every file of a run is written into a hidden staging folder inside the report folder
// (.oodscore-partial-<pid>); Commit() then removes the previous run's manifest, moves each
// staged file into place (one rename each), removes the files of the previous run that this
// run does not write, and writes the manifest (oodscore-manifest.json: the run and its files)
// last. So a run that fails or is killed before Commit() leaves the previous complete set
// untouched (and its staging folder, removed by the next run); the few milliseconds of
// Commit() leave no manifest until the set is complete, and a reader checks for it. Files
// that oodscore did not write are never touched.
//
//   ReportFolder folder(out_dir);                    // throws oodscore::Error
//   WriteFileAtomic(folder.Stage("report.json"), ...);
//   folder.Commit({{"command", "eval"}});
#ifndef OODSCORE_REPORT_FOLDER_H_
#define OODSCORE_REPORT_FOLDER_H_

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace oodscore {

constexpr const char* kManifestName = "oodscore-manifest.json";

// The names of the files a run writes into its report folder: report.json, report.md,
// report.html, scores.csv and card-<score>.json; compare's compare.json, compare.md and
// compare.html.
bool IsReportFileName(const std::string& name);

class ReportFolder {
 public:
  // Creates dir (and parents) and the staging folder; removes staging folders left by runs
  // that died (their process is gone).
  explicit ReportFolder(const std::filesystem::path& dir);
  ~ReportFolder();  // removes the staging folder unless committed
  ReportFolder(const ReportFolder&) = delete;
  ReportFolder& operator=(const ReportFolder&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  // Where to write the file `name` (a plain file name) of this run.
  std::filesystem::path Stage(const std::string& name);
  // Swaps the staged files in; `run` goes into the manifest. Throws oodscore::Error.
  void Commit(const nlohmann::json& run);

 private:
  std::filesystem::path dir_, staging_;
  std::vector<std::string> names_;
  bool committed_ = false;
};

}  // namespace oodscore

#endif  // OODSCORE_REPORT_FOLDER_H_
