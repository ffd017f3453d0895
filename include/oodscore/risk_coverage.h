// The risk-coverage curve of the ID set: a detector's use is to reject inputs, so how
// accurate is the classifier on the ID images it accepts, for each share it accepts?
#ifndef OODSCORE_RISK_COVERAGE_H_
#define OODSCORE_RISK_COVERAGE_H_

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "oodscore/score_table.h"
#include "oodscore/scores.h"

namespace oodscore {

// The shares of the ID set the tables show the accuracy at.
constexpr double kCoverageLevels[] = {1.0, 0.95, 0.9, 0.8, 0.5};

struct RiskCoverage {
  std::string score;
  std::size_t n = 0;  // the ID rows with both a label and a prediction
  // (coverage, accuracy): accepting the k most ID-looking rows (ties in row order), coverage
  // k / n and the accuracy over them; at most about 100 points, k = n last.
  std::vector<std::pair<double, double>> curve;
  std::vector<double> at_levels;  // the accuracy at each of kCoverageLevels (k = ceil(c * n))
  double threshold_coverage = 0, threshold_accuracy = 0;  // at the score's ID threshold
};

// One curve per score; thresholds[i] is scores[i]'s oriented ID threshold (accepted: >=).
// id_sets: the ID set, then any sets the metrics count as ID with it (--fsood's csid sets).
// Empty when no ID row has both a label and a prediction. Throws oodscore::Error for a score
// column the table lacks.
std::vector<RiskCoverage> BuildRiskCoverage(const ScoreTable& table,
                                            const std::vector<ScoreInfo>& scores,
                                            const std::vector<double>& thresholds,
                                            const std::vector<std::string>& id_sets);

// report.json's "risk_coverage": [{score, n, threshold{coverage, accuracy}, at_coverage{"0.95":
// accuracy, ...}, curve[[coverage, accuracy], ...]}].
nlohmann::json RiskCoverageJson(const std::vector<RiskCoverage>& curves);

// report.md's "## Risk-coverage (ID)" table: per score, the share its threshold accepts, the
// accuracy there, and the accuracy at kCoverageLevels (in %).
std::string RiskCoverageMarkdown(const std::vector<RiskCoverage>& curves);

// The same table's rows as cells (header first), shared by Markdown and HTML.
std::vector<std::vector<std::string>> RiskCoverageRows(const std::vector<RiskCoverage>& curves);

}  // namespace oodscore

#endif  // OODSCORE_RISK_COVERAGE_H_
