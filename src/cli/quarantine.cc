#include "cli/quarantine.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "base/format.h"
#include "base/user_file.h"
#include "oodscore/error.h"

namespace fs = std::filesystem;

namespace oodscore {

namespace {

constexpr const char* kManifest = "manifest.tsv";
constexpr const char* kHeader = "from\tto\tscore\tvalue\n";

// A tab or a line break would split a manifest line: such paths are refused, not escaped, so
// that every line reads back with `cut` and `read` as it is.
bool Unrecordable(const std::string& path) {
  return path.find_first_of("\t\n\r") != std::string::npos;
}

// True when `path` is `dir` or lies below it (both resolved).
bool Within(const fs::path& path, const fs::path& dir) {
  const std::string p = path.string(), d = dir.string();
  return p == d || (p.size() > d.size() && p.compare(0, d.size(), d) == 0 && p[d.size()] == '/');
}

bool IsFolderSet(const SampleSet& set) {
  std::error_code ec;
  return !set.source.empty() && set.source != "-" && fs::is_directory(set.source, ec);
}

// The folder as files below it are spelled: "uploads/" and "./uploads" as "uploads".
fs::path Root(const std::string& dir) {
  fs::path p = fs::path(dir).lexically_normal();
  return p.has_filename() || p == "/" ? p : p.parent_path();
}

// Writes all of `text` to `fd` (one write for a line, so that shards appending to one
// manifest do not interleave). Returns errno, or 0.
int WriteAll(int fd, const std::string& text) {
  for (std::size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    done += static_cast<std::size_t>(n);
  }
  return 0;
}

// Opens DIR/manifest.tsv for appending. A new one is written whole with its header under a
// temporary name and linked into place, so that no writer (another shard) ever appends to a
// manifest that lacks its header.
int OpenManifest(const fs::path& dir) {
  const fs::path path = dir / kManifest;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("cannot create folder '" + dir.string() + "': " + ec.message());
  if (!fs::exists(path, ec)) {
    const fs::path tmp = dir / (std::string(kManifest) + ".tmp" + std::to_string(::getpid()));
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int err = fd < 0 ? errno : WriteAll(fd, kHeader);
    if (fd >= 0 && err == 0 && ::fsync(fd) != 0) err = errno;
    if (fd >= 0) ::close(fd);
    if (err == 0 && ::link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST) err = errno;
    ::unlink(tmp.c_str());
    if (err != 0) throw Error("cannot create '" + path.string() + "': " + std::strerror(err));
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) throw Error("cannot append to '" + path.string() + "': " + std::strerror(errno));
  return fd;
}

}  // namespace

void CheckQuarantine(const QuarantineOptions& opt, const std::vector<SampleSet>& sets) {
  if (Unrecordable(opt.dir)) {
    throw UsageError(opt.flag + " '" + opt.dir +
                     "': a folder whose path holds a tab or a line break cannot be recorded in "
                     "its manifest.tsv; give another folder");
  }
  const fs::path dir = ResolvedPath(opt.dir);
  std::unordered_map<std::string, bool> parents;  // a list's folders, each resolved once
  for (const SampleSet& set : sets) {
    if (set.logits || (!set.samples.empty() && set.samples.front().npy)) {
      throw UsageError(opt.flag + " places image files; set '" + set.name + "' is rows of '" +
                       set.source + "' (.npy): use --flagged for its flagged rows");
    }
    if (IsFolderSet(set)) {
      const fs::path source = ResolvedPath(set.source);
      if (source == dir) {
        throw UsageError(opt.flag + " '" + opt.dir + "' is the input folder '" + set.source +
                         "': its files would be placed onto themselves; give a folder beside "
                         "it or inside it (e.g. '" +
                         (Root(set.source) / "quarantine").string() +
                         "', which is then left out of the input)");
      }
      if (Within(source, dir)) {
        throw UsageError(opt.flag + " '" + opt.dir + "' holds the input folder '" + set.source +
                         "': give a folder beside it or inside it");
      }
      continue;  // a folder inside the input is left out when the input is listed
    }
    for (const Sample& s : set.samples) {
      const std::string parent = fs::path(s.path).parent_path().string();
      auto [it, added] = parents.emplace(parent, false);
      if (added) it->second = Within(ResolvedPath(parent.empty() ? "." : parent), dir);
      if (it->second) {
        throw UsageError(opt.flag + " '" + opt.dir + "' holds '" + s.path + "', an input of set '" +
                         set.name +
                         "': a quarantined file is not scored again; give another "
                         "folder");
      }
    }
  }
}

Quarantine::Quarantine(const QuarantineOptions& opt, const std::vector<SampleSet>& sets,
                       const std::string& score)
    : opt_(opt), score_(score) {
  for (const SampleSet& set : sets) {
    if (IsFolderSet(set)) roots_[set.name] = Root(set.source);
  }
}

Quarantine::~Quarantine() {
  if (manifest_ >= 0) ::close(manifest_);
}

namespace {

// Which file a path names now: device, inode and modification time; nullopt when none.
std::optional<std::array<std::int64_t, 4>> FileIdentity(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return std::array<std::int64_t, 4>{
      static_cast<std::int64_t>(st.st_dev), static_cast<std::int64_t>(st.st_ino),
      static_cast<std::int64_t>(st.st_mtim.tv_sec), static_cast<std::int64_t>(st.st_mtim.tv_nsec)};
}

}  // namespace

void Quarantine::Add(const std::string& set, const std::string& path, double value) {
  if (!seen_.insert(path).second) return;  // named twice in one batch
  // Named again after it was placed: the same file (a list that names it twice) is placed
  // once; another file under that path (a streamed re-upload) is placed too.
  const auto placed = placed_.find(path);
  if (placed != placed_.end()) {
    const auto now = FileIdentity(path);
    if (!now || *now == placed->second) return;
  }
  pending_.push_back({set, path, value});
}

bool Quarantine::InDir(const std::string& path) {
  if (dir_.empty()) dir_ = ResolvedPath(opt_.dir);
  const std::string parent = fs::path(path).parent_path().string();
  return Within(ResolvedPath(parent.empty() ? "." : parent), dir_);
}

fs::path Quarantine::Destination(const std::string& set, const std::string& path) const {
  const fs::path file = fs::path(path).lexically_normal();
  const auto root = roots_.find(set);
  if (root != roots_.end()) {
    const fs::path rel = file.lexically_relative(root->second);
    if (!rel.empty() && *rel.begin() != ".." && *rel.begin() != ".")
      return fs::path(opt_.dir) / rel;
  }
  // A list, stdin or a single image: no folder to be relative to. Same-named files from
  // different folders get numbered names.
  return fs::path(opt_.dir) / file.filename();
}

void Quarantine::Place(const Pending& p) {
  const std::string verb = opt_.mode == PlaceMode::kMove ? "moved" : "copied";
  const fs::path to = Destination(p.set, p.path);
  if (Unrecordable(p.path)) {
    ++left_;
    spdlog::warn(
        "'{}' is flagged but was not {} to '{}': its path holds a tab or a line break, "
        "which manifest.tsv cannot record",
        p.path, verb, opt_.dir);
    return;
  }
  // A streamed path (inotify on a tree that holds DIR) may name a quarantined file itself:
  // placing it again would rename it inside DIR, or copy copies without end.
  if (InDir(p.path)) {
    spdlog::warn("'{}' is flagged but lies in '{}' already: left in place", p.path, opt_.dir);
    return;
  }
  // The manifest first: a move is never made that its line cannot be written for.
  if (manifest_ < 0) manifest_ = OpenManifest(opt_.dir);
  PlaceOptions options;
  options.mode = opt_.mode;
  options.as_if_cross_device = opt_.as_if_cross_device;
  const auto identity = FileIdentity(p.path);
  Placed placed;
  try {
    placed = PlaceFile(p.path, to, options);
  } catch (const Error& e) {
    ++left_;
    spdlog::error("{} (flagged)", e.what());
    return;
  }
  ++placed_count_;
  if (identity) placed_[p.path] = *identity;
  if (placed.renumbered) {
    spdlog::info("'{}' {} to '{}': '{}' was taken", p.path, verb, placed.to.string(), to.string());
  } else {
    spdlog::debug("'{}' {} to '{}'", p.path, verb, placed.to.string());
  }
  Record(p.path, placed.to, p.value);
}

void Quarantine::Record(const fs::path& from, const fs::path& to, double value) {
  if (manifest_ < 0) manifest_ = OpenManifest(opt_.dir);
  const std::string line = fs::absolute(from).lexically_normal().string() + "\t" +
                           fs::absolute(to).lexically_normal().string() + "\t" + score_ + "\t" +
                           FormatDouble(value) + "\n";
  if (const int err = WriteAll(manifest_, line)) {
    throw Error("'" + from.string() + "' was placed at '" + to.string() +
                "', but writing its line to '" + (fs::path(opt_.dir) / kManifest).string() +
                "' failed: " + std::strerror(err));
  }
}

void Quarantine::Flush() {
  for (const Pending& p : pending_) Place(p);
  pending_.clear();
  seen_.clear();
  // The record of this batch survives a crash as the moves themselves do.
  if (manifest_ >= 0) ::fdatasync(manifest_);
}

}  // namespace oodscore
