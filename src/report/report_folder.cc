#include "oodscore/report_folder.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <ctime>

#include "base/atomic_file.h"
#include "base/json_text.h"
#include "base/version.h"
#include "oodscore/error.h"

namespace fs = std::filesystem;

namespace oodscore {

namespace {

constexpr const char* kStagingPrefix = ".oodscore-partial-";

// The files an earlier run put here: those its manifest lists, or (without a manifest) the
// names oodscore writes.
std::vector<std::string> EarlierFiles(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  const fs::path manifest = dir / kManifestName;
  if (fs::is_regular_file(manifest, ec)) {
    try {
      const nlohmann::json j = ParseJsonText(ReadFile(manifest), manifest.string());
      for (const auto& f : j.at("files")) names.push_back(f.at("name").get<std::string>());
      return names;
    } catch (const std::exception&) {  // unreadable manifest: fall back on the known names
    }
  }
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string n = entry.path().filename().string();
    if (IsReportFileName(n)) names.push_back(n);
  }
  return names;
}

}  // namespace

bool IsReportFileName(const std::string& n) {
  const bool card =
      n.rfind("card-", 0) == 0 && n.size() > 10 && n.compare(n.size() - 5, 5, ".json") == 0;
  return card || n == "report.json" || n == "report.md" || n == "report.html" ||
         n == "scores.csv" || n == "compare.json" || n == "compare.md" || n == "compare.html";
}

ReportFolder::ReportFolder(const fs::path& dir) : dir_(dir) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw Error("cannot create report folder '" + dir_.string() + "': " + ec.message());
  // Staging folders of runs that died.
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string n = entry.path().filename().string();
    if (n.rfind(kStagingPrefix, 0) != 0) continue;
    const long pid = std::atol(n.c_str() + std::char_traits<char>::length(kStagingPrefix));
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
      fs::remove_all(entry.path(), ec);
    }
  }
  staging_ = dir_ / (kStagingPrefix + std::to_string(::getpid()));
  fs::remove_all(staging_, ec);
  fs::create_directory(staging_, ec);
  if (ec) throw Error("cannot create '" + staging_.string() + "': " + ec.message());
}

ReportFolder::~ReportFolder() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(staging_, ec);
}

fs::path ReportFolder::Stage(const std::string& name) {
  if (std::find(names_.begin(), names_.end(), name) == names_.end()) names_.push_back(name);
  return staging_ / name;
}

void ReportFolder::Commit(const nlohmann::json& run) {
  std::error_code ec;
  const std::vector<std::string> earlier = EarlierFiles(dir_);
  fs::remove(dir_ / kManifestName, ec);  // from here until the new manifest: incomplete
  nlohmann::json files = nlohmann::json::array();
  for (const auto& name : names_) {
    const fs::path from = staging_ / name, to = dir_ / name;
    if (!fs::exists(from, ec)) continue;
    nlohmann::json f;
    AddNameField(&f, "name", name);
    f["bytes"] = fs::file_size(from, ec);
    files.push_back(f);
    struct stat st;
    if (::lstat(to.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      // A link or a special file named like a report file: written through, not replaced.
      WriteFileAtomic(to, ReadFile(from));
      fs::remove(from, ec);
      continue;
    }
    fs::rename(from, to, ec);
    if (ec) {
      throw Error("cannot move '" + from.string() + "' to '" + to.string() + "': " + ec.message());
    }
  }
  for (const auto& name : earlier) {
    if (std::find(names_.begin(), names_.end(), name) == names_.end()) fs::remove(dir_ / name, ec);
  }
  char stamp[32] = "";
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  if (gmtime_r(&now, &tm)) std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
  const nlohmann::json manifest = {{"kind", "oodscore-report-manifest"},
                                   {"tool", ToolJson()},
                                   {"finished", stamp},
                                   {"run", run},
                                   {"files", files}};
  WriteFileAtomic(dir_ / kManifestName, DumpJson(manifest) + "\n");
  fs::remove_all(staging_, ec);
  committed_ = true;
}

}  // namespace oodscore
