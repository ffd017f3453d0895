// The part of `score` and `eval` that turns a model and inputs into a score table
// (front-end code, not part of the library API).
#ifndef OODSCORE_SRC_CLI_SCORING_H_
#define OODSCORE_SRC_CLI_SCORING_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/quarantine.h"
#include "cli/run_paths.h"
#include "cli/run_spec.h"
#include "cli/score_stamp.h"
#include "cli/shards.h"
#include "oodscore/card.h"
#include "oodscore/metrics.h"
#include "oodscore/model.h"
#include "oodscore/pipeline.h"
#include "oodscore/preset.h"
#include "oodscore/score_table.h"

namespace oodscore {

struct ScoringOptions {
  std::string model_path;
  std::string preset;           // "" = from the detector card, or none for .npy inputs
  std::string layout = "auto";  // how folders are read: auto, classes, flat
  bool null_separated = false;  // --null: list files (and stdin) hold NUL-terminated paths
  // Largest share of a set's found files that may be skipped, as written ("0.01", "1%");
  // more exits 3 after every output is written. "1" turns the check off.
  std::string max_skipped = "0.01";
  ModelOptions model;
  PipelineOptions pipeline;
  bool quiet = false;
  bool no_freeze = false;
  bool no_optimize = false;
  RunSpec spec;  // what the run computes: temperatures, ODIN, the fit (src/cli/run_spec.h)
};

// Binds --model, --preset, --max-skipped, --device, --half, --batch-size, --workers,
// --threads, --strict, --max-image-pixels, --no-freeze, --no-optimize, --channels-last.
void AddModelOptions(CLI::App* cmd, ScoringOptions* opt);
// AddModelOptions, --layout, --null, and the run spec's options (AddRunSpecOptions).
void AddScoringOptions(CLI::App* cmd, ScoringOptions* opt);

// --max-skipped as a fraction. Throws UsageError.
double MaxSkippedShare(const ScoringOptions& opt);

// What RunScoring writes besides the table.
struct ScoringOutputs {
  std::string csv_path;  // "-" = stdout, "" = none
  bool keep_rows = false;
  bool keep_paths = false;  // the kept rows keep their paths (a baseline check pairs by them)
  std::optional<DetectorCard> card;  // adds an is_ood column, after checking model and preset
  // With a card holding calibration scores: is_ood = (pvalue <= alpha) instead of the
  // card's threshold (score --alpha).
  std::optional<double> alpha;
  // With such a card: Benjamini-Hochberg at this false discovery rate over every p-value of
  // the run (score --fdr). The decision needs the last p-value, so the CSV has no is_ood
  // column; --flagged is written when the run ends. No quarantine, shard or resume.
  std::optional<double> fdr;
  std::string flagged_path;  // with a card: flagged paths, NUL-terminated ("-" = stdout)
  std::string skipped_path;  // skipped paths, NUL-terminated ("-" = stdout), at the end
  bool stamp = false;        // write the run stamp csv_path.json (src/cli/resume.h)
  bool resume = false;       // continue csv_path if its stamp matches (src/cli/resume.h)
  bool allow_empty = false;  // no samples at all: a header-only CSV (and stamp), not an error
  std::optional<ShardSpec>
      shard;  // score only this shard's samples (src/cli/shards.h); needs stamp
  // With a card: --move-flagged / --copy-flagged. Each flagged file is placed once its
  // batch's rows are flushed to the CSV (src/cli/quarantine.h).
  std::optional<QuarantineOptions> quarantine;
  // Called with each scored sample and its penultimate features (the model is loaded with
  // ModelOptions::features and ScoringOptions::head): what `oodscore fit` collects.
  std::function<void(const ScoredSample&)> on_features;
  // The other files the command reads and writes (--card, fit's -o, the report folder).
  // RunScoring adds its own (model, model library, preset, fit, inputs and every image listed,
  // the CSV, its stamp, --flagged) and refuses an overlap (RunPaths::Check) before it reads
  // any image or writes anything.
  RunPaths paths;
  std::string csv_flag = "-o";         // the flag that named csv_path, for messages
  std::string input_flag = "--input";  // the flag(s) that named the sets, for messages
};

struct ScoringResult {
  ScoreTable table;                               // filled when keep_rows
  std::vector<std::vector<std::string>> classes;  // per set: folder classes, if any
  PipelineStats stats;
  nlohmann::json run;  // the reproducibility stamp
  nlohmann::json fit;  // the fit file's path, SHA-256 and settings (null without --fit)
  Preset preset;
  std::string model_sha256;
  HeadWeights head;               // with --fit or on_features: the model's final linear layer
  std::size_t flagged = 0;        // with a card: samples flagged OOD by this run
  std::size_t pvalues = 0;        // with --fdr: the p-values BH ran over
  double fdr_cutoff = 0;          // with --fdr: flagged = p <= this (0: none flagged)
  std::size_t placed = 0;         // with a quarantine: flagged files moved (or copied) there
  std::size_t left_in_place = 0;  // with a quarantine: flagged files it could not take
};

// Benjamini-Hochberg at false discovery rate q: the largest p_(k) (p sorted ascending, k from
// 1) with p_(k) <= k q / m, m = p.size(); 0 when there is none. Rejecting every p <= it controls
// the FDR at q for independent (or positively dependent) p-values.
double BenjaminiHochbergCutoff(std::vector<double> p, double q);

// Scores every set, writing the outputs batch by batch. With a stream, `sets` is one empty
// set (its name and source) whose samples arrive from `stream` (score -i - from a pipe): each
// chunk is scored and its rows flushed before the next is taken; the stamp counts what
// arrived. A stream takes no shard and no resume.
ScoringResult RunScoring(const ScoringOptions& opt, const std::vector<SampleSet>& sets,
                         const ScoringOutputs& outputs, const SampleChunks* stream = nullptr);

// The --max-skipped verdict for commands without a report: logs each set over the limit and
// returns kExitInput, or kExitOk.
int SkippedVerdict(const PipelineStats& stats, double max_share);

// Reads a fit file (`oodscore fit`) and refuses one made for another model, preset or head.
DetectorFit LoadFitFor(const std::string& fit_path, const std::string& model_path,
                       const std::string& model_sha256, const nlohmann::json& preset_json,
                       const std::string& head);

// What a detector card records of the run whose ID scores set its threshold.
struct CardRun {
  std::string model_path, model_sha256;
  nlohmann::json preset;                                  // in full; null for logits inputs
  std::string fit_sha256;                                 // the fit file's, with --fit
  double odin_temperature = 1000, odin_epsilon = 0.0014;  // the run's ODIN settings
};
// Of a run scored here, or of one scored elsewhere (its score files' stamp).
CardRun CardRunOf(const ScoringOptions& opt, const ScoringResult& scored);
CardRun CardRunOf(const ScoreStamp& stamp, const std::string& model_path);

// The detector card for a threshold picked from ID scores of that run.
DetectorCard MakeCard(const ScoreInfo& score, const IdThreshold& threshold, double tpr_target,
                      const std::string& id_set, const CardRun& run);

// What stamps record of a fit file: its path, SHA-256, head, training set and settings.
nlohmann::json FitRecord(const std::string& fit_path, const DetectorFit& fit);

// Loads every "[NAME=]PATH" input as a sample set; names must be unique, and no set may be
// called "mean" (the mean row's name in gates), nor, with roles (the first set is ID), "id"
// unless it is the first.
// With allow_empty, a folder without images is an empty set (logged), not an error.
// With null_separated, list files are read as NUL-separated paths (--null).
// Folders in `skip` are left out of folder inputs (score's --move-flagged folder).
std::vector<SampleSet> LoadInputs(const std::vector<std::string>& args, const std::string& layout,
                                  bool roles = true, bool allow_empty = false,
                                  bool null_separated = false, const SkipFolders& skip = {});

}  // namespace oodscore

#endif  // OODSCORE_SRC_CLI_SCORING_H_
