// CI gates ("energy.auroc>=0.95") and regression checks against a baseline report.
#ifndef OODSCORE_GATE_H_
#define OODSCORE_GATE_H_

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "oodscore/report.h"

namespace oodscore {

// A parsed gate: [SET.]SCORE.METRIC OP VALUE, with OP one of >= <= > < ==.
//   SET omitted: the bound must hold for every OOD set. SET = "mean": the mean row.
//   "id.accuracy>=0.9" checks the ID classification accuracy.
struct Gate {
  std::string text;
  std::string set;  // "" = every OOD set
  std::string score;
  std::string metric;
  std::string op;
  double bound = 0;
};

// Parses a gate. Score names may contain dots ("energy_T1.5"), so SCORE is matched against
// score_names. Throws oodscore::UsageError with a suggestion on a malformed gate.
Gate ParseGate(const std::string& text, const std::vector<std::string>& score_names);

// Evaluates gates against a report; one result per gate and set it covers.
// Throws oodscore::UsageError for a set the report does not have.
std::vector<CheckResult> EvaluateGates(const std::vector<Gate>& gates, const Report& report);

// Parses "auroc=0.005" into (metric, delta). Throws UsageError.
std::pair<std::string, double> ParseTolerance(const std::string& text);

// Compares the report with a baseline report.json (same format), per OOD set and score
// present in both. max_drop: metric -> largest allowed decrease (higher-is-better metrics);
// max_rise: metric -> largest allowed increase (fpr_at_tpr, detection_error).
// With bootstrap intervals in the baseline, each message says whether the new value lies
// inside the baseline's 95% interval. An OOD set of the baseline missing from this run is a
// failed check.
std::vector<CheckResult> CompareWithBaseline(const nlohmann::json& baseline, const Report& report,
                                             const std::map<std::string, double>& max_drop,
                                             const std::map<std::string, double>& max_rise);

}  // namespace oodscore

#endif  // OODSCORE_GATE_H_
