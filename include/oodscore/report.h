// OOD report: metrics for every (OOD set, score) pair, their mean over OOD sets, and the
// rendering to report.json and report.md.
//
// Usage:
//   ReportInput in;  // set names, score columns, oriented scores per set
//   Report r = BuildReport(in);
//   WriteFileAtomic(dir / "report.json", ReportJson(r).dump(2));
//   std::cout << ReportMarkdown(r);
#ifndef OODSCORE_REPORT_H_
#define OODSCORE_REPORT_H_

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "oodscore/class_breakdown.h"
#include "oodscore/gallery.h"
#include "oodscore/metrics.h"
#include "oodscore/risk_coverage.h"
#include "oodscore/scores.h"
#include "oodscore/set_counts.h"

namespace oodscore {

// The scores of one set, oriented (higher = more ID), one vector per reported score.
struct SetScores {
  std::string name;
  std::vector<std::vector<double>> oriented;  // aligned with ReportInput::scores
  // With a baseline to pair with (else empty): the samples' paths in row order. A baseline
  // check pairs this run's samples with the baseline's by them.
  std::vector<std::string> paths;
  // With a baseline or a subsample protocol (else empty): each score's oriented values in row
  // order, the same sample at the same index in every score (`oriented` may be sorted).
  std::vector<std::vector<double>> row_order;  // aligned with ReportInput::scores (and paths)
};

// The energy paper's protocol (--ood-subsample F --repeats R, its reference code's defaults
// 0.2 and 10): each OOD set's metrics are the mean over R seeded draws, without replacement,
// of floor(F * n_id) of its samples (all of them when it has fewer; the same samples for every
// score), with the population standard deviation over the draws. The ID set is used whole.
struct SubsampleProtocol {
  double fraction = 0;
  int repeats = 0;
  std::uint64_t seed = 0;
};

// Draw `repeat` of the OOD set at position `set`: m of the indices 0..n-1 without replacement
// (a partial Fisher-Yates shuffle), from an mt19937_64 seeded with std::seed_seq{seed's two
// halves, set, repeat}, both fixed by the standard. REQUIRES: m <= n.
std::vector<std::size_t> SubsampleDraw(std::size_t n, std::size_t m, std::uint64_t seed,
                                       std::size_t set, int repeat);

// OOD sets with a mean row of their own (OpenOOD's near and far groups): --group near=a,b.
struct SetGroup {
  std::string name;
  std::vector<std::string> sets;
};

struct ReportInput {
  std::vector<ScoreInfo> scores;  // what to report, in column order
  SetScores id;
  std::vector<SetScores> ood;  // in the order given by the user
  MetricOptions options;
  std::optional<SubsampleProtocol> subsample;  // needs each OOD set's row_order
  std::vector<SetGroup> groups;                // their sets are among `ood`
};

// A gate, baseline or skipped-share check, as evaluated.
struct CheckResult {
  std::string kind;                // "gate", "baseline" or "skipped"
  std::string expr;                // as written by the user (gates), else the same as subject
  std::string subject;             // what was measured: "svhn.energy.auroc", "noise.skipped_share"
  double value = 0;                // the measured value (this run's)
  std::optional<double> baseline;  // baseline checks: the baseline's value
  std::string allowed;             // the rule, in the metric's units: ">= 0.95", "drop <= 0.005"
  bool rate = false;               // value is a share (shown as percent in tables)
  bool pass = true;
  std::string message;  // one line, e.g. "svhn.energy.auroc = 0.9312 violates >= 0.95"
  // A baseline check of a metric: how sure the change is (gate.h, CompareWithBaseline).
  struct Significance {
    std::string test;             // "paired", "unpaired" or "none" (no test could be made)
    std::string note;             // why "none", or how the samples were matched
    std::optional<double> p;      // DeLong's two-sided p-value (auroc checks)
    std::optional<double> z;      // DeLong's z (unpaired: Student's t)
    std::optional<Interval> ci;   // 95% interval of the change (value - baseline)
    std::string interval;         // "delong-normal", "bootstrap-percentile" or "" (none)
    std::optional<double> alpha;  // --significance, when given
    std::string warning;          // a significant drop within the tolerance, else ""
  };
  std::optional<Significance> significance;
};

struct Report {
  MetricOptions options;
  std::vector<ScoreInfo> scores;
  std::string id_name;
  std::size_t n_id = 0;
  std::vector<IdThreshold> id_thresholds;  // per score: the deployable threshold, from ID alone
  struct OodResult {
    std::string name;
    std::size_t n = 0;
    std::vector<Metrics> metrics;  // aligned with scores; with a subsample, means over draws
    std::size_t drawn = 0;         // with a subsample: the samples of each draw
    std::vector<Metrics> spread;   // with a subsample: each metric's std over draws, else empty
  };
  std::vector<OodResult> ood;
  std::vector<Metrics> mean;  // per score: plain mean over OOD sets (auroc, aupr_*, fpr, deterr)
  // With a subsample: the std over draws of each draw's mean over the sets, else empty.
  std::vector<Metrics> mean_spread;
  std::optional<SubsampleProtocol> subsample;
  // A group's mean row, as `mean` over the group's sets.
  struct GroupResult {
    SetGroup group;
    std::vector<Metrics> mean, spread;
  };
  std::vector<GroupResult> groups;
  std::optional<double> id_accuracy;  // when the ID set has labels
  // OpenOOD's covariate-shifted ID sets (eval --csid): scored, their accuracy reported, and
  // with `fsood` (--fsood) counted as ID in every metric, as OpenOOD's eval_ood(fsood=True).
  struct CsidResult {
    std::string name;
    std::size_t n = 0;
    std::optional<double> accuracy;  // when the set has labels
  };
  std::vector<CsidResult> csid;
  bool fsood = false;
  // With fsood: the accuracy over the ID set and every csid set together (OpenOOD's csid_acc).
  std::optional<double> fsood_accuracy;
  // Per set, ID first then the OOD sets in order: found / scored / skipped. BuildReport
  // fills them from the scores (nothing skipped); commands that score images replace them.
  std::vector<SetCounts> sets;
  std::vector<SkippedSample> skipped;  // the skipped files, with their reasons
  std::vector<std::string> warnings;   // also logged: reversed-looking scores, ...
  std::vector<CheckResult> checks;
  std::optional<ClassBreakdown> per_class;  // eval, when the ID set has labels
  std::vector<RiskCoverage> risk_coverage;  // eval, when the ID rows have labels and predictions
  std::optional<Gallery> gallery;  // eval --gallery K (K > 0): the failure gallery (gallery.h)
  nlohmann::json run = nlohmann::json::object();  // reproducibility stamp: config, versions, counts
};

// A set's role by its index in Report::sets: "id" (index 0), "csid" or "ood".
std::string SetRole(const Report& report, std::size_t index);
// The same for tables: "ID", "CSID" or "OOD".
std::string SetRoleLabel(const Report& report, std::size_t index);

// Computes every metric, and warns (Report::warnings) for every (set, score) whose AUROC is
// below 0.5: such a score looks reversed. Throws oodscore::Error if a set is empty.
Report BuildReport(const ReportInput& input);

// A warning when ID accuracy is below chance (1 / num_classes), else "".
std::string BelowChanceWarning(double accuracy, int num_classes);

// The verdict's summary of the sets: "fmnist-0to4 5000/5000, noise 998/1000 (2 skipped)"
// (scored / found).
std::string SetsSummary(const std::vector<SetCounts>& sets);

// A set's counts as JSON: name (with name_hex when not UTF-8), found, scored, skipped, and
// skipped_files[]{path, reason} from `skipped` (the entries of this set). Shared by
// report.json's sets[] and the run stamp.
nlohmann::json SetCountsJson(const SetCounts& counts, const std::vector<SkippedSample>& skipped);

// The share a metric is a share of (auroc, aupr_*, fpr_at_tpr, detection_error,
// tpr_achieved, accuracy, skipped_share): written as a fraction or with '%', shown in percent.
bool IsRateMetric(const std::string& metric);

// The metrics whose mean and spread a subsample protocol reports, by name: auroc, aupr_in,
// aupr_out, fpr_at_tpr, detection_error.
struct SpreadMetric {
  const char* name;
  double Metrics::*member;
};
const std::vector<SpreadMetric>& SpreadMetrics();

// A table cell of a share, in percent with two decimals: "93.12"; with an interval
// "93.12 [92.01, 94.20]"; with a spread over draws "93.12 ± 0.41"; "-" when not finite.
std::string PercentCell(double value, const Interval* ci = nullptr, const double* spread = nullptr);

// The cells of a metrics table row, in its column order: FPR, AUROC, AUPR-In, AUPR-Out,
// DetErr (PercentCell, with the bootstrap intervals and the spread when there are).
std::vector<std::string> MetricCells(const Metrics& m, const Metrics* spread);

// Which cells of one set's rows (one Metrics per score) hold the best value among the scores,
// per MetricCells column: the lowest FPR and DetErr, the highest AUROC and AUPRs, compared as
// shown (to 0.01%); ties are all best. All false with fewer than two scores.
std::vector<std::vector<bool>> BestCells(const std::vector<Metrics>& by_score);

// ". Covariate-shifted ID: a (n=100, accuracy 71.00%); ...": the csid sets and whether the
// metrics count them as ID, for the line under the title; "" without csid sets.
std::string CsidText(const Report& report);

// "93.12%" for a share, else the value, to `digits` significant digits.
std::string ShowValue(double value, bool rate, int digits = 4);

// A check's table cells: baseline, value, change, allowed, verdict. Rounded to 4 significant
// digits; shares in percent and changes of shares in percentage points. A baseline check
// tested for significance adds to its change the 95% interval, the DeLong p-value and the
// test: "-0.41 pp [-0.8, -0.02], p=0.04 (paired)".
std::vector<std::string> CheckCells(const CheckResult& check);

// Converts an oriented threshold back to the score's own units (an energy, an MSP).
double RawThreshold(const ScoreInfo& score, double oriented);

// "energy <= -7.25" / "msp >= 0.91": the rule that accepts a sample as ID. strict gives
// "<" / ">": the OOD-positive conventions (openood, pytorch-ood) flag the threshold itself OOD.
std::string AcceptRule(const ScoreInfo& score, double raw_threshold, bool strict = false);

// Names of the metrics a gate or baseline may refer to.
const std::vector<std::string>& MetricNames();

// A metric value by name ("auroc", "fpr_at_tpr", ...); nullopt for an unknown name.
std::optional<double> MetricValue(const Metrics& m, const std::string& name);

nlohmann::json ReportJson(const Report& report);

// "FAIL: 21 of 27 checks failed", "PASS: all 27 checks passed" or "OK (no checks)": the
// verdict as the Markdown, the HTML banner and the stderr line state it.
std::string VerdictText(const std::vector<CheckResult>& checks);

// The Markdown report: a heading, the verdict (**FAIL**: ...) and each failed check's message
// first, then the paper-style table (one row per (OOD set, score) and a mean row per score, in
// percent), thresholds, set counts, warnings and every check.
std::string ReportMarkdown(const Report& report);

}  // namespace oodscore

#endif  // OODSCORE_REPORT_H_
