#include "oodscore/scores.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "base/format.h"
#include "base/suggest.h"
#include "oodscore/error.h"

namespace oodscore {

namespace {

template <typename T>
void LogitScoresOf(const T* logits, int k, const std::vector<double>& temperatures,
                   LogitScores* out) {
  out->energy.assign(temperatures.size(), std::numeric_limits<double>::quiet_NaN());
  out->finite = true;
  int arg = 0;
  double max_logit = -std::numeric_limits<double>::infinity();
  for (int i = 0; i < k; ++i) {
    const double v = logits[i];
    if (!std::isfinite(v)) out->finite = false;
    if (v > max_logit) {
      max_logit = v;
      arg = i;
    }
  }
  out->pred = arg;
  if (!out->finite) return;

  // logsumexp with max subtraction, split as log(1 + rest) with rest = sum over the other
  // classes of exp(f_i - max f), so that log_msp = -log1p(rest) keeps its precision when the
  // softmax saturates (rest < 1e-16, where msp itself rounds to 1.0).
  double rest = 0, weighted = 0;
  for (int i = 0; i < k; ++i) {
    if (i == arg) continue;
    const double d = static_cast<double>(logits[i]) - max_logit;
    const double e = std::exp(d);
    rest += e;
    // p log p -> 0 as p -> 0: a class whose exp underflows adds nothing (e * d would be
    // 0 * -inf = NaN when d itself overflows, e.g. logits 1e308 and -1e308).
    if (e > 0) weighted += e * d;
  }
  const double log_sum = std::log1p(rest);
  const double sum = 1.0 + rest;
  out->maxlogit = max_logit;
  out->log_msp = -log_sum;  // max f - logsumexp f
  out->msp = 1.0 / sum;
  // H = -sum p log p = log S - (1/S) sum e_i d_i, with d_i = f_i - max f (d = 0 for the max).
  out->entropy = log_sum - weighted / sum;

  // GEN over the top M probabilities. 1 - p is computed as (S - e_i) / S, and for the top
  // class as rest / S, so it keeps its precision when the softmax saturates (the reference,
  // computing 1 - p, rounds it to 0 there).
  {
    std::vector<double> e(static_cast<std::size_t>(k));
    for (int i = 0; i < k; ++i) {
      e[i] = i == arg ? 1.0 : std::exp(static_cast<double>(logits[i]) - max_logit);
    }
    const int m = std::min(k, kGenTopM);
    if (m < k) {
      std::nth_element(e.begin(), e.begin() + (m - 1), e.end(), std::greater<double>());
      e.resize(static_cast<std::size_t>(m));
    }
    std::sort(e.begin(), e.end());  // ascending, as the reference sums them
    double g = 0;
    bool top_done = false;
    for (double ei : e) {
      const double p = ei / sum;
      // The top class's complement is the rest of the sum (exactly), the others' S - e_i.
      const bool top = ei == 1.0 && !top_done;
      top_done = top_done || top;
      const double q = (top ? rest : sum - ei) / sum;
      g += std::pow(p, kGenGamma) * std::pow(q, kGenGamma);
    }
    out->gen = -g;
  }

  for (std::size_t t = 0; t < temperatures.size(); ++t) {
    const double temp = temperatures[t];
    if (temp == 1.0) {
      out->energy[t] = -(max_logit + log_sum);
      continue;
    }
    double s = 0;
    for (int i = 0; i < k; ++i) s += std::exp((static_cast<double>(logits[i]) - max_logit) / temp);
    out->energy[t] = -temp * (max_logit / temp + std::log(s));
  }
}

}  // namespace

namespace {

template <typename T>
bool RowLooksLikeProbabilities(const T* row, int k) {
  double sum = 0, max = -std::numeric_limits<double>::infinity();
  bool unit = true;
  for (int i = 0; i < k; ++i) {
    const double v = row[i];
    unit = unit && v >= 0 && v <= 1;
    sum += v;
    max = std::max(max, v);
  }
  if (unit && std::abs(sum - 1) <= 1e-3) return true;
  double rest = 0;
  for (int i = 0; i < k; ++i) rest += std::exp(static_cast<double>(row[i]) - max);
  return std::abs(max + std::log(rest)) <= 1e-3;
}

}  // namespace

bool LooksLikeProbabilities(const float* row, int k) { return RowLooksLikeProbabilities(row, k); }

bool LooksLikeProbabilities(const double* row, int k) { return RowLooksLikeProbabilities(row, k); }

const char* const kProbabilitiesWarning =
    "the model's outputs look like probabilities (every row of the first batch is a softmax or "
    "log_softmax): energy, maxlogit, GEN and the feature scores need raw logits; re-export the "
    "model without its final softmax (script or trace the module that returns the logits)";

void ComputeLogitScores(const float* logits, int k, const std::vector<double>& temperatures,
                        LogitScores* out) {
  LogitScoresOf(logits, k, temperatures, out);
}

void ComputeLogitScores(const double* logits, int k, const std::vector<double>& temperatures,
                        LogitScores* out) {
  LogitScoresOf(logits, k, temperatures, out);
}

double TemperedMsp(const float* logits, int k, double temperature) {
  double max_logit = logits[0];
  for (int i = 1; i < k; ++i) max_logit = std::max<double>(max_logit, logits[i]);
  double s = 0;
  for (int i = 0; i < k; ++i)
    s += std::exp((static_cast<double>(logits[i]) - max_logit) / temperature);
  return 1.0 / s;
}

std::string EnergyColumn(double temperature) {
  if (temperature == 1.0) return "energy";
  return "energy_T" + FormatDouble(temperature);
}

std::optional<double> EnergyTemperature(const std::string& column) {
  if (column == "energy") return 1.0;
  if (column.rfind("energy_T", 0) != 0) return std::nullopt;
  auto t = ParseDouble(std::string_view(column).substr(8));
  if (!t || !(*t > 0) || !std::isfinite(*t)) return std::nullopt;
  return t;
}

std::string CanonicalScoreName(const std::string& name) {
  const auto t = EnergyTemperature(name);
  return t ? EnergyColumn(*t) : name;
}

namespace {

constexpr auto kLower = Orientation::kLowerIsId;
constexpr auto kHigher = Orientation::kHigherIsId;

// A kFit row's value: its slot among the detectors' columns.
double FeatureValue(const LogitScores& s, int slot) {
  return s.feature[static_cast<std::size_t>(slot)];
}

// The catalogue (include/oodscore/scores.h), in the score CSV's column order.
const ScoreDef kScores[] = {
    {"energy", kLower, ScoreNeeds::kLogits, nullptr,
     [](const LogitScores& s, int) { return s.energy[0]; }, "-T*logsumexp(f/T) at T = 1",
     "Liu et al., NeurIPS 2020"},
    {"msp", kHigher, ScoreNeeds::kLogits, "log_msp",
     [](const LogitScores& s, int) { return s.msp; },
     "max softmax(f), ranked by log_msp (exact where msp rounds to 1.0)",
     "Hendrycks & Gimpel, ICLR 2017"},
    {"maxlogit", kHigher, ScoreNeeds::kLogits, nullptr,
     [](const LogitScores& s, int) { return s.maxlogit; }, "max f", "Hendrycks et al., ICML 2022"},
    {"energy_T<t>", kLower, ScoreNeeds::kTemperature, nullptr,
     [](const LogitScores& s, int slot) { return s.energy[static_cast<std::size_t>(slot)]; },
     "energy at temperature t (added by -T t)", "Liu et al., NeurIPS 2020"},
    {"log_msp", kHigher, ScoreNeeds::kRankKey, nullptr,
     [](const LogitScores& s, int) { return s.log_msp; }, "max f - logsumexp f", ""},
    {"entropy", kLower, ScoreNeeds::kLogits, nullptr,
     [](const LogitScores& s, int) { return s.entropy; }, "entropy of softmax(f)", ""},
    {"gen", kHigher, ScoreNeeds::kLogits, nullptr, [](const LogitScores& s, int) { return s.gen; },
     "-sum over the 100 largest p of p^0.1 (1-p)^0.1", "Liu et al., CVPR 2023"},
    {"odin", kHigher, ScoreNeeds::kPerturbation, nullptr,
     [](const LogitScores& s, int) { return s.odin; },
     "max softmax(f(x')/T) of the perturbed input x'", "Liang et al., ICLR 2018"},
    {"react_energy", kLower, ScoreNeeds::kFit, nullptr, FeatureValue,
     "energy of the head on z clipped at its 90th percentile", "Sun et al., NeurIPS 2021"},
    {"ash_energy", kLower, ScoreNeeds::kFit, nullptr, FeatureValue,
     "energy of the head on z pruned and scaled (ASH-S, p = 90)", "Djurisic et al., ICLR 2023"},
    {"mahalanobis", kHigher, ScoreNeeds::kFit, nullptr, FeatureValue,
     "-min over classes of the tied-covariance distance of z", "Lee et al., NeurIPS 2018"},
    {"knn", kHigher, ScoreNeeds::kFit, nullptr, FeatureValue,
     "-(distance of z/|z| to its 50th nearest training feature)^2", "Sun et al., ICML 2022"},
    {"vim", kHigher, ScoreNeeds::kFit, nullptr, FeatureValue,
     "energy less the scaled residual norm of z (ViM)", "Wang et al., CVPR 2022"},
    {"scale", kHigher, ScoreNeeds::kFit, nullptr, FeatureValue,
     "head logsumexp on z scaled by exp(sum z / sum of its top 15%)", "Xu et al., ICLR 2024"},
    {"dice", kHigher, ScoreNeeds::kFit, nullptr, FeatureValue,
     "head logsumexp, W's 90% smallest mean contributions zeroed", "Sun & Li, ECCV 2022"},
    {"vra", kHigher, ScoreNeeds::kFit, nullptr, FeatureValue,
     "head logsumexp on z clipped to [q10, q90] of ID activations", "Xu et al., NeurIPS 2023"},
    {"fdbd", kHigher, ScoreNeeds::kFit, nullptr, FeatureValue,
     "sum of logit gap / weight gap per class, over |z - ID mean|", "Liu & Qin, ICML 2024"},
    {"nci", kHigher, ScoreNeeds::kFit, nullptr, FeatureValue,
     "w_pred . (z - ID mean) / |z - ID mean| + 1e-4 |z|_1", "Liu & Qin, CVPR 2025"},
    {"gradnorm", kHigher, ScoreNeeds::kFit, nullptr, FeatureValue,
     "|z|_1 sum_k |K p_k - 1|: L1 norm of the head's KL gradient", "Huang et al., NeurIPS 2021"},
    {"she", kHigher, ScoreNeeds::kFit, nullptr, FeatureValue,
     "z . mean z of the predicted class's right predictions", "Zhang et al., ICLR 2023"},
    {"residual", kHigher, ScoreNeeds::kFit, nullptr, FeatureValue,
     "-|z's residual outside ViM's principal subspace|", "Wang et al., CVPR 2022"},
    {"rmds", kHigher, ScoreNeeds::kFit, nullptr, FeatureValue,
     "mahalanobis less the whole-data Mahalanobis term", "Ren et al., 2021"},
    {"klm", kHigher, ScoreNeeds::kFit, nullptr, FeatureValue,
     "-min over classes of KL(softmax || class's mean softmax)", "Hendrycks et al., ICML 2022"},
    {"tempscale", kHigher, ScoreNeeds::kFit, nullptr, FeatureValue,
     "max softmax(f / T), T fitted by NLL on training images", "Guo et al., ICML 2017"},
    {"relation", kHigher, ScoreNeeds::kFit, nullptr, FeatureValue,
     "sum over training images of max(zn . bn, 0) (p . p_b) above 0.03",
     "Kim et al., NeurIPS 2023"},
    {"nnguide", kHigher, ScoreNeeds::kFit, nullptr, FeatureValue,
     "logsumexp f x mean of the 100 largest zn . g over the guide bank", "Park et al., ICCV 2023"},
    {"score", kHigher, ScoreNeeds::kScoreFile, nullptr, nullptr,
     "a plain score column of another tool's file", ""},
    {"score_lower", kLower, ScoreNeeds::kScoreFile, nullptr, nullptr,
     "a plain score column of another tool's file", ""},
};

// A row a run can compute (not a rank key, nor a score file's column).
bool Computed(const ScoreDef& d) {
  return d.needs != ScoreNeeds::kRankKey && d.needs != ScoreNeeds::kScoreFile;
}

}  // namespace

const char* NeedsText(ScoreNeeds needs) {
  switch (needs) {
    case ScoreNeeds::kPerturbation:
      return "with --odin";
    case ScoreNeeds::kFit:
      return "with --fit";
    case ScoreNeeds::kTemperature:
      return "with -T t";
    default:
      return "";
  }
}

namespace {

std::vector<std::string> NamesWith(ScoreNeeds needs) {
  std::vector<std::string> v;
  for (const auto& d : kScores) {
    if (d.needs == needs) v.push_back(d.name);
  }
  return v;
}

}  // namespace

const char* OrientationText(Orientation o) {
  return o == Orientation::kHigherIsId ? "higher = ID" : "lower = ID";
}

const char* OrientationKey(Orientation o) {
  return o == Orientation::kHigherIsId ? "higher_is_id" : "lower_is_id";
}

std::optional<Orientation> ParseOrientationKey(const std::string& key) {
  for (const Orientation o : {Orientation::kHigherIsId, Orientation::kLowerIsId}) {
    if (key == OrientationKey(o)) return o;
  }
  return std::nullopt;
}

ScoreRows ScoreCatalogue() { return {kScores, std::size(kScores)}; }

const ScoreDef* FindScore(const std::string& column) {
  const bool tempered = column != "energy" && EnergyTemperature(column);
  for (const auto& d : kScores) {
    if (tempered && d.needs == ScoreNeeds::kTemperature) return &d;
  }
  if (tempered) return nullptr;
  for (const auto& d : kScores) {
    if (column == d.name && d.needs != ScoreNeeds::kTemperature) return &d;
  }
  return nullptr;
}

std::vector<ScoreColumn> RunScoreColumns(const std::vector<double>& temperatures, bool odin,
                                         bool fit) {
  std::vector<ScoreColumn> columns;
  int fit_slot = 0;
  for (const auto& d : kScores) {
    switch (d.needs) {
      case ScoreNeeds::kLogits:
      case ScoreNeeds::kRankKey:
        columns.push_back({d.name, &d, 0});
        break;
      case ScoreNeeds::kTemperature:
        for (std::size_t t = 1; t < temperatures.size(); ++t) {
          columns.push_back({EnergyColumn(temperatures[t]), &d, static_cast<int>(t)});
        }
        break;
      case ScoreNeeds::kPerturbation:
        if (odin) columns.push_back({d.name, &d, 0});
        break;
      case ScoreNeeds::kFit:
        if (fit) columns.push_back({d.name, &d, fit_slot});
        ++fit_slot;
        break;
      case ScoreNeeds::kScoreFile:
        break;
    }
  }
  return columns;
}

std::vector<std::string> DefaultReportScores(const std::vector<double>& temperatures, bool odin,
                                             bool fit) {
  std::vector<std::string> names = {"energy"};
  for (double t : temperatures) {
    const std::string name = EnergyColumn(t);
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  for (const auto& d : kScores) {
    const bool computed = d.needs == ScoreNeeds::kLogits ||
                          (d.needs == ScoreNeeds::kPerturbation && odin) ||
                          (d.needs == ScoreNeeds::kFit && fit);
    if (computed && std::string(d.name) != "energy") names.push_back(d.name);
  }
  return names;
}

std::string KnownScoresText() {
  std::string text;
  const std::size_t n = std::size(kScores);
  for (std::size_t i = 0; i < n; ++i) {
    const ScoreDef& d = kScores[i];
    if (!Computed(d)) continue;
    if (!text.empty()) text += ", ";
    text += d.name;
    if (d.needs == ScoreNeeds::kTemperature) text += " (e.g. energy_T2)";
    // A group of rows that need the same flag is named once, after its last row.
    std::size_t next = i + 1;
    while (next < n && !Computed(kScores[next])) ++next;
    const bool group_ends = next == n || kScores[next].needs != d.needs;
    if (group_ends && (d.needs == ScoreNeeds::kPerturbation || d.needs == ScoreNeeds::kFit)) {
      text += std::string(" (") + NeedsText(d.needs) + ")";
    }
  }
  return text;
}

std::string ScoreHelpText() {
  std::string text =
      "Scores, in double from the logits f (with --fit, from the penultimate features z):\n";
  for (const auto& d : kScores) {
    if (!Computed(d)) continue;
    std::string line = "  " + std::string(d.name);
    line.resize(std::max<std::size_t>(line.size() + 1, 16), ' ');
    line += d.formula;
    line += std::string("; ") + OrientationText(d.orientation);
    const std::string needs = NeedsText(d.needs);
    if (!needs.empty() && d.needs != ScoreNeeds::kTemperature) line += ", " + needs;
    text += line + "\n";
  }
  // The papers, as one paragraph wrapped at 100 columns.
  std::string papers = "Papers:", line;
  for (const auto& d : kScores) {
    if (!Computed(d) || *d.reference == '\0' || d.needs == ScoreNeeds::kTemperature) continue;
    const std::string item = std::string(" ") + d.name + " (" + d.reference + ");";
    if (papers.size() + line.size() + item.size() > 100) {
      text += papers + line + "\n";
      papers = " ";
      line.clear();
    }
    line += item;
  }
  text += papers + line.substr(0, line.size() - 1) + ".\n";
  return text;
}

const std::vector<std::string>& LogitScoreNames() {
  static const std::vector<std::string> names = NamesWith(ScoreNeeds::kLogits);
  return names;
}

const std::vector<std::string>& FeatureScoreNames() {
  static const std::vector<std::string> names = NamesWith(ScoreNeeds::kFit);
  return names;
}

bool IsFeatureScore(const std::string& name) {
  const ScoreDef* d = FindScore(name);
  return d != nullptr && d->needs == ScoreNeeds::kFit;
}

std::string CheckedScoreName(const std::string& name, const std::vector<std::string>& also) {
  const std::string canonical = CanonicalScoreName(name);
  const ScoreDef* def = FindScore(canonical);
  if (def != nullptr && Computed(*def)) return canonical;
  if (std::find(also.begin(), also.end(), canonical) != also.end()) return canonical;
  std::vector<std::string> candidates;
  for (const auto& d : kScores) {
    if (Computed(d) && d.needs != ScoreNeeds::kTemperature) candidates.push_back(d.name);
  }
  std::string known = KnownScoresText();
  for (const auto& n : also) {
    const ScoreDef* d = FindScore(n);
    if (d == nullptr || !Computed(*d)) known += ", " + n;
    candidates.push_back(n);
  }
  std::string hint = DidYouMeanClause(name, candidates);
  if (hint.empty() && name.rfind("energy", 0) == 0) {
    hint = ", did you mean 'energy_T<t>' with a temperature t > 0 (e.g. energy_T2)?";
  }
  throw UsageError("unknown score '" + name + "'" + hint + " (known: " + known + ")");
}

bool LookupScore(const std::string& column, ScoreInfo* info) {
  const ScoreDef* d = FindScore(column);
  if (d == nullptr || d->needs == ScoreNeeds::kRankKey) return false;
  *info = {column, d->orientation, d->rank_column ? d->rank_column : column};
  return true;
}

}  // namespace oodscore
