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
void ComputeLogitScores(const float* logits, int k, const std::vector<double>& temperatures,
                        LogitScores* out);
// max softmax(logits / temperature), in double with max subtraction (ODIN's score).
double TemperedMsp(const float* logits, int k, double temperature);

// The same for float64 logits (a logits .npy may hold either).
void ComputeLogitScores(const double* logits, int k, const std::vector<double>& temperatures,
                        LogitScores* out);

enum class Orientation { kHigherIsId, kLowerIsId };

struct ScoreInfo {
  std::string name;  // column name: "energy", "energy_T2", "msp", "maxlogit", "entropy"
  Orientation orientation;
  std::string rank_column;  // the column metrics rank by ("log_msp" for msp), else name
};

// Known score columns. Returns false for a name that is not a score (e.g. "path").
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

// The scores a model run computes: energy (and energy_T<t>), msp, maxlogit, entropy.
const std::vector<std::string>& LogitScoreNames();

// The columns the feature-space detectors add (runs with --fit, include/oodscore/detectors.h),
// in this order: react_energy, ash_energy, mahalanobis, knn, vim.
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
