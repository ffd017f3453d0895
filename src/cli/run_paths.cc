#include "cli/run_paths.h"

#include <sys/stat.h>

#include <optional>

#include "base/user_file.h"
#include "oodscore/error.h"
#include "oodscore/report_folder.h"

namespace oodscore {

namespace fs = std::filesystem;

namespace {

// The file a path names once links are resolved: its device and inode, if it exists.
struct FileId {
  dev_t dev;
  ino_t ino;
  bool regular;
  bool operator==(const FileId& o) const { return dev == o.dev && ino == o.ino; }
};

std::optional<FileId> IdOf(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileId{st.st_dev, st.st_ino, S_ISREG(st.st_mode)};
}

bool Ignored(const std::string& path) { return path.empty() || path == "-"; }

// "<write flag> 'w' would overwrite <read flag> 'r' (the same file): <what to do>".
UsageError Overwrite(const std::string& write_flag, const std::string& written,
                     const std::string& read_flag, const std::string& read,
                     const std::string& same) {
  std::string text = write_flag + " '" + written + "' would overwrite " + read_flag + " '" + read +
                     "'" + (same.empty() ? "" : " (" + same + ")") + ": ";
  if (read_flag == "--baseline") {
    text +=
        "a failing run would replace the baseline it failed against. Keep the baseline "
        "elsewhere (e.g. copy it to baseline.json) or write this run to another --out-dir";
  } else {
    text += "a run never writes over its own input; give " + write_flag + " another path";
  }
  return UsageError(text);
}

}  // namespace

void RunPaths::Read(const std::string& flag, const std::string& path) {
  if (!Ignored(path)) reads_.push_back({flag, path});
}

void RunPaths::ReadSets(const std::string& flag, const std::vector<SampleSet>& sets) {
  for (const SampleSet& set : sets) {
    for (const Sample& s : set.samples) {
      if (s.npy) continue;  // the .npy file itself is the set's source
      if (!Ignored(s.path)) images_.push_back({flag, s.path});
    }
    Read(flag, set.source);
    if (!set.labels_source.empty()) Read(flag, set.labels_source);
  }
}

void RunPaths::Write(const std::string& flag, const std::string& path) {
  if (Ignored(path)) return;
  const auto id = IdOf(path);
  if (id && !id->regular && !fs::is_directory(path)) return;  // a device or a FIFO
  writes_.push_back({flag, path});
}

void RunPaths::WriteReportFolder(const std::string& flag, const fs::path& dir) {
  folders_.push_back({flag, dir.string()});
}

void RunPaths::WriteTree(const std::string& flag, const fs::path& dir) {
  trees_.push_back({flag, dir.string()});
}

void RunPaths::Check() const {
  struct Written {
    const Entry* entry;
    fs::path resolved;
    std::optional<FileId> id;
  };
  std::vector<Written> written;
  for (const Entry& w : writes_) written.push_back({&w, ResolvedPath(w.path), IdOf(w.path)});
  std::vector<fs::path> folders;
  for (const Entry& f : folders_) folders.push_back(ResolvedPath(f.path));
  // The report file a path would be in one of the report folders, or -1.
  auto in_folder = [&](const fs::path& resolved) -> int {
    if (!IsReportFileName(resolved.filename().string())) return -1;
    for (std::size_t i = 0; i < folders.size(); ++i) {
      if (resolved.parent_path() == folders[i]) return static_cast<int>(i);
    }
    return -1;
  };
  for (std::size_t i = 0; i < written.size(); ++i) {
    const Written& a = written[i];
    for (std::size_t j = 0; j < i; ++j) {
      const Written& b = written[j];
      if (a.resolved == b.resolved || (a.id && b.id && *a.id == *b.id)) {
        throw UsageError(b.entry->flag + " '" + b.entry->path + "' and " + a.entry->flag + " '" +
                         a.entry->path +
                         "' are one file: one output would overwrite the other; give them "
                         "different paths");
      }
    }
    if (const int f = in_folder(a.resolved); f >= 0) {
      throw UsageError(a.entry->flag + " '" + a.entry->path + "' is the report file '" +
                       a.resolved.string() + "', which " + folders_[f].flag +
                       " also writes: one output would overwrite the other; give " + a.entry->flag +
                       " another path");
    }
  }
  bool any_file = false;
  for (const Written& w : written) any_file = any_file || w.id.has_value();
  // Only a file that exists can be lost; a hard link is the same file under another name.
  auto check_written = [&](const Entry& r) {
    if (!any_file) return;
    const std::optional<FileId> id = IdOf(r.path);
    for (const Written& w : written) {
      if (id && w.id && *id == *w.id) {
        throw Overwrite(w.entry->flag, w.entry->path, r.flag, r.path,
                        r.path == w.entry->path ? "" : "the same file");
      }
    }
  };
  // Images: one stat each, only when an output exists (they never bear a report file's name).
  for (const Entry& r : images_) check_written(r);
  std::vector<fs::path> trees;
  for (const Entry& t : trees_) trees.push_back(ResolvedPath(t.path));
  for (const Entry& r : reads_) {
    check_written(r);
    if (!trees.empty()) {
      const std::string resolved = ResolvedPath(r.path).string();
      for (std::size_t i = 0; i < trees.size(); ++i) {
        const std::string dir = trees[i].string() + "/";
        if (resolved.compare(0, dir.size(), dir) == 0) {
          throw Overwrite(trees_[i].flag, trees_[i].path, r.flag, r.path, "a file below it");
        }
      }
    }
    if (folders.empty()) continue;
    // A report file by name, or through a link (a link's own name says nothing).
    std::error_code ec;
    if (!IsReportFileName(fs::path(r.path).filename().string()) && !fs::is_symlink(r.path, ec)) {
      continue;
    }
    const fs::path resolved = ResolvedPath(r.path);
    if (const int f = in_folder(resolved); f >= 0) {
      throw Overwrite(folders_[f].flag, folders_[f].path, r.flag, r.path,
                      "the report file '" + resolved.string() + "'");
    }
  }
}

}  // namespace oodscore
