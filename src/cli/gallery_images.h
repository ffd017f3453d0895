// The failure gallery of an eval report, with its thumbnails: the report layer picks the
// samples (oodscore/gallery.h), this front-end code reads the images (oodscore/thumbnail.h).
#ifndef OODSCORE_SRC_CLI_GALLERY_IMAGES_H_
#define OODSCORE_SRC_CLI_GALLERY_IMAGES_H_

#include <string>
#include <vector>

#include "oodscore/gallery.h"
#include "oodscore/report.h"
#include "oodscore/score_table.h"

namespace oodscore {

// The class names of a set's labels from its samples' folders: class_names[i] is the name of
// the folder that holds every row of `set` labelled i ("" when rows of class i lie in several
// folders, or none has that label). Empty when the table keeps no paths.
std::vector<std::string> FolderClassNames(const ScoreTable& table, const std::string& set);

// Adds thumbnails to every item of `gallery` (each distinct path read once, on every core).
// Images that cannot be read keep no thumbnail; when any is missing, gallery->note says how
// many and why (the first reason), and one warning is logged. Rows of .npy inputs
// ("FILE.npy#N": logits or tensors) have no image: they get none, and a note without a warning.
void AddThumbnails(Gallery* gallery, int max_side);

// What an eval report shows of classes and single samples, for the headline scores (those
// the gates name, else energy; gallery.h): the per-class breakdown and the risk-coverage
// curves when the ID set has labels (class_breakdown.h, risk_coverage.h), and for k > 0 the failure
// gallery with its thumbnails. With report->fsood, report->csid's sets are ID here too, as in
// the metrics. class_names: the ID set's folder classes; empty: taken from the rows' folders
// (FolderClassNames).
void AddClassesAndGallery(const ScoreTable& table, const std::string& id_set,
                          const std::vector<std::string>& ood_sets,
                          std::vector<std::string> class_names,
                          const std::vector<std::string>& gated_scores, int k, Report* report);

}  // namespace oodscore

#endif  // OODSCORE_SRC_CLI_GALLERY_IMAGES_H_
