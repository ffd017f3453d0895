#include "oodscore/dataset.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "base/format.h"
#include "oodscore/error.h"
#include "oodscore/npy.h"

namespace fs = std::filesystem;

namespace oodscore {

bool HasImageExtension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* e :
       {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"}) {
    if (ext == e) return true;
  }
  return false;
}

namespace {

// The folders of `skip` that exist (only those can be met while walking).
SkipFolders Existing(const SkipFolders& skip) {
  SkipFolders out;
  std::error_code ec;
  for (const auto& s : skip) {
    if (fs::is_directory(s, ec)) out.push_back(s);
  }
  return out;
}

bool Skipped(const fs::path& dir, const SkipFolders& skip) {
  std::error_code ec;
  for (const auto& s : skip) {
    if (fs::equivalent(dir, s, ec)) return true;
  }
  return false;
}

// Images under dir, in torchvision's order: sorted(os.walk(dir)) then sorted file names,
// that is, by (folder path, file name) compared as byte strings. Folders in `skip` (existing
// ones) are not entered.
std::vector<std::string> WalkImages(const fs::path& dir, const SkipFolders& skip) {
  std::vector<std::pair<std::string, std::string>> found;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec),
      end;
  if (ec) throw Error("cannot read folder '" + dir.string() + "': " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw Error("cannot read folder '" + dir.string() + "': " + ec.message());
    if (it->is_directory(ec)) {
      if (!skip.empty() && Skipped(it->path(), skip)) it.disable_recursion_pending();
      continue;
    }
    const fs::path& p = it->path();
    if (HasImageExtension(p)) found.emplace_back(p.parent_path().string(), p.filename().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  out.reserve(found.size());
  for (auto& [parent, file] : found) out.push_back((fs::path(parent) / file).string());
  return out;
}

}  // namespace

Layout ParseLayout(const std::string& text) {
  if (text == "auto") return Layout::kAuto;
  if (text == "classes") return Layout::kClasses;
  if (text == "flat") return Layout::kFlat;
  throw UsageError("unknown --layout '" + text + "' (expected auto, classes or flat)");
}

SampleSet ListFolder(const fs::path& dir, const std::string& name, Layout layout,
                     const SkipFolders& skip_all) {
  std::error_code ec;
  const SkipFolders skip = Existing(skip_all);
  if (!fs::is_directory(dir, ec)) throw Error("input folder '" + dir.string() + "' does not exist");
  SampleSet set;
  set.name = name;
  // TIFF names are listed, as ImageFolder lists them, but not decoded: not offered here.
  const std::string kExtensions = "(.jpg .jpeg .png .ppm .bmp .pgm .webp)";
  if (layout == Layout::kFlat) {
    for (auto& p : WalkImages(dir, skip)) set.samples.push_back({std::move(p), "", nullptr, 0});
    if (set.samples.empty()) {
      throw Error("input folder '" + dir.string() + "' holds no images below it " + kExtensions);
    }
    return set;
  }
  std::vector<std::string> subdirs;
  std::vector<std::string> top_level;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_directory(ec)) {
      if (!skip.empty() && Skipped(entry.path(), skip)) continue;
      subdirs.push_back(entry.path().filename().string());
    } else if (HasImageExtension(entry.path())) {
      top_level.push_back(entry.path().string());
    }
  }
  if (ec) throw Error("cannot read folder '" + dir.string() + "': " + ec.message());
  std::sort(subdirs.begin(), subdirs.end());
  std::sort(top_level.begin(), top_level.end());
  std::vector<std::vector<std::string>> per_class;
  std::size_t in_classes = 0, classes_with_images = 0;
  for (const auto& sub : subdirs) {
    per_class.push_back(WalkImages(dir / sub, skip));
    in_classes += per_class.back().size();
    classes_with_images += !per_class.back().empty();
  }
  if (layout == Layout::kAuto && in_classes > 0 && !top_level.empty()) {
    throw Error("folder '" + dir.string() + "' holds " + Counted(top_level.size(), "image") +
                " directly and " + Counted(in_classes, "image") + " in " +
                Counted(classes_with_images, "subfolder") +
                "; say which you mean: --layout classes (subfolders are classes, "
                "the folder's own images are ignored, as torchvision's ImageFolder does) or "
                "--layout flat (every image below the folder, no labels)");
  }
  if (layout == Layout::kAuto && in_classes == 0) {
    // A flat folder of images: no labels.
    for (auto& p : top_level) set.samples.push_back({std::move(p), "", nullptr, 0});
  } else {
    set.classes = subdirs;
    for (std::size_t c = 0; c < per_class.size(); ++c) {
      if (per_class[c].empty()) {
        throw Error("class folder '" + subdirs[c] + "' in '" + dir.string() +
                    "' holds no images (torchvision's ImageFolder refuses this too; remove it)");
      }
      for (auto& p : per_class[c])
        set.samples.push_back({std::move(p), std::to_string(c), nullptr, 0});
    }
    if (!top_level.empty()) {
      set.warnings.push_back("'" + dir.string() + "' has class subfolders; its " +
                             std::to_string(top_level.size()) +
                             " own image files are ignored (--layout classes, as ImageFolder "
                             "does; --layout flat scores every image)");
    }
  }
  if (set.samples.empty() && !top_level.empty()) {  // --layout classes on a flat folder
    throw Error("input folder '" + dir.string() + "' has no class subfolders: its " +
                std::to_string(top_level.size()) +
                " images lie directly in it, and classes need DIR/<class>/<image> "
                "(torchvision's ImageFolder layout), the folders in the model's class order");
  }
  if (set.samples.empty()) {
    throw Error("input folder '" + dir.string() + "' holds no images " + kExtensions);
  }
  return set;
}

