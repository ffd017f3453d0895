// CI gates ("energy.auroc>=0.95") and regression checks against a baseline report.
#ifndef OODSCORE_GATE_H_
#define OODSCORE_GATE_H_

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "oodscore/compare_report.h"
#include "oodscore/report.h"

namespace oodscore {

// A parsed gate, OP one of >= <= > < ==:
//   [SET.]SCORE.METRIC OP VALUE   a metric of a score; SET omitted: every OOD set;
//                                 SET = "mean": the mean row over OOD sets.
//   [SET.]COUNT OP VALUE          COUNT = n (scored), found or skipped; SET omitted: every
//                                 set; SET = "id": the ID set; or a set's name.
//   id.accuracy OP VALUE          the ID classification accuracy.
// Shares (auroc, aupr_in, aupr_out, fpr_at_tpr, detection_error, tpr_achieved, accuracy) are
// written as a fraction in [0, 1] ("0.95") or in percent ("95%"); anything else is a usage
// error that asks which was meant. threshold is in the score's own units.
struct Gate {
  std::string text;
  std::string set;    // "" = every OOD set (score metrics) or every set (counts)
  std::string score;  // "" for counts and accuracy
  std::string metric;
  std::string op;
  double bound = 0;        // a fraction for shares
  std::string bound_text;  // as written ("95%")
  bool fpr95 = false;      // written as "fpr95": fpr_at_tpr, valid only at --tpr 0.95
};

// The set-level metrics a gate may name: "n", "found", "skipped", "accuracy".
const std::vector<std::string>& SetMetricNames();

// Parses VALUE for a metric: for shares "0.95" or "95%" (both 0.95); a bare value outside
// [0, 1] is refused with "did you mean 0.9 or 90%?". Other metrics take a plain number.
// `what` starts the error message ("gate 'energy.auroc>=90'"). Throws UsageError.
double ParseMetricValue(const std::string& text, const std::string& metric,
                        const std::string& what);

// Parses a gate. Score names may contain dots ("energy_T1.5"), so SCORE is matched against
// score_names. Throws oodscore::UsageError with a suggestion on a malformed gate.
Gate ParseGate(const std::string& text, const std::vector<std::string>& score_names);

// Evaluates gates against a report; one result per gate and set it covers.
// Throws oodscore::UsageError for a set the report does not have.
std::vector<CheckResult> EvaluateGates(const std::vector<Gate>& gates, const Report& report);

// Parses "auroc=0.005" or "auroc=0.5%" into (metric, delta), by the rule of
// ParseMetricValue. Throws UsageError.
std::pair<std::string, double> ParseTolerance(const std::string& text);

// One "skipped" check per set: its skipped share must not exceed max_share (a fraction).
std::vector<CheckResult> SkippedChecks(const std::vector<SetCounts>& sets, double max_share);

// What a comparison with a baseline report checks.
struct BaselineRules {
  std::map<std::string, double> max_drop;  // metric -> largest allowed decrease
  std::map<std::string, double> max_rise;  // metric -> largest allowed increase (fpr_at_tpr)
  // The scores compared (canonical names); empty = every score both reports hold.
  std::vector<std::string> scores;
  // A set scored on other samples than the baseline's (another count, or another
  // samples_digest) passes with a note instead of failing.
  bool allow_resample = false;
  // --significance ALPHA: a tolerance check with a DeLong p-value fails only when the change
  // is beyond the tolerance and p < ALPHA. None: the tolerance alone decides, as before.
  std::optional<double> significance;
  // Paired bootstrap resamples for the intervals of fpr_at_tpr and aupr_in changes (0 = none).
  int bootstrap = 1000;
};

// The samples behind a baseline comparison, for the significance of each change.
struct BaselineSamples {
  const CompareRun* baseline = nullptr;  // scores.csv beside the baseline's report.json
  std::string none_reason;               // why baseline is null ("the baseline folder ...")
  const ReportInput* current = nullptr;  // this run's scores; SetScores::paths pair them
};

// Compares the report with a baseline report.json (same format), per OOD set and score
// present in both (and in rules.scores, when given): each tolerance of rules is a check that
// carries the baseline's value and this run's. Each set of this run that the baseline also
// has is a check of its own: the same number of scored samples and, when both reports have
// it, the same samples_digest (fails unless rules.allow_resample).
// With bootstrap intervals in the baseline, each message says whether the new value lies
// inside the baseline's 95% interval.
// With samples (both runs' scores), each check carries a Significance: the baseline and this
// run compared as compare.h does (a = the baseline, b = this run): paired when every sample
// of the ID and the OOD set matches one of the baseline's by (set, path), else unpaired;
// "none", with the reason, without the baseline's scores. auroc: DeLong's p and the normal
// interval change +- 1.96 sqrt(variance); fpr_at_tpr and aupr_in: the bootstrap percentile
// interval (rules.bootstrap resamples, seeded with the report's seed), no p-value; other
// metrics: no test. See BaselineRules::significance for the verdict. Without samples (the
// default) and without rules.significance, the checks carry no Significance. An OOD set of the
// baseline missing from this run is a failed check. Messages round as the check table does
// (ShowValue), exact values stay in CheckResult.
std::vector<CheckResult> CompareWithBaseline(const nlohmann::json& baseline, const Report& report,
                                             const BaselineRules& rules,
                                             const BaselineSamples& samples = {});

}  // namespace oodscore

#endif  // OODSCORE_GATE_H_
