// The per-class breakdown of a report, when the ID set has labels: which ID class the
// threshold rejects, and which predicted class absorbs the OOD inputs.
//
// A sample is accepted as ID when its oriented rank value is >= the score's ID-calibrated
// threshold (Report::id_thresholds, the rule report.json's accept_as_id states).
#ifndef OODSCORE_CLASS_BREAKDOWN_H_
#define OODSCORE_CLASS_BREAKDOWN_H_

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "oodscore/score_table.h"
#include "oodscore/scores.h"

namespace oodscore {

struct ClassBreakdown {
  std::vector<std::string> scores;  // the scores the shares are for (the headline scores)
  // Per true class of the ID set, by class code (indices in order, then names): its samples,
  // the share of them classified right, and per score the share accepted as ID.
  struct IdClass {
    std::string name;  // folder name when known, else the code as text
    std::size_t n = 0;
    double accuracy = 0;           // over the class's samples that have a prediction
    std::vector<double> accepted;  // aligned with scores
  };
  std::vector<IdClass> id;
  // Per OOD set and predicted class (classes that no sample of the set is predicted as are
  // left out): the share of the set predicted as it, and per score the share of the set both
  // predicted as it and accepted as ID (summed over classes: the set's FPR at the threshold).
  struct PredClass {
    std::string name;
    double predicted = 0;
    std::vector<double> accepted;  // aligned with scores
  };
  struct OodSet {
    std::string name;
    std::size_t n = 0;
    std::vector<PredClass> classes;
  };
  std::vector<OodSet> ood;
};

// The breakdown from `table`'s rows; thresholds[i] is scores[i]'s oriented ID threshold.
// id_sets: the ID set, then any sets the metrics count as ID with it (--fsood's csid sets).
// nullopt when no ID row has a label. class_names[i] names class index i (may be short or
// hold ""). Throws oodscore::Error for a score column or set the table lacks.
std::optional<ClassBreakdown> BuildClassBreakdown(const ScoreTable& table,
                                                  const std::vector<ScoreInfo>& scores,
                                                  const std::vector<double>& thresholds,
                                                  const std::vector<std::string>& id_sets,
                                                  const std::vector<std::string>& ood_sets,
                                                  const std::vector<std::string>& class_names);

// report.json's "per_class": {scores, id[]{class, n, accuracy, accepted{SCORE: share}},
// ood[]{set, n, classes[]{class, predicted, accepted{SCORE: share}}}}.
nlohmann::json ClassBreakdownJson(const ClassBreakdown& b);

// report.md's "## Per class": the ID table, then one table per OOD set (values in %).
std::string ClassBreakdownMarkdown(const ClassBreakdown& b);

// report.html's per-class section: the same tables.
std::string ClassBreakdownHtml(const ClassBreakdown& b);

}  // namespace oodscore

#endif  // OODSCORE_CLASS_BREAKDOWN_H_