SampleSet ListFile(const std::string& path, const std::string& name, bool nul_separated) {
  if (path == "-") return ParseList(std::cin, "-", fs::path(), name, nul_separated);
  std::ifstream file(path);
  if (!file) throw Error("cannot open list file '" + path + "'");
  return ParseList(file, path, fs::path(path).parent_path(), name, nul_separated);
}

namespace {

// One entry of a list: a line (blank lines and '#' comments name nothing, an integer label may
// follow a tab or comma) or, with nul_separated, a NUL-ended path as it is. `n` numbers it
// for messages; relative paths are resolved against `base` (none when empty).
std::optional<Sample> ListEntry(std::string entry, std::size_t n, const std::string& path,
                                const fs::path& base, bool nul_separated) {
  std::string label;
  if (!nul_separated) {
    if (!entry.empty() && entry.back() == '\r') entry.pop_back();
    if (entry.empty() || entry[0] == '#') return std::nullopt;
    if (entry.find('\0') != std::string::npos) {
      throw Error("list file '" + path + "' line " + std::to_string(n) +
                  " holds a NUL byte: a list file is text, one path per line (for NUL-separated "
                  "paths, such as find -print0 output, give --null)");
    }
    const std::size_t sep = entry.find_last_of("\t,");
    if (sep != std::string::npos) {
      label = entry.substr(sep + 1);
      const bool numeric = !label.empty() && label.size() <= 9 &&
                           label.find_first_not_of("0123456789") == std::string::npos;
      if (numeric) label = std::to_string(std::stol(label));  // "007" -> "7"
      if (!numeric) {
        throw Error("list file '" + path + "' line " + std::to_string(n) +
                    ": expected PATH or PATH<tab>LABEL with an integer label, got label '" + label +
                    "'");
      }
      entry.resize(sep);
    }
  } else if (entry.empty()) {
    return std::nullopt;
  }
  fs::path p(entry);
  if (p.is_relative() && !base.empty()) p = base / p;
  return Sample{p.string(), label, nullptr, 0};
}

std::string EmptyListMessage(const std::string& path, bool nul_separated) {
  return nul_separated ? "list '" + path + "' names no files (--null)"
                       : "list file '" + path + "' names no files";
}

}  // namespace

SampleSet ParseList(std::istream& in, const std::string& path, const fs::path& base,
                    const std::string& name, bool nul_separated) {
  SampleSet set;
  set.name = name;
  std::string entry;
  for (std::size_t n = 1; std::getline(in, entry, nul_separated ? '\0' : '\n'); ++n) {
    if (auto s = ListEntry(std::move(entry), n, path, base, nul_separated)) {
      set.samples.push_back(std::move(*s));
    }
  }
  if (set.samples.empty()) throw Error(EmptyListMessage(path, nul_separated));
  return set;
}

struct ListStream::Impl {
  using Clock = std::chrono::steady_clock;
  int fd = -1;
  int wake[2] = {-1, -1};  // the destructor writes to wake[1] to stop the reader
  std::string path;
  bool nul_separated = false;
  std::mutex mu;
  std::condition_variable arrived;
  std::vector<Sample> pending;
  Clock::time_point first_pending, last_arrival;
  bool ended = false;
  std::string error;  // a refused entry or a read error, once the entries before it are taken
  std::size_t listed = 0;
  std::thread reader;

