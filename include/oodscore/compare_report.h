// `oodscore compare`: report folders in, a comparison of their score columns out.
//
// A run is a report folder of `eval` (or `eval --from-scores`): report.json says which set is
// ID, which are OOD and how each score is oriented and ranked; scores.csv holds the samples'
// scores. A column is one (run, score). For each OOD set, every column's metrics and rank, and
// for every pair of columns on that set the AUROC difference with DeLong's test and bootstrap
// intervals of the FPR and AUPR differences (include/oodscore/compare.h). Two columns of one
// run score the same samples: paired. Columns of two runs are paired on the samples they share
// by (set, path); without shared samples the test is unpaired (and the report says so).
//
//   std::vector<CompareRun> runs = {LoadCompareRun("main", "reports/main"), ...};
//   CompareReport r = BuildCompare(runs, spec);
//   WriteFileAtomic(dir / "compare.json", DumpJson(CompareJson(r)));
#ifndef OODSCORE_COMPARE_REPORT_H_
#define OODSCORE_COMPARE_REPORT_H_

#include <cstddef>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "oodscore/compare.h"
#include "oodscore/score_table.h"
#include "oodscore/scores.h"

namespace oodscore {

struct CompareRun {
  std::string name;  // how the report names the run: NAME=DIR's NAME, else DIR's base name
  std::filesystem::path dir;
  std::string id_set;
  std::vector<std::string> ood_sets;  // report.json's order
  std::vector<ScoreInfo> scores;      // report.json's scores: orientation, ranked_by
  double tpr = 0.95;
  FprConvention convention = FprConvention::kExact;
  ScoreTable table;  // scores.csv, with paths
};

// Reads DIR/report.json and DIR/scores.csv. Throws UsageError (exit 2) when either file is
// missing, and oodscore::Error (exit 3) naming the file when one is not what eval writes
// (a field missing, a score's ranked_by column absent from scores.csv, an unknown set).
CompareRun LoadCompareRun(const std::string& name, const std::filesystem::path& dir);

// The sample keys (paths) and oriented scores (by the score's ranking column) of one set of
// one of a run's scores, in row order.
KeyedScores RunSetScores(const CompareRun& run, const std::string& set, const ScoreInfo& score);

// What to compare and how.
struct CompareSpec {
  // The scores (canonical names); empty = every score of a single run, or the scores every
  // run has when there are several.
  std::vector<std::string> scores;
  CompareOptions options;  // tpr and convention: the first run's (BuildCompare sets them)
  // The gate: fail a gated comparison whose AUROC drops by more than max_auroc_drop with
  // DeLong p < significance. Gated: the first run's column against another run's column of
  // the same score; with one run, the first score's column against each other one.
  bool gate = false;
  double max_auroc_drop = 0;
  double significance = 0.05;
};

struct CompareColumn {
  std::size_t run = 0;  // index into the runs
  ScoreInfo score;
};

struct CompareSet {
  std::string ood_set;
  // Each column that has this set, on all of its run's samples, ranked by AUROC (1 = best;
  // equal AUROCs share a rank).
  struct Column {
    std::size_t column = 0;  // index into CompareReport::columns
    Metrics metrics;
    int rank = 0;
    std::vector<RocPoint> roc;  // for the HTML's overlay, thinned to 256 points
  };
  std::vector<Column> columns;
  struct Pair {
    std::size_t a = 0, b = 0;  // indices into CompareReport::columns; a before b
    PairComparison stats;
    // Paired: the samples compared (shared by both columns); unpaired: nullopt (each
    // column's own counts are in stats.a / stats.b).
    std::optional<std::size_t> n_id, n_ood;
    std::string note;  // how the samples were paired, when not simply all of them
    bool gated = false;
    bool pass = true;  // false: the gate failed
  };
  std::vector<Pair> pairs;
};

struct CompareReport {
  std::vector<CompareRun> runs;  // without their tables
  std::vector<CompareColumn> columns;
  std::vector<CompareSet> sets;
  CompareSpec spec;
  std::vector<std::string> notes;  // runs that lack a set, sets that share no samples, ...
  bool passed() const;             // no gated comparison failed
  std::size_t gated() const;       // how many comparisons the gate checked
};

// The columns to compare: spec.scores (each checked with CheckedScoreName, and required in
// every run: UsageError naming the run's report.json), or the default. Throws UsageError when
// fewer than 2 columns remain.
std::vector<CompareColumn> SelectColumns(const std::vector<CompareRun>& runs,
                                         const std::vector<std::string>& scores,
                                         std::vector<std::string>* notes);

// Computes every column's metrics and every pair's comparison, and the gate. Throws
// UsageError for fewer than 2 runs' worth of columns, oodscore::Error from the metrics.
CompareReport BuildCompare(std::vector<CompareRun> runs, CompareSpec spec);

nlohmann::json CompareJson(const CompareReport& report);
// The Markdown: the verdict, then per OOD set the columns' table and the comparisons' table.
std::string CompareMarkdown(const CompareReport& report);
// compare.html: one self-contained page (inline SVG, no scripts, no network): the verdict,
// and per OOD set the columns' table, the ROC curves of every column overlaid, and the
// comparisons' table.
std::string CompareHtml(const CompareReport& report);
// "main.energy": a column as the tables name it.
std::string CompareColumnName(const CompareReport& report, std::size_t column);
// "paired DeLong (normal)" / "unpaired DeLong (Student t, 97.3 df)".
std::string CompareTestName(const PairComparison& c);
// "FAIL: 1 of 2 gated comparisons ..." / "PASS: ..." / "OK (no gate)".
std::string CompareVerdict(const CompareReport& report);

}  // namespace oodscore

#endif  // OODSCORE_COMPARE_REPORT_H_
