// OOD detection metrics on two score sets, under the conventions in docs/METRICS.md.
//
// Scores are oriented: higher = more in-distribution (ID); a sample is accepted as ID when
// its score >= the threshold. ID is the positive class unless a convention says otherwise.
// Ties are exact (no tolerance); -0.0 and 0.0 are the same score; +-Inf are valid scores.
// Standard library only: reused by score files, the CLI and tests.
//
//   oodscore::MetricOptions opt;              // tpr 0.95, convention exact
//   oodscore::Metrics m = oodscore::ComputeMetrics(id_scores, ood_scores, opt);
//   // m.auroc, m.fpr_at_tpr, m.threshold (accept as ID when score >= m.threshold)
#ifndef OODSCORE_METRICS_H_
#define OODSCORE_METRICS_H_

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace oodscore {

// How FPR at a TPR level is picked (docs/METRICS.md, "FPR at TPR").
enum class FprConvention { kExact, kHendrycks, kOpenOod, kPytorchOod };
const char* ConventionName(FprConvention c);  // "exact", "hendrycks", "openood", "pytorch-ood"
// Returns false (and leaves *out alone) for an unknown name.
bool ParseConvention(const std::string& name, FprConvention* out);
const char* ConventionPositiveClass(FprConvention c);  // "id" or "ood"

struct MetricOptions {
  double tpr = 0.95;  // in (0, 1]; for openood / pytorch-ood it is the OOD recall level
  FprConvention convention = FprConvention::kExact;
  int bootstrap = 0;  // resamples for 95% CIs; 0 = no confidence intervals
  std::uint64_t seed = 0;
};

struct Interval {
  double lo = 0, hi = 0;
};

struct Metrics {
  std::size_t n_id = 0, n_ood = 0;
  double auroc = 0;  // Mann-Whitney, ties count half; same for either positive class
  // exact / hendrycks: average precision (step sum, scikit-learn average_precision_score);
  // openood / pytorch-ood: trapezoid area under the PR curve (their rule).
  double aupr_in = 0, aupr_out = 0;
  bool aupr_is_trapezoid = false;
  double fpr_at_tpr = 0;  // OOD accepted share; openood / pytorch-ood: ID rejected share
  // The chosen operating point, oriented units. exact: the k-th largest ID score,
  // k = ceil(tpr * n_id); hendrycks: the chosen ROC point's score, accepting score >= threshold.
  // openood / pytorch-ood (OOD positive): the point flags score <= threshold as OOD, so ID
  // is accepted when score > threshold there.
  double threshold = 0;
  double tpr_achieved = 0;     // ID recall at that operating point (>= tpr for exact)
  double detection_error = 0;  // min over thresholds of 0.5 (1 - TPR) + 0.5 FPR, ID positive
  // Percentile 95% CIs (2.5th / 97.5th, linear interpolation) over `bootstrap` resamples of
  // each set with replacement, for auroc and for fpr_at_tpr under the chosen convention.
  bool has_ci = false;
  Interval auroc_ci, fpr_ci;
};

// Throws oodscore::Error on an empty set, a NaN score (naming the set and index), tpr
// outside (0, 1] or bootstrap < 0. O(n log n) for the sorts, then O(n) per bootstrap resample.
Metrics ComputeMetrics(const std::vector<double>& id, const std::vector<double>& ood,
                       const MetricOptions& options);

// The intervals of a mean row (a report's mean over OOD sets): percentile 95% intervals of the
// mean auroc and the mean fpr_at_tpr over `options.bootstrap` resamples. A resample draws the
// ID set once, with replacement (every OOD set is compared with the same ID samples, so they
// share its draw), then each OOD set, and averages the sets' metrics on that draw. Draw order
// per resample: the ID set's sorted positions, then each OOD set's in order, from one
// mt19937_64 seeded with options.seed; so with one OOD set it is ComputeMetrics' own interval.
// Sets mean->has_ci, auroc_ci and fpr_ci, nothing else. O(n_id + sum of n_ood) per resample.
// Throws like ComputeMetrics, and when bootstrap < 1 or `ood` is empty.
void BootstrapMeanOverSets(const std::vector<double>& id,
                           const std::vector<const std::vector<double>*>& ood,
                           const MetricOptions& options, Metrics* mean);

// Sorts scores descending (-0.0 becoming 0.0). Every function here gives the same answer for
// any order of its inputs, and skips its own sort for inputs in this order: a caller that
// passes one set to many calls sorts it once. Leaves scores holding a NaN as they are (the
// calls then name the NaN's index).
void SortDescending(std::vector<double>* scores);

// The threshold a deployment would use, from ID scores alone: the k-th largest ID score with
// k the smallest integer with k / n >= tpr (so 0.95 * 20 gives k = 19, not 20), and the
// achieved TPR #{id >= threshold} / n (> tpr when the threshold is tied). Throws like
// ComputeMetrics.
struct IdThreshold {
  double threshold = 0;
  double tpr_achieved = 0;
  std::size_t n = 0;
};
IdThreshold ThresholdFromId(const std::vector<double>& id, double tpr);

// Metrics of a resample given as counts (a bootstrap that resamples by sample, the same draw
// for several scores of those samples): id_sorted and ood_sorted in descending order
// (SortDescending), the value at sorted position i counted id_counts[i] (ood_counts[i]) times.
// Each set's counts must sum to a nonzero total, which is its n in the metrics. No intervals.
// Throws oodscore::Error on a size mismatch, a zero total, an unsorted set or a NaN.
Metrics WeightedMetrics(const std::vector<double>& id_sorted,
                        const std::vector<std::uint32_t>& id_counts,
                        const std::vector<double>& ood_sorted,
                        const std::vector<std::uint32_t>& ood_counts, const MetricOptions& options);

// The bootstraps' draws: an unbiased integer in [0, n) from a fully specified engine (not
// std::uniform_int_distribution, whose algorithm differs between standard libraries), so that
// intervals reproduce everywhere. REQUIRES: n > 0.
std::size_t UniformIndex(std::mt19937_64& rng, std::uint64_t n);

// numpy.percentile's default (linear) rule on sorted values; q in [0, 1]. REQUIRES: non-empty.
double Percentile(const std::vector<double>& sorted, double q);

// ROC curve for plots, ID positive: (0,0), one vertex per distinct score (descending), ending
// at (1,1); thinned to at most max_points (evenly by index, first and last kept).
// Thinning is only for plots. REQUIRES: max_points >= 2. Throws like ComputeMetrics.
struct RocPoint {
  double fpr = 0, tpr = 0;
};
std::vector<RocPoint> RocCurve(const std::vector<double>& id, const std::vector<double>& ood,
                               std::size_t max_points = 512);

}  // namespace oodscore

#endif  // OODSCORE_METRICS_H_
