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

#include "oodscore/metrics.h"
#include "oodscore/scores.h"

namespace oodscore {

// The scores of one set, oriented (higher = more ID), one vector per reported score.
struct SetScores {
  std::string name;
  std::vector<std::vector<double>> oriented;  // aligned with ReportInput::scores
};

struct ReportInput {
  std::vector<ScoreInfo> scores;  // what to report, in column order
  SetScores id;
  std::vector<SetScores> ood;  // in the order given by the user
  MetricOptions options;
};

// A gate or baseline check, as evaluated.
struct CheckResult {
  std::string kind;  // "gate" or "baseline"
  std::string expr;  // as written by the user, or "<set>.<score>.<metric>" for baselines
  double value = 0;  // the measured value (for baselines: the change, new - old)
  bool pass = true;
  std::string message;  // one line, e.g. "svhn.energy.auroc = 0.9312 >= 0.95: FAIL"
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
    std::vector<Metrics> metrics;  // aligned with scores
  };
  std::vector<OodResult> ood;
  std::vector<Metrics> mean;  // per score: plain mean over OOD sets (auroc, aupr_*, fpr, deterr)
  std::optional<double> id_accuracy;  // when the ID set has labels
  std::vector<CheckResult> checks;
  nlohmann::json run = nlohmann::json::object();  // reproducibility stamp: config, versions, counts
};

// Computes every metric. Throws oodscore::Error if a set is empty.
Report BuildReport(const ReportInput& input);

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

// The paper-style table: one row per (OOD set, score) and a mean row per score, percent.
std::string ReportMarkdown(const Report& report);

}  // namespace oodscore

#endif  // OODSCORE_REPORT_H_
