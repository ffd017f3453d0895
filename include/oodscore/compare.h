// Comparing two score columns on one OOD task (one ID set against one OOD set): the AUROC
// difference with DeLong's test, and paired bootstrap intervals of the FPR and AUPR
// differences. What `oodscore compare` computes for each pair of (run, score) columns.
//
//   oodscore::Paired id = oodscore::PairByKey(id_a, id_b, "ID set 'cifar10'");
//   oodscore::Paired ood = oodscore::PairByKey(ood_a, ood_b, "OOD set 'svhn'");
//   oodscore::PairComparison c = oodscore::ComparePaired(id.a, ood.a, id.b, ood.b, options);
//   // c.auroc_diff (b - a), c.delong.z, c.delong.p, c.fpr_diff, c.fpr_diff_ci, ...
//
// Scores are oriented (higher = more in-distribution), as everywhere in metrics.h. Every
// difference is b minus a, and DeLong's z is that of b - a.
// Standard library only.
#ifndef OODSCORE_COMPARE_H_
#define OODSCORE_COMPARE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "oodscore/delong.h"
#include "oodscore/metrics.h"

namespace oodscore {

// One set's scores of one column, keyed by sample (its path in the score file).
struct KeyedScores {
  std::vector<std::string> keys;
  std::vector<double> values;  // aligned with keys
};

// The samples two columns share, matched by key: a[i] and b[i] are one sample's two scores,
// in the order of the first column. only_a / only_b count the samples one column lacks.
struct Paired {
  std::vector<double> a, b;
  std::size_t only_a = 0, only_b = 0;
};

// Matches the samples of two columns by key. Throws oodscore::Error "<what>: sample 'p'
// appears twice in <column>" when a key repeats within one column (the pairing would be
// ambiguous), and on keys and values of different lengths.
Paired PairByKey(const KeyedScores& a, const KeyedScores& b, const std::string& what);

struct CompareOptions {
  MetricOptions metric;    // tpr and convention; its bootstrap and seed are not used
  int bootstrap = 1000;    // resamples for the intervals of the differences; 0 = none
  std::uint64_t seed = 0;  // of the resamples: each comparison starts from it
};

struct PairComparison {
  bool paired = false;
  Metrics a, b;         // each column on the samples compared (the shared ones, when paired)
  DelongResult delong;  // of b - a: DelongPaired / DelongUnpaired(b's sets, a's sets)
  double auroc_diff = 0, fpr_diff = 0, aupr_in_diff = 0;  // b - a
  // Percentile 95% intervals (2.5th / 97.5th, linear) of fpr_diff and aupr_in_diff over
  // `bootstrap` resamples. Paired: one draw of ID samples and one of OOD samples per resample,
  // the same for both columns; unpaired: each column's sets drawn on their own. has_ci is
  // false without resamples.
  bool has_ci = false;
  int resamples = 0;
  Interval fpr_diff_ci, aupr_in_diff_ci;
};

// id_a[i] and id_b[i] are one sample's scores under the two columns (ood likewise).
// Throws oodscore::Error on sets of different sizes, a set with fewer than 2 scores, a NaN,
// or bootstrap < 0.
PairComparison ComparePaired(const std::vector<double>& id_a, const std::vector<double>& ood_a,
                             const std::vector<double>& id_b, const std::vector<double>& ood_b,
                             const CompareOptions& options);
// Independent samples of any sizes. Throws like ComparePaired.
PairComparison CompareUnpaired(const std::vector<double>& id_a, const std::vector<double>& ood_a,
                               const std::vector<double>& id_b, const std::vector<double>& ood_b,
                               const CompareOptions& options);

}  // namespace oodscore

#endif  // OODSCORE_COMPARE_H_
