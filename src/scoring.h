// The part of `score` and `eval` that turns a model and inputs into a score table
// (front-end code, not part of the library API).
#ifndef OODSCORE_SRC_SCORING_H_
#define OODSCORE_SRC_SCORING_H_

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "oodscore/card.h"
#include "oodscore/metrics.h"
#include "oodscore/model.h"
#include "oodscore/pipeline.h"
#include "oodscore/preset.h"
#include "oodscore/score_table.h"

namespace oodscore {

struct ScoringOptions {
  std::string model_path;
  std::string preset;
  std::vector<double> temperatures;  // as given; energy at T=1 is always written
  ModelOptions model;
  PipelineOptions pipeline;
  bool quiet = false;
  bool no_freeze = false;
  bool no_optimize = false;
};

// Binds --model, --preset, --temperature, --device, --half, --batch-size, --workers,
// --threads, --strict, --no-freeze, --no-optimize, --channels-last.
void AddScoringOptions(CLI::App* cmd, ScoringOptions* opt);

struct ScoringResult {
  ScoreTable table;                               // filled when keep_rows
  std::vector<std::vector<std::string>> classes;  // per set: folder classes, if any
  PipelineStats stats;
  nlohmann::json run;  // the reproducibility stamp
  Preset preset;
  std::string model_sha256;
};

// Scores every set, writing the score CSV to csv_path ("-" = stdout, "" = none) batch by
// batch. With a card, adds an is_ood column after checking the card's model and preset.
ScoringResult RunScoring(const ScoringOptions& opt, const std::vector<SampleSet>& sets,
                         const std::string& csv_path, bool keep_rows,
                         const std::optional<DetectorCard>& card = std::nullopt);

// The detector card for a threshold picked from ID scores of this run.
DetectorCard MakeCard(const ScoreInfo& score, const IdThreshold& threshold, double tpr_target,
                      const std::string& id_set, const ScoringOptions& opt,
                      const ScoringResult& scored);

// Loads every "[NAME=]PATH" input as a sample set; names must be unique.
std::vector<SampleSet> LoadInputs(const std::vector<std::string>& args);

}  // namespace oodscore

#endif  // OODSCORE_SRC_SCORING_H_