  // Reads fd until its end, a refused entry, or a wake-up; entries are queued as they end.
  void Read() {
    std::string partial;
    std::size_t n = 0;
    const char delimiter = nul_separated ? '\0' : '\n';
    auto add = [&](std::string entry) {
      std::optional<Sample> s = ListEntry(std::move(entry), ++n, path, fs::path(), nul_separated);
      if (!s) return;
      const auto now = Clock::now();
      std::lock_guard<std::mutex> lock(mu);
      if (pending.empty()) first_pending = now;
      last_arrival = now;
      pending.push_back(std::move(*s));
      ++listed;
      arrived.notify_all();
    };
    std::string failure;
    try {
      char buf[1 << 16];
      for (;;) {
        pollfd fds[2] = {{fd, POLLIN, 0}, {wake[0], POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) {
          if (errno == EINTR) continue;
          throw Error("cannot wait for list '" + path + "': " + std::strerror(errno));
        }
        if (fds[1].revents) return;  // stopped: the run ended before its input did
        const ssize_t got = ::read(fd, buf, sizeof(buf));
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (got < 0) throw Error("cannot read list '" + path + "': " + std::strerror(errno));
        if (got == 0) break;
        partial.append(buf, static_cast<std::size_t>(got));
        std::size_t begin = 0;
        for (std::size_t end; (end = partial.find(delimiter, begin)) != std::string::npos;
             begin = end + 1) {
          add(partial.substr(begin, end - begin));
        }
        partial.erase(0, begin);
      }
      if (!partial.empty()) add(std::move(partial));  // a last entry without its delimiter
    } catch (const std::exception& e) {
      failure = e.what();
    }
    std::lock_guard<std::mutex> lock(mu);
    ended = true;
    error = failure;
    arrived.notify_all();
  }
};

ListStream::ListStream(int fd, const std::string& path, bool nul_separated)
    : impl_(std::make_unique<Impl>()) {
  impl_->fd = fd;
  impl_->path = path;
  impl_->nul_separated = nul_separated;
  if (::pipe2(impl_->wake, O_CLOEXEC) != 0) {
    throw Error(std::string("cannot make a pipe: ") + std::strerror(errno));
  }
  impl_->reader = std::thread([impl = impl_.get()] { impl->Read(); });
}

ListStream::~ListStream() {
  const char stop = 1;
  while (::write(impl_->wake[1], &stop, 1) < 0 && errno == EINTR) {
  }
  impl_->reader.join();
  ::close(impl_->wake[0]);
  ::close(impl_->wake[1]);
}

bool ListStream::Next(std::size_t batch, std::vector<Sample>* chunk) {
  Impl& s = *impl_;
  std::unique_lock<std::mutex> lock(s.mu);
  for (;;) {
    if (s.pending.empty()) {
      if (!s.ended) {
        s.arrived.wait(lock);
        continue;
      }
      if (!s.error.empty()) throw Error(s.error);
      return false;
    }
    if (s.ended || s.pending.size() >= batch) break;
    const auto due = std::min(s.last_arrival + kPause, s.first_pending + kMaxWait);
    if (Impl::Clock::now() >= due) break;
    s.arrived.wait_until(lock, due);
  }
  chunk->clear();
  chunk->swap(s.pending);
  return true;
}

std::size_t ListStream::listed() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->listed;
}

SampleSet ListInput(const std::string& path, const std::string& name, Layout layout,
                    bool nul_separated, const SkipFolders& skip) {
  std::error_code ec;
  if (path != "-" && fs::is_directory(path, ec)) {
    SampleSet set = ListFolder(path, name, layout, skip);
    set.source = path;
    return set;
  }
  if (fs::path(path).extension() == ".npy") {
    auto npy = NpyArray::Open(path);
    SampleSet set;
    set.name = name;
    set.logits = npy->logits();
    set.source = path;
    // Logits [N, K] may come with their labels, FILE.labels.npy, int [N].
    std::vector<std::int64_t> labels;
    const std::string labels_path = path.substr(0, path.size() - 4) + ".labels.npy";
    if (set.logits && fs::exists(labels_path, ec)) {
      labels = ReadNpyLabels(labels_path);
      set.labels_source = labels_path;
      if (labels.size() != npy->rows()) {
        throw Error("labels file '" + labels_path + "' holds " + std::to_string(labels.size()) +
                    " labels, but '" + path + "' holds " + std::to_string(npy->rows()) +
                    " rows of logits");
      }
      // A label must name one of the K logits (negative ones are refused when read).
      const std::int64_t k = npy->shape()[1];
      for (std::size_t i = 0; i < labels.size(); ++i) {
        if (labels[i] >= k) {
          throw Error("labels file '" + labels_path + "': label " + std::to_string(labels[i]) +
                      " at index " + std::to_string(i) + " is not a class of '" + path +
                      "', which holds " + std::to_string(k) +
                      " logits per row (expected class indices 0.." + std::to_string(k - 1) + ")");
        }
      }
    }
    for (std::size_t i = 0; i < npy->rows(); ++i) {
      set.samples.push_back({path + "#" + std::to_string(i),
                             labels.empty() ? "" : std::to_string(labels[i]), npy, i});
    }
    if (set.samples.empty()) throw Error("'" + path + "' holds no rows (shape[0] is 0)");
    return set;
  }
  if (path != "-" && !fs::exists(path, ec)) throw Error("input '" + path + "' does not exist");
  if (path != "-" && HasImageExtension(path)) {  // one image: a set of one
    SampleSet set;
    set.name = name;
    set.source = path;
    set.samples.push_back({path, "", nullptr, 0});
    return set;
  }
  SampleSet set = ListFile(path, name, nul_separated);
  set.source = path;
  return set;
}

}  // namespace oodscore
