#include "oodscore/report.h"

#include <cmath>
#include <cstdio>

#include "oodscore/error.h"
#include "oodscore/format.h"
#include "oodscore/version.h"

namespace oodscore {

Report BuildReport(const ReportInput& input) {
  Report r;
  r.options = input.options;
  r.scores = input.scores;
  r.id_name = input.id.name;
  if (input.scores.empty()) throw Error("no scores to report");
  if (input.ood.empty()) throw Error("no OOD set to compare ID set '" + input.id.name + "' with");
  r.n_id = input.id.oriented.at(0).size();
  if (r.n_id == 0) throw Error("ID set '" + input.id.name + "' has no samples");
  for (const auto& id : input.id.oriented) {
    r.id_thresholds.push_back(ThresholdFromId(id, input.options.tpr));
  }
  r.mean.assign(input.scores.size(), Metrics{});
  for (const SetScores& set : input.ood) {
    Report::OodResult res;
    res.name = set.name;
    res.n = set.oriented.at(0).size();
    if (res.n == 0) throw Error("OOD set '" + set.name + "' has no samples");
    for (std::size_t s = 0; s < input.scores.size(); ++s) {
      try {
        res.metrics.push_back(ComputeMetrics(input.id.oriented[s], set.oriented[s], input.options));
      } catch (const Error& e) {
        throw Error("set '" + set.name + "', score '" + input.scores[s].name + "': " + e.what());
      }
    }
    r.ood.push_back(std::move(res));
  }
  const double n = static_cast<double>(r.ood.size());
  for (std::size_t s = 0; s < input.scores.size(); ++s) {
    Metrics& m = r.mean[s];
    m.n_id = r.n_id;
    m.auroc = m.aupr_in = m.aupr_out = m.fpr_at_tpr = m.detection_error = 0;
    m.tpr_achieved = m.threshold = std::nan("");
    m.aupr_is_trapezoid = r.ood[0].metrics[s].aupr_is_trapezoid;
    for (const auto& o : r.ood) {
      const Metrics& x = o.metrics[s];
      m.n_ood += x.n_ood;
      m.auroc += x.auroc / n;
      m.aupr_in += x.aupr_in / n;
      m.aupr_out += x.aupr_out / n;
      m.fpr_at_tpr += x.fpr_at_tpr / n;
      m.detection_error += x.detection_error / n;
    }
  }
  return r;
}

double RawThreshold(const ScoreInfo& score, double oriented) {
  if (score.rank_column == "log_msp" && score.name == "msp") return std::exp(oriented);
  return Orient(oriented, score.orientation);
}

std::string AcceptRule(const ScoreInfo& score, double raw, bool strict) {
  const bool higher = score.orientation == Orientation::kHigherIsId;
  return score.name + (higher ? (strict ? " > " : " >= ") : (strict ? " < " : " <= ")) +
         FormatDouble(raw);
}

const std::vector<std::string>& MetricNames() {
  static const std::vector<std::string> names = {
      "auroc", "aupr_in", "aupr_out", "fpr_at_tpr", "detection_error", "threshold", "tpr_achieved"};
  return names;
}

std::optional<double> MetricValue(const Metrics& m, const std::string& name) {
  if (name == "auroc") return m.auroc;
  if (name == "aupr_in") return m.aupr_in;
  if (name == "aupr_out") return m.aupr_out;
  if (name == "fpr_at_tpr") return m.fpr_at_tpr;
  if (name == "detection_error") return m.detection_error;
  if (name == "threshold") return m.threshold;
  if (name == "tpr_achieved") return m.tpr_achieved;
  return std::nullopt;
}

namespace {

// JSON cannot hold NaN or Inf: write them as null.
nlohmann::json Num(double v) {
  if (!std::isfinite(v)) return nullptr;
  return v;
}

nlohmann::json MetricsJson(const Metrics& m, const ScoreInfo& score, bool with_threshold,
                           bool ood_positive) {
  nlohmann::json j;
  j["auroc"] = Num(m.auroc);
  j["aupr_in"] = Num(m.aupr_in);
  j["aupr_out"] = Num(m.aupr_out);
  j["fpr_at_tpr"] = Num(m.fpr_at_tpr);
  if (with_threshold) {
    const double raw = RawThreshold(score, m.threshold);
    j["threshold"] = Num(raw);
    j["accept_as_id"] = AcceptRule(score, raw, ood_positive);
    j["tpr_achieved"] = Num(m.tpr_achieved);
  }
  j["detection_error"] = Num(m.detection_error);
  if (m.has_ci) {
    j["ci95"] = {{"auroc", {Num(m.auroc_ci.lo), Num(m.auroc_ci.hi)}},
                 {"fpr_at_tpr", {Num(m.fpr_ci.lo), Num(m.fpr_ci.hi)}}};
  }
  return j;
}

std::string Percent(double v) {
  if (!std::isfinite(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", 100.0 * v);
  return buf;
}

}  // namespace

nlohmann::json ReportJson(const Report& r) {
  nlohmann::json j;
  j["tool"] = {{"name", "oodscore"}, {"version", ToolVersion()}, {"commit", GitCommit()}};
  j["tpr_level"] = r.options.tpr;
  j["fpr_convention"] = ConventionName(r.options.convention);
  j["positive_class"] = ConventionPositiveClass(r.options.convention);
  const bool trapezoid =
      !r.ood.empty() && !r.scores.empty() && r.ood[0].metrics[0].aupr_is_trapezoid;
  j["aupr_method"] = trapezoid ? "trapezoid" : "average_precision";
  if (r.options.bootstrap > 0) {
    j["bootstrap"] = {{"resamples", r.options.bootstrap},
                      {"seed", r.options.seed},
                      {"interval", "percentile 95%"}};
  }
  nlohmann::json scores = nlohmann::json::object();
  for (std::size_t s = 0; s < r.scores.size(); ++s) {
    const ScoreInfo& info = r.scores[s];
    const IdThreshold& t = r.id_thresholds[s];
    const double raw = RawThreshold(info, t.threshold);
    scores[info.name] = {
        {"orientation",
         info.orientation == Orientation::kHigherIsId ? "higher_is_id" : "lower_is_id"},
        {"ranked_by", info.rank_column},
        {"id_threshold",
         {{"threshold", Num(raw)},
          {"accept_as_id", AcceptRule(info, raw)},
          {"tpr_target", r.options.tpr},
          {"tpr_achieved", Num(t.tpr_achieved)},
          {"n", t.n}}}};
  }
  j["scores"] = scores;
  j["id"] = {{"name", r.id_name}, {"n", r.n_id}};
  if (r.id_accuracy) j["id"]["accuracy"] = *r.id_accuracy;
  nlohmann::json ood = nlohmann::json::array();
  for (const auto& o : r.ood) {
    nlohmann::json metrics = nlohmann::json::object();
    for (std::size_t s = 0; s < r.scores.size(); ++s) {
      metrics[r.scores[s].name] =
          MetricsJson(o.metrics[s], r.scores[s], true,
                      std::string(ConventionPositiveClass(r.options.convention)) == "ood");
    }
    ood.push_back({{"name", o.name}, {"n", o.n}, {"metrics", metrics}});
  }
  j["ood"] = ood;
  nlohmann::json mean = nlohmann::json::object();
  for (std::size_t s = 0; s < r.scores.size(); ++s) {
    mean[r.scores[s].name] = MetricsJson(r.mean[s], r.scores[s], false, false);
  }
  j["mean"] = mean;
  if (!r.checks.empty()) {
    nlohmann::json checks = nlohmann::json::array();
    bool all = true;
    for (const auto& c : r.checks) {
      checks.push_back({{"kind", c.kind},
                        {"expr", c.expr},
                        {"value", Num(c.value)},
                        {"pass", c.pass},
                        {"message", c.message}});
      all = all && c.pass;
    }
    j["checks"] = checks;
    j["checks_passed"] = all;
  }
  j["run"] = r.run;
  return j;
}

std::string ReportMarkdown(const Report& r) {
  std::string md;
  const bool trapezoid = !r.ood.empty() && r.ood[0].metrics[0].aupr_is_trapezoid;
  char tpr[16];
  std::snprintf(tpr, sizeof(tpr), "%g", 100.0 * r.options.tpr);
  md += "ID: " + r.id_name + " (n=" + std::to_string(r.n_id) + ")";
  if (r.id_accuracy) md += ", accuracy " + Percent(*r.id_accuracy) + "%";
  md += ". FPR at " + std::string(tpr) + "% TPR, convention " +
        ConventionName(r.options.convention) +
        " (positive class: " + ConventionPositiveClass(r.options.convention) + "); AUPR " +
        (trapezoid ? "by trapezoids" : "as average precision") + ". Values in %.\n";
  md += "Scores:";
  for (std::size_t s = 0; s < r.scores.size(); ++s) {
    md +=
        std::string(s ? "," : "") + " " + r.scores[s].name +
        (r.scores[s].orientation == Orientation::kHigherIsId ? " (higher = ID)" : " (lower = ID)");
  }
  md += "; every score is ranked oriented so that higher = ID.\n\n";
  md += "| OOD set | n | score | FPR" + std::string(tpr) +
        " ↓ | AUROC ↑ | AUPR-In ↑ | AUPR-Out ↑ | DetErr ↓ |\n";
  md += "|---|---:|---|---:|---:|---:|---:|---:|\n";
  auto row = [&](const std::string& set, std::size_t n, const std::string& score,
                 const Metrics& m) {
    std::string fpr = Percent(m.fpr_at_tpr), auroc = Percent(m.auroc);
    if (m.has_ci) {
      fpr += " [" + Percent(m.fpr_ci.lo) + ", " + Percent(m.fpr_ci.hi) + "]";
      auroc += " [" + Percent(m.auroc_ci.lo) + ", " + Percent(m.auroc_ci.hi) + "]";
    }
    md += "| " + set + " | " + std::to_string(n) + " | " + score + " | " + fpr + " | " + auroc +
          " | " + Percent(m.aupr_in) + " | " + Percent(m.aupr_out) + " | " +
          Percent(m.detection_error) + " |\n";
  };
  for (const auto& o : r.ood) {
    for (std::size_t s = 0; s < r.scores.size(); ++s)
      row(o.name, o.n, r.scores[s].name, o.metrics[s]);
  }
  {  // A mean row also for one OOD set, so that tables from different runs line up.
    for (std::size_t s = 0; s < r.scores.size(); ++s) {
      row("**mean**", r.mean[s].n_ood, r.scores[s].name, r.mean[s]);
    }
  }
  md += "\nID-calibrated thresholds (" + std::string(tpr) + "% of ID accepted):";
  for (std::size_t s = 0; s < r.scores.size(); ++s) {
    const auto& t = r.id_thresholds[s];
    md += (s ? "; " : " ") + AcceptRule(r.scores[s], RawThreshold(r.scores[s], t.threshold)) +
          " (achieved TPR " + Percent(t.tpr_achieved) + "%)";
  }
  md += "\n";
  if (!r.checks.empty()) {
    md += "\n| check | value | verdict |\n|---|---:|---|\n";
    for (const auto& c : r.checks) {
      md += "| `" + c.expr + "` | " + FormatDouble(c.value) + " | " +
            (c.pass ? "pass" : "**FAIL**: " + c.message) + " |\n";
    }
  }
  return md;
}

}  // namespace oodscore
