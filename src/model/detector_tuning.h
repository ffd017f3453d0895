// OpenOOD v1.5's automatic parameter search (APS) over a fit: `oodscore fit --val DIR
// --val-ood NAME=DIR` tries each tunable detector's sweep (DetectorSweepTable(),
// include/oodscore/detectors.h) on the penultimate features of an ID validation set against
// those of an OOD validation set and keeps, per detector, the first combination with the
// largest AUROC (OpenOOD's evaluator: `if auroc > max_auroc`).
//
//   FitAlternatives alt = SweepAlternatives(head.dim);
//   DetectorFit fit = FitDetectors(train, labels, head, settings, 0, &alt);
//   fit.tuning = TuneDetectors(&fit, alt, val_id, n_id, val_ood, n_ood, "cpu");
//
// LibTorch-free: the scoring runs in liboodscore_torch.so through MakeFeatureScorer.
#ifndef OODSCORE_SRC_MODEL_DETECTOR_TUNING_H_
#define OODSCORE_SRC_MODEL_DETECTOR_TUNING_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "oodscore/detectors.h"

namespace oodscore {

// What a fit of `dim`-dimensional features must compute besides its own settings for the
// sweep: every swept activation percentile, and every swept ViM dimension below `dim`.
FitAlternatives SweepAlternatives(int dim);

// Tries every combination of every DetectorSweepTable() row on `fit`: features [n_id, D] of
// the ID validation images against [n_ood, D] of the OOD ones. A combination the fit cannot
// take (a k above its bank, a ViM dimension >= D) is recorded as skipped, with why. Each
// detector keeps its best combination: fit->settings and the statistics that follow from it
// (ReAct's and VRA's clips, ViM's subspace and alpha, from `alternatives`), which ViM's
// dimension changes for `residual` too. Returns the trials; the caller adds the sets. Throws
// oodscore::Error when a set is empty.
DetectorTuning TuneDetectors(DetectorFit* fit, const FitAlternatives& alternatives,
                             const float* id_features, std::int64_t n_id, const float* ood_features,
                             std::int64_t n_ood, const std::string& device);

// A fit's tuning sets as JSON (the fit file's /tuning/sets, the run stamp's fit "tuned_on"),
// and back from the list at `pointer` of `j`. Throws oodscore::Error naming `where` and the
// field for a malformed list.
nlohmann::json TuningSetsJson(const std::vector<TuningSet>& sets);
std::vector<TuningSet> ParseTuningSets(const nlohmann::json& j, const std::string& pointer,
                                       const std::string& where);

// The trials as a table for the log: one line per combination, "knn  knn_k=200  0.9312
// (chosen)".
std::string TuningTable(const DetectorTuning& tuning);

}  // namespace oodscore

#endif  // OODSCORE_SRC_MODEL_DETECTOR_TUNING_H_
