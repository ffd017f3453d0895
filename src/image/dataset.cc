#include "oodscore/dataset.h"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <utility>

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

// Images under dir, in torchvision's order: sorted(os.walk(dir)) then sorted file names,
// that is, by (folder path, file name) compared as byte strings.
std::vector<std::string> WalkImages(const fs::path& dir) {
  std::vector<std::pair<std::string, std::string>> found;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec),
      end;
  if (ec) throw Error("cannot read folder '" + dir.string() + "': " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw Error("cannot read folder '" + dir.string() + "': " + ec.message());
    if (it->is_directory(ec)) continue;
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

SampleSet ListFolder(const fs::path& dir, const std::string& name, Layout layout) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error("input folder '" + dir.string() + "' does not exist");
  SampleSet set;
  set.name = name;
  // TIFF names are listed, as ImageFolder lists them, but not decoded: not offered here.
  const std::string kExtensions = "(.jpg .jpeg .png .ppm .bmp .pgm .webp)";
  if (layout == Layout::kFlat) {
    for (auto& p : WalkImages(dir)) set.samples.push_back({std::move(p), "", nullptr, 0});
    if (set.samples.empty()) {
      throw Error("input folder '" + dir.string() + "' holds no images below it " + kExtensions);
    }
    return set;
  }
  std::vector<std::string> subdirs;
  std::vector<std::string> top_level;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_directory(ec)) {
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
    per_class.push_back(WalkImages(dir / sub));
    in_classes += per_class.back().size();
    classes_with_images += !per_class.back().empty();
  }
  if (layout == Layout::kAuto && in_classes > 0 && !top_level.empty()) {
    throw Error("folder '" + dir.string() + "' holds " + std::to_string(top_level.size()) +
                " images directly and " + std::to_string(in_classes) + " images in " +
                std::to_string(classes_with_images) +
                " subfolders; say which you mean: --layout classes (subfolders are classes, "
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

SampleSet ParseList(std::istream& in, const std::string& path, const fs::path& base,
                    const std::string& name, bool nul_separated) {
  SampleSet set;
  set.name = name;
  std::string line;
  if (nul_separated) {
    while (std::getline(in, line, '\0')) {
      if (line.empty()) continue;
      fs::path p(line);
      if (p.is_relative() && !base.empty()) p = base / p;
      set.samples.push_back({p.string(), "", nullptr, 0});
    }
    if (set.samples.empty()) throw Error("list '" + path + "' names no files (--null)");
    return set;
  }
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    if (line.find('\0') != std::string::npos) {
      throw Error("list file '" + path + "' line " + std::to_string(n) +
                  " holds a NUL byte: a list file is text, one path per line (for NUL-separated "
                  "paths, such as find -print0 output, give --null)");
    }
    std::string file_path = line, label;
    const std::size_t sep = line.find_last_of("\t,");
    if (sep != std::string::npos) {
      label = line.substr(sep + 1);
      const bool numeric = !label.empty() && label.size() <= 9 &&
                           label.find_first_not_of("0123456789") == std::string::npos;
      if (numeric) label = std::to_string(std::stol(label));  // "007" -> "7"
      if (!numeric) {
        throw Error("list file '" + path + "' line " + std::to_string(n) +
                    ": expected PATH or PATH<tab>LABEL with an integer label, got label '" + label +
                    "'");
      }
      file_path = line.substr(0, sep);
    }
    fs::path p(file_path);
    if (p.is_relative() && !base.empty()) p = base / p;
    set.samples.push_back({p.string(), label, nullptr, 0});
  }
  if (set.samples.empty()) throw Error("list file '" + path + "' names no files");
  return set;
}

SampleSet ListInput(const std::string& path, const std::string& name, Layout layout,
                    bool nul_separated) {
  std::error_code ec;
  if (path != "-" && fs::is_directory(path, ec)) {
    SampleSet set = ListFolder(path, name, layout);
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
