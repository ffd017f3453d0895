// OpenOOD's automatic parameter search over a fit (src/model/detector_tuning.h).
#include "model/detector_tuning.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "base/format.h"
#include "oodscore/error.h"
#include "oodscore/metrics.h"
#include "oodscore/scores.h"

namespace oodscore {

namespace {

// The fit's clips that are a percentile of all training activations, by their setting.
struct ClipRef {
  const char* key;
  double DetectorFit::*clip;
};
constexpr ClipRef kClips[] = {{"react_percentile", &DetectorFit::react_threshold},
                              {"vra_low_percentile", &DetectorFit::vra_low},
                              {"vra_high_percentile", &DetectorFit::vra_high}};
constexpr char kVimDim[] = "vim_dim";

const ClipRef* FindClip(const std::string& key) {
  for (const ClipRef& c : kClips) {
    if (key == c.key) return &c;
  }
  return nullptr;
}

const DetectorSettingDef& SettingDef(const std::string& key) {
  for (const DetectorSettingDef& def : DetectorSettingTable()) {
    if (key == def.key) return def;
  }
  throw Error("internal error: no detector setting '" + key + "'");
}

std::size_t IndexOf(const std::vector<double>& values, double v) {
  return static_cast<std::size_t>(std::find(values.begin(), values.end(), v) - values.begin());
}

// Why `fit` cannot take key = value, or "".
std::string CannotTake(const DetectorFit& fit, const std::string& key, double value) {
  if (key == "knn_k" && value > static_cast<double>(fit.bank_rows)) {
    return "knn_k " + FormatDouble(value) + " needs a bank of at least that many images (this " +
           "fit's: " + std::to_string(fit.bank_rows) + ")";
  }
  if (key == kVimDim && value >= fit.head.dim) {
    return "vim_dim " + FormatDouble(value) +
           " needs features of more dimensions (these: " + std::to_string(fit.head.dim) + ")";
  }
  return "";
}

// Sets key = value in fit->settings, with the statistics that follow from it.
void Apply(DetectorFit* fit, const FitAlternatives& alt, const std::string& key, double value) {
  SettingDef(key).Set(&fit->settings, value);
  if (const ClipRef* clip = FindClip(key)) {
    const std::size_t i = IndexOf(alt.percentiles, value);
    if (i >= alt.activation_percentiles.size()) {
      throw Error("internal error: no training percentile " + FormatDouble(value));
    }
    fit->*clip->clip = alt.activation_percentiles[i];
  } else if (key == kVimDim) {
    const auto it = std::find(alt.vim_dims.begin(), alt.vim_dims.end(), static_cast<int>(value));
    const std::size_t i = static_cast<std::size_t>(it - alt.vim_dims.begin());
    if (i >= alt.vim_complements.size()) {
      throw Error("internal error: no ViM subspace of dimension " + FormatDouble(value));
    }
    fit->vim_dim = static_cast<int>(value);
    fit->vim_complement = alt.vim_complements[i];
    fit->vim_alpha = alt.vim_alphas[i];
  }
}

// What Apply changes in a fit (a copy of it without its banks), and back.
DetectorFit FitStatistics(const DetectorFit& fit) {
  DetectorFit s;
  s.settings = fit.settings;
  for (const ClipRef& c : kClips) s.*c.clip = fit.*c.clip;
  s.vim_dim = fit.vim_dim;
  s.vim_complement = fit.vim_complement;
  s.vim_alpha = fit.vim_alpha;
  return s;
}
void RestoreStatistics(const DetectorFit& s, DetectorFit* fit) {
  fit->settings = s.settings;
  for (const ClipRef& c : kClips) fit->*c.clip = s.*c.clip;
  fit->vim_dim = s.vim_dim;
  fit->vim_complement = s.vim_complement;
  fit->vim_alpha = s.vim_alpha;
}

// `column` of `n` feature rows, oriented so that higher means ID.
std::vector<double> OrientedColumn(FeatureScorer& scorer, std::size_t column, std::size_t columns,
                                   const float* features, std::int64_t n, int dim,
                                   Orientation orientation) {
  constexpr std::int64_t kBatch = 1024;
  std::vector<double> scores, block;
  scores.reserve(static_cast<std::size_t>(n));
  for (std::int64_t first = 0; first < n; first += kBatch) {
    const int rows = static_cast<int>(std::min(kBatch, n - first));
    scorer.Score(features + first * dim, rows, &block);
    for (int r = 0; r < rows; ++r) {
      scores.push_back(Orient(block[static_cast<std::size_t>(r) * columns + column], orientation));
    }
  }
  return scores;
}

// The combinations of `sweep`'s axes in OpenOOD's order: the first axis varies fastest.
std::vector<std::vector<double>> Combinations(const DetectorSweep& sweep) {
  std::vector<std::vector<double>> out = {{}};
  for (const SweepAxis& axis : sweep.axes) {
    std::vector<std::vector<double>> next;
    for (double v : axis.values) {
      for (const auto& prefix : out) {
        next.push_back(prefix);
        next.back().push_back(v);
      }
    }
    out = std::move(next);
  }
  return out;
}

}  // namespace

const std::vector<DetectorSweep>& DetectorSweepTable() {
  // OpenOOD v1.5 configs/postprocessors/*.yml with APS_mode: True. DICE's and NNGuide's lists
  // hold one value each (APS_mode: False): nothing to search.
  static const std::vector<DetectorSweep> table = {
      {"react_energy", {{"react_percentile", {85, 90, 95, 99}}}},
      {"ash_energy", {{"ash_percentile", {65, 70, 75, 80, 85, 90, 95}}}},
      {"scale", {{"scale_percentile", {65, 70, 75, 80, 85, 90, 95}}}},
      {"vra", {{"vra_high_percentile", {85, 90, 95, 99}}, {"vra_low_percentile", {1, 5, 10, 15}}}},
      {"knn", {{"knn_k", {50, 100, 200, 500, 1000}}}},
      {"vim", {{kVimDim, {256, 1000}}}},
      {"fdbd", {{"fdbd_distance", {1, 0}}}},
      {"nci", {{"nci_alpha", {1e-4, 1e-3, 1e-2, 1e-1}}}},
      {"relation", {{"relation_pow", {1, 2, 4, 6, 8}}}},
  };
  return table;
}

FitAlternatives SweepAlternatives(int dim) {
  FitAlternatives alt;
  for (const DetectorSweep& sweep : DetectorSweepTable()) {
    for (const SweepAxis& axis : sweep.axes) {
      for (double v : axis.values) {
        if (FindClip(axis.key) && IndexOf(alt.percentiles, v) == alt.percentiles.size()) {
          alt.percentiles.push_back(v);
        } else if (axis.key == std::string(kVimDim) && v < dim &&
                   std::find(alt.vim_dims.begin(), alt.vim_dims.end(), static_cast<int>(v)) ==
                       alt.vim_dims.end()) {
          alt.vim_dims.push_back(static_cast<int>(v));
        }
      }
    }
  }
  return alt;
}

DetectorTuning TuneDetectors(DetectorFit* fit, const FitAlternatives& alternatives,
                             const float* id_features, std::int64_t n_id, const float* ood_features,
                             std::int64_t n_ood, const std::string& device) {
  if (n_id == 0 || n_ood == 0) {
    throw Error(std::string("the tuning needs images in both validation sets; the ") +
                (n_id == 0 ? "ID" : "OOD") + " set has none that could be scored");
  }
  const std::vector<std::string>& names = FeatureScoreNames();
  DetectorTuning tuning;
  for (const DetectorSweep& sweep : DetectorSweepTable()) {
    const std::size_t column = static_cast<std::size_t>(
        std::find(names.begin(), names.end(), sweep.column) - names.begin());
    const ScoreDef* def = FindScore(sweep.column);
    if (column == names.size() || !def) {
      throw Error(std::string("internal error: no feature score '") + sweep.column + "'");
    }
    const DetectorFit before = FitStatistics(*fit);
    std::optional<std::size_t> best;  // the index of the first best trial
    for (const std::vector<double>& values : Combinations(sweep)) {
      TuningTrial trial;
      trial.column = sweep.column;
      for (std::size_t a = 0; a < values.size(); ++a) {
        trial.settings.emplace_back(sweep.axes[a].key, values[a]);
        if (trial.skipped.empty()) trial.skipped = CannotTake(*fit, sweep.axes[a].key, values[a]);
      }
      if (trial.skipped.empty()) {
        for (const auto& [key, value] : trial.settings) Apply(fit, alternatives, key, value);
        std::unique_ptr<FeatureScorer> scorer = MakeFeatureScorer(*fit, device, {sweep.column});
        const std::vector<double> id = OrientedColumn(*scorer, column, names.size(), id_features,
                                                      n_id, fit->head.dim, def->orientation);
        const std::vector<double> ood = OrientedColumn(*scorer, column, names.size(), ood_features,
                                                       n_ood, fit->head.dim, def->orientation);
        try {
          trial.auroc = ComputeMetrics(id, ood, MetricOptions{}).auroc;
          if (!best || trial.auroc > tuning.trials[*best].auroc) best = tuning.trials.size();
        } catch (const Error& e) {  // a NaN score
          trial.skipped = e.what();
        }
      }
      tuning.trials.push_back(std::move(trial));
    }
    // The best combination stays; when none could be scored, the fit's own settings do.
    RestoreStatistics(before, fit);
    if (best) {
      tuning.trials[*best].chosen = true;
      for (const auto& [key, value] : tuning.trials[*best].settings) {
        Apply(fit, alternatives, key, value);
      }
    }
  }
  return tuning;
}

std::string TuningTable(const DetectorTuning& tuning) {
  std::string out;
  for (const TuningTrial& t : tuning.trials) {
    std::string settings;
    for (const auto& [key, value] : t.settings) {
      settings += (settings.empty() ? "" : " ") + key + "=" + FormatDouble(value);
    }
    out += "  " + t.column + std::string(t.column.size() < 13 ? 13 - t.column.size() : 1, ' ') +
           settings + "  " + (t.skipped.empty() ? FormatDouble(t.auroc) : "skipped: " + t.skipped) +
           (t.chosen ? "  (chosen)" : "") + "\n";
  }
  if (!out.empty()) out.pop_back();  // the log adds its own
  return out;
}

}  // namespace oodscore
