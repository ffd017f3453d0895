#include "oodscore/scores.h"

#include <algorithm>
#include <functional>
#include <vector>
#include <cmath>
#include <limits>

#include "oodscore/error.h"
#include "oodscore/format.h"
#include "oodscore/suggest.h"

namespace oodscore {

namespace {

// The feature-space detectors' columns (include/oodscore/detectors.h), and their orientation.
struct FeatureScore {
  const char* name;
  Orientation orientation;
};
constexpr FeatureScore kFeatureScores[] = {{"react_energy", Orientation::kLowerIsId},
                                           {"ash_energy", Orientation::kLowerIsId},
                                           {"mahalanobis", Orientation::kHigherIsId},
                                           {"knn", Orientation::kHigherIsId},
                                           {"vim", Orientation::kHigherIsId}};

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
    weighted += e * d;
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
  for (int i = 0; i < k; ++i) s += std::exp((static_cast<double>(logits[i]) - max_logit) / temperature);
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

const std::vector<std::string>& LogitScoreNames() {
  static const std::vector<std::string> names = {"energy", "msp", "maxlogit", "entropy", "gen"};
  return names;
}

const std::vector<std::string>& FeatureScoreNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& n : kFeatureScores) v.push_back(n.name);
    return v;
  }();
  return names;
}

bool IsFeatureScore(const std::string& name) {
  for (const auto& n : kFeatureScores) {
    if (name == n.name) return true;
  }
  return false;
}

std::string CheckedScoreName(const std::string& name, const std::vector<std::string>& also) {
  const std::string canonical = CanonicalScoreName(name);
  if (EnergyTemperature(canonical)) return canonical;
  if (canonical == "odin") return canonical;      // computed by runs with --odin
  if (IsFeatureScore(canonical)) return canonical;  // computed by runs with --fit
  for (const auto* list : {&LogitScoreNames(), &also}) {
    for (const auto& n : *list) {
      if (n == canonical) return canonical;
    }
  }
  std::vector<std::string> candidates = LogitScoreNames();
  for (const auto& n : kFeatureScores) candidates.push_back(n.name);
  candidates.insert(candidates.end(), also.begin(), also.end());
  std::string known =
      "energy, energy_T<t> (e.g. energy_T2), msp, maxlogit, entropy, gen, odin (with --odin), "
      "react_energy, ash_energy, mahalanobis, knn, vim (with --fit)";
  for (const auto& n : also) {
    if (std::find(LogitScoreNames().begin(), LogitScoreNames().end(), n) ==
            LogitScoreNames().end() &&
        !EnergyTemperature(n) && !IsFeatureScore(n) && n != "odin") {
      known += ", " + n;
    }
  }
  std::string hint = DidYouMeanClause(name, candidates);
  if (hint.empty() && name.rfind("energy", 0) == 0) {
    hint = ", did you mean 'energy_T<t>' with a temperature t > 0 (e.g. energy_T2)?";
  }
  throw UsageError("unknown score '" + name + "'" + hint + " (known: " + known + ")");
}

bool LookupScore(const std::string& column, ScoreInfo* info) {
  if (EnergyTemperature(column)) {
    *info = {column, Orientation::kLowerIsId, column};
    return true;
  }
  if (column == "msp") {
    *info = {column, Orientation::kHigherIsId, "log_msp"};
    return true;
  }
  if (column == "maxlogit") {
    *info = {column, Orientation::kHigherIsId, column};
    return true;
  }
  // Plain user scores (metrics --id-file): "score" is higher = ID, "score_lower" lower = ID.
  if (column == "score") {
    *info = {column, Orientation::kHigherIsId, column};
    return true;
  }
  if (column == "score_lower") {
    *info = {column, Orientation::kLowerIsId, column};
    return true;
  }
  if (column == "entropy") {
    *info = {column, Orientation::kLowerIsId, column};
    return true;
  }
  if (column == "gen" || column == "odin") {
    *info = {column, Orientation::kHigherIsId, column};
    return true;
  }
  for (const auto& n : kFeatureScores) {
    if (column == n.name) {
      *info = {column, n.orientation, column};
      return true;
    }
  }
  return false;
}

}  // namespace oodscore
