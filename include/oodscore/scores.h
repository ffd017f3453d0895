// Per-sample OOD scores from classifier logits, and how each score is oriented.
//
// All score math runs in double with max-subtraction, whatever the logits' dtype:
//   energy(T)  = -T * logsumexp(f / T)          lower  = more in-distribution (ID)
//   msp        = max_k softmax(f)_k              higher = more ID
//   log_msp    = max f - logsumexp f  (<= 0)     higher = more ID; the exact ranking key for msp,
//                                                since msp saturates at 1.0 in double
//   maxlogit   = max_k f_k                       higher = more ID
//   entropy    = -sum_k p_k log p_k              lower  = more ID
// No LibTorch: this is reused by score files and tests.
#ifndef OODSCORE_SCORES_H_
#define OODSCORE_SCORES_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace oodscore {

struct LogitScores {
  int pred = -1;               // argmax; the first index among equal maxima
  std::vector<double> energy;  // one per requested temperature, same order
  double msp = 0;
  double log_msp = 0;
  double maxlogit = 0;
  double entropy = 0;
  // GEN (Liu et al., CVPR 2023): -sum over the kGenTopM largest softmax probabilities of
  // p^gamma (1 - p)^gamma, gamma = kGenGamma; higher = ID.
  double gen = 0;
  // ODIN: max softmax(f(x') / T) of the perturbed input; set only by runs with --odin.
  double odin = 0;
  // The feature-space scores, in FeatureScoreNames() order (include/oodscore/detectors.h);
  // set only by runs with a fit (--fit).
  std::vector<double> feature;
  bool finite = true;  // false when any logit is NaN or +-Inf (scores are then unset)
};

// GEN's parameters, as in its reference code and OpenOOD v1.5.
constexpr double kGenGamma = 0.1;
constexpr int kGenTopM = 100;  // capped at K

// REQUIRES: k >= 1, every temperature > 0.
// True when a row of "logits" is probabilities (every value in [0, 1], summing to 1 within
// 1e-3) or log-probabilities (its logsumexp within 1e-3 of 0): what a model ending in softmax
// or log_softmax returns.
bool LooksLikeProbabilities(const float* row, int k);
bool LooksLikeProbabilities(const double* row, int k);  // a float64 logits .npy's row

// What a run says when every row of its first batch LooksLikeProbabilities.
extern const char* const kProbabilitiesWarning;

void ComputeLogitScores(const float* logits, int k, const std::vector<double>& temperatures,
                        LogitScores* out);
// max softmax(logits / temperature), in double with max subtraction (ODIN's score).
double TemperedMsp(const float* logits, int k, double temperature);

// The same for float64 logits (a logits .npy may hold either).
void ComputeLogitScores(const double* logits, int k, const std::vector<double>& temperatures,
                        LogitScores* out);

enum class Orientation { kHigherIsId, kLowerIsId };

// "higher = ID" / "lower = ID": how reports, help and messages say which way a score points.
const char* OrientationText(Orientation o);
// "higher_is_id" / "lower_is_id": the key report.json and detector cards store.
const char* OrientationKey(Orientation o);
// The inverse of OrientationKey; nullopt for any other text.
std::optional<Orientation> ParseOrientationKey(const std::string& key);

// ---- The score catalogue ----------------------------------------------------------------
// Every score column oodscore knows is one row of one table (kScores in src/metrics/scores.cc): its
// name, which way is ID, what a run needs to compute it, how to read it from LogitScores, and
// its help line. Every list of scores is derived from that table: name lookup and "did you
// mean", the known-names text, eval's default scores, the score CSV's columns and each row's
// values, --help's score paragraph, orientation labels and card orientation. A new score is a
// new row (and its math in ComputeLogitScores or the detectors).

// What a run must do to compute a score.
enum class ScoreNeeds {
  kLogits,        // the logits alone: every run writes it
  kTemperature,   // energy_T<t>: one column per --temperature other than 1
  kRankKey,       // not a score: the column another score is ranked by (log_msp, for msp)
  kPerturbation,  // ODIN's perturbed input, a backward pass per batch (--odin)
  kFit,           // the penultimate features and a fit file (--fit)
  kScoreFile,     // never computed: a plain score column of another tool's file (`metrics`)
};

