// The failure gallery: the samples a detector gets most wrong, for a person to look at.
// Per headline score, the k ID samples that look most OOD (noisy labels, a shifted
// sub-population?) and, per OOD set, the k OOD samples that look most ID (a leaking or
// mislabelled OOD set?). The report layer picks them from the score table; the command
// line adds the thumbnails (thumbnail.h), so this layer stays free of image code.
//
// Usage:
//   Gallery g = BuildGallery(table, headline, thresholds, {"cifar10"}, {"svhn"}, 12, names);
//   for (GalleryList& l : g.lists) for (GalleryItem& it : l.items) it.png_base64 = ...;
//   report.gallery = g;  // rendered by ReportJson, ReportMarkdown and ReportHtml
#ifndef OODSCORE_GALLERY_H_
#define OODSCORE_GALLERY_H_

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "oodscore/score_table.h"
#include "oodscore/scores.h"

namespace oodscore {

// Default: the samples per list (eval --gallery K; 0 = no gallery).
constexpr int kDefaultGallerySize = 12;

struct GalleryItem {
  std::size_t row = 0;     // the sample's row in the score table
  std::string path;        // as the score table holds it
  double score = 0;        // in the score's own units (an energy, an MSP)
  std::string pred;        // predicted class: its folder name when known, else the code; "" none
  std::string label;       // true class, the same way (ID lists only); "" none
  std::string png_base64;  // the thumbnail, base64 PNG; "" = none (unreadable, or not made)
  bool accepted = false;   // accepted as ID at the score's ID threshold (the report's)
};

struct GalleryList {
  std::string score;  // the score's name
  std::string set;    // the set's name; an ID list of several sets: "cifar10 + cifar10-c"
  bool id = false;    // the ID set's most OOD-looking samples; else an OOD set's most ID-looking
  std::vector<GalleryItem> items;  // most wrong first
  // What the score's ID threshold accepts (AcceptRule): exact, "energy <= -2.4492268784229947",
  // and as the titles show it, to 5 significant digits, "energy <= -2.4492".
  std::string rule, rule_shown;
};

struct Gallery {
  int k = 0;
  // Per score, in the order given: its ID list, then one list per OOD set in order.
  std::vector<GalleryList> lists;
  std::string note;  // why thumbnails are missing ("" when every item has one)
};

// The positions in `oriented` (higher = more ID) of its k highest values (highest = true:
// most ID-looking) or k lowest (most OOD-looking), most extreme first; equal values in
// ascending position. All of them when there are fewer than k.
std::vector<std::size_t> GalleryPicks(const std::vector<double>& oriented, std::size_t k,
                                      bool highest);

// The headline scores: the scores that `gated` names (gates' scores, canonical names) in
// report order, else "energy" when reported, else the first reported score.
// REQUIRES: !reported.empty().
std::vector<ScoreInfo> HeadlineScores(const std::vector<ScoreInfo>& reported,
                                      const std::vector<std::string>& gated);

// Picks the gallery from `table`'s rows, ranking each score by its rank column as the
// metrics do (ScoreInfo::rank_column, oriented); thresholds[i] is scores[i]'s oriented ID
// threshold (accepted: >=), which marks each item accepted or not. id_sets: the ID set, then
// any sets the metrics count as ID with it (--fsood's csid sets); their rows make one ID list
// per score. class_names[i] names class index i (folder names; may be empty or shorter).
// REQUIRES: table keeps paths; k >= 0; thresholds.size() == scores.size(); !id_sets.empty().
// Throws oodscore::Error for a score column or set the table lacks.
Gallery BuildGallery(const ScoreTable& table, const std::vector<ScoreInfo>& scores,
                     const std::vector<double>& thresholds, const std::vector<std::string>& id_sets,
                     const std::vector<std::string>& ood_sets, int k,
                     const std::vector<std::string>& class_names);

// report.json's "gallery": {k, note, lists[]{score, set, role, looks, accept_as_id,
// items[]{path, score, pred, label?, accepted}}} (no thumbnails).
nlohmann::json GalleryJson(const Gallery& gallery);

// report.md's "## Failure gallery": a table per list (rank, path, score, classes, whether the
// threshold accepts it).
std::string GalleryMarkdown(const Gallery& gallery);

// report.html's gallery section: per score, a grid of thumbnails (data: URIs) per list, each
// with its escaped path, score, classes and whether the threshold accepts it.
std::string GalleryHtml(const Gallery& gallery);

}  // namespace oodscore

#endif  // OODSCORE_GALLERY_H_
