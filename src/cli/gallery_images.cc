#include "cli/gallery_images.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <map>

#include "base/base64.h"
#include "base/format.h"
#include "base/parallel.h"
#include "oodscore/thumbnail.h"

namespace oodscore {

std::vector<std::string> FolderClassNames(const ScoreTable& table, const std::string& set) {
  std::vector<std::string> names;
  if (!table.keeps_paths()) return names;
  std::vector<bool> mixed;
  for (std::size_t r = 0; r < table.size(); ++r) {
    const std::int32_t label = table.label(r);
    if (label < 0 || table.set(r) != set) continue;  // no label, or a class name already
    const std::size_t c = static_cast<std::size_t>(label);
    if (c >= names.size()) {
      names.resize(c + 1);
      mixed.resize(c + 1, false);
    }
    const std::string folder =
        std::filesystem::path(std::string(table.path(r))).parent_path().filename().string();
    if (mixed[c]) continue;
    if (names[c].empty()) {
      names[c] = folder;
    } else if (names[c] != folder) {
      names[c].clear();
      mixed[c] = true;
    }
  }
  return names;
}

namespace {

// A row of a .npy input ("logits.npy#12", dataset.h): logits or a preprocessed tensor, no
// image to show.
bool IsNpyRow(const std::string& path) {
  const std::size_t hash = path.rfind('#');
  if (hash == std::string::npos || hash + 1 == path.size() || hash < 4) return false;
  for (std::size_t i = hash + 1; i < path.size(); ++i) {
    if (path[i] < '0' || path[i] > '9') return false;
  }
  return path.compare(hash - 4, 4, ".npy") == 0;
}

}  // namespace

void AddThumbnails(Gallery* gallery, int max_side) {
  std::map<std::string, std::string> encoded;  // path -> base64 PNG, "" when unreadable
  std::size_t npy_rows = 0;
  for (const GalleryList& l : gallery->lists) {
    for (const GalleryItem& it : l.items) {
      if (!IsNpyRow(it.path)) encoded[it.path];
    }
  }
  std::vector<std::string> paths;
  for (const auto& [path, unused] : encoded) paths.push_back(path);
  std::vector<Thumbnail> made(paths.size());
  ParallelFor(paths.size(), [&](std::size_t i) { made[i] = MakeThumbnail(paths[i], max_side); });
  std::size_t failed = 0;
  std::string first;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    if (made[i].ok()) {
      encoded[paths[i]] = Base64Encode(made[i].png);
    } else if (failed++ == 0) {
      first = "'" + paths[i] + "': " + made[i].error;
    }
  }
  for (GalleryList& l : gallery->lists) {
    for (GalleryItem& it : l.items) {
      if (IsNpyRow(it.path)) {
        ++npy_rows;
      } else {
        it.png_base64 = encoded[it.path];
      }
    }
  }
  std::vector<std::string> notes;
  if (npy_rows > 0) {
    // Not a failure: nothing to warn of.
    notes.push_back(
        "the gallery's rows of .npy inputs (logits or preprocessed tensors) have no "
        "image to show, so they are listed by path and score");
  }
  if (failed > 0) {
    std::string note =
        (failed == paths.size()
             ? "none of the gallery's " + Counted(paths.size(), "image") + " could be read"
             : std::to_string(failed) + " of the gallery's " + Counted(paths.size(), "image") +
                   " could not be read") +
        ", so it shows their paths and scores without thumbnails (paths are read as "
        "the scores hold them, from the current folder; first: " +
        first + ")";
    spdlog::warn("gallery: {}", note);
    notes.push_back(std::move(note));
  }
  gallery->note.clear();
  for (const std::string& n : notes) gallery->note += (gallery->note.empty() ? "" : "; ") + n;
}

void AddClassesAndGallery(const ScoreTable& table, const std::string& id_set,
                          const std::vector<std::string>& ood_sets,
                          std::vector<std::string> class_names,
                          const std::vector<std::string>& gated_scores, int k, Report* report) {
  if (class_names.empty()) class_names = FolderClassNames(table, id_set);
  const std::vector<ScoreInfo> headline = HeadlineScores(report->scores, gated_scores);
  std::vector<double> thresholds;
  for (const ScoreInfo& h : headline) {
    for (std::size_t s = 0; s < report->scores.size(); ++s) {
      if (report->scores[s].name == h.name)
        thresholds.push_back(report->id_thresholds[s].threshold);
    }
  }
  // With --fsood the csid sets are ID in every metric and threshold, so here too.
  std::vector<std::string> id_sets = {id_set};
  if (report->fsood) {
    for (const Report::CsidResult& c : report->csid) id_sets.push_back(c.name);
  }
  report->per_class =
      BuildClassBreakdown(table, headline, thresholds, id_sets, ood_sets, class_names);
  report->risk_coverage = BuildRiskCoverage(table, headline, thresholds, id_sets);
  if (k <= 0) return;
  Gallery g = BuildGallery(table, headline, thresholds, id_sets, ood_sets, k, class_names);
  AddThumbnails(&g, kThumbnailSide);
  report->gallery = std::move(g);
}

}  // namespace oodscore