struct ScoreDef {
  const char* name;  // column name; "energy_T<t>" stands for the temperature family
  Orientation orientation;
  ScoreNeeds needs;
  // The column that holds log(score), which metrics rank by instead of the score (exact where
  // the score itself rounds, as msp does at 1.0); nullptr: the score's own column.
  const char* rank_column;
  // Reads the column's value from a sample's scores. `slot` is the temperature's index in the
  // run's temperatures (kTemperature), or the score's index among the kFit rows (kFit).
  // nullptr for kScoreFile rows.
  double (*value)(const LogitScores& scores, int slot);
  const char* formula;    // --help's line: the definition
  const char* reference;  // the paper, "" for none
};

// The catalogue's rows, in the score CSV's column order.
struct ScoreRows {
  const ScoreDef* first;
  std::size_t count;
  const ScoreDef* begin() const { return first; }
  const ScoreDef* end() const { return first + count; }
};
ScoreRows ScoreCatalogue();
// The row of a column name ("energy_T2" finds the temperature row); nullptr for none.
const ScoreDef* FindScore(const std::string& column);

// What a run needs to compute a score: "with --fit", "with --odin", "with -T t", or "".
const char* NeedsText(ScoreNeeds needs);

// One column of a run's score CSV, bound to the row that fills it.
struct ScoreColumn {
  std::string name;
  const ScoreDef* def = nullptr;
  int slot = 0;
  double Value(const LogitScores& scores) const { return def->value(scores, slot); }
};

// The columns a run writes, in catalogue order: every row the run computes (kLogits and
// kRankKey always, kPerturbation with odin, kFit with fit), the temperature row once per
// temperature after the first. REQUIRES: temperatures[0] == 1.
std::vector<ScoreColumn> RunScoreColumns(const std::vector<double>& temperatures, bool odin,
                                         bool fit);

// The scores eval reports when none is named: energy, energy_T<t> for each other temperature
// (each once, in the order given), then every other score the run computes, in catalogue order.
std::vector<std::string> DefaultReportScores(const std::vector<double>& temperatures, bool odin,
                                             bool fit);

// The known score names, for messages: "energy, energy_T<t> (e.g. energy_T2), msp, ..., odin
// (with --odin), react_energy, ..., vim (with --fit)".
std::string KnownScoresText();

// --help's paragraph on the scores: a line per score (name, definition, orientation, needs).
std::string ScoreHelpText();

struct ScoreInfo {
  std::string name;  // column name: "energy", "energy_T2", "msp", "maxlogit", "entropy"
  Orientation orientation;
  std::string rank_column;  // the column metrics rank by ("log_msp" for msp), else name
};

// Known score columns (kScoreFile rows included, rank keys not). Returns false for a name that
// is not a score (e.g. "path", "log_msp").
bool LookupScore(const std::string& column, ScoreInfo* info);

// Column name for the energy at temperature t: "energy" for t == 1, else "energy_T<t>"
// with t in shortest round-trip form ("energy_T0.5", "energy_T1000").
std::string EnergyColumn(double temperature);

// The temperature of an energy column: 1 for "energy", t for "energy_T<t>" (t > 0, finite);
// nullopt for any other name.
std::optional<double> EnergyTemperature(const std::string& column);

// The column name a score is written under: "energy_T1" -> "energy", "energy_T2.0" ->
// "energy_T2"; other names unchanged.
std::string CanonicalScoreName(const std::string& name);

// The catalogue's kLogits rows: energy, msp, maxlogit, entropy, gen.
const std::vector<std::string>& LogitScoreNames();

// The catalogue's kFit rows, in LogitScores::feature's order (include/oodscore/detectors.h):
// react_energy, ash_energy, mahalanobis, knn, vim.
const std::vector<std::string>& FeatureScoreNames();
bool IsFeatureScore(const std::string& name);

// The one check of a score name a user typed (--score, calibrate --score), made before any
// expensive work: returns the canonical column name ("energy_T1" -> "energy"), or throws
// oodscore::UsageError "unknown score 'enrgy', did you mean 'energy'? (known: ...)". Names in
// `also` (e.g. a score file's own columns) are accepted too.
std::string CheckedScoreName(const std::string& name, const std::vector<std::string>& also = {});

// Maps a raw score to the oriented metric axis (higher = more ID), and back.
inline double Orient(double value, Orientation o) {
  return o == Orientation::kHigherIsId ? value : -value;
}

}  // namespace oodscore

#endif  // OODSCORE_SCORES_H_
