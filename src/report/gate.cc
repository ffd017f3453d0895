#include "oodscore/gate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "base/format.h"
#include "base/suggest.h"
#include "oodscore/delong.h"
#include "oodscore/error.h"

namespace oodscore {

namespace {

const char* const kOps[] = {">=", "<=", "==", ">", "<"};

bool Compare(double v, const std::string& op, double bound) {
  if (op == ">=") return v >= bound;
  if (op == "<=") return v <= bound;
  if (op == ">") return v > bound;
  if (op == "<") return v < bound;
  return v == bound;
}

std::string Trim(const std::string& s) {
  std::size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

bool IsMetric(const std::string& m) {
  for (const auto& n : MetricNames()) {
    if (n == m) return true;
  }
  return false;
}

bool IsSetMetric(const std::string& m) {
  for (const auto& n : SetMetricNames()) {
    if (n == m) return true;
  }
  return false;
}

// "0.9 or 90%" for a value v written bare.
std::string FractionOrPercent(double v) {
  return FormatDouble(v / 100) + " or " + FormatDouble(v) + "%";
}

}  // namespace

const std::vector<std::string>& SetMetricNames() {
  static const std::vector<std::string> names = {"n", "found", "skipped", "accuracy"};
  return names;
}

double ParseMetricValue(const std::string& text, const std::string& metric,
                        const std::string& what) {
  std::string t = Trim(text);
  const bool percent = !t.empty() && t.back() == '%';
  if (percent) t = Trim(t.substr(0, t.size() - 1));
  const auto v = ParseDouble(t);
  if (!v || !std::isfinite(*v)) {
    throw UsageError(what + ": '" + text + "' is not a number");
  }
  if (!IsRateMetric(metric)) {
    if (percent) {
      throw UsageError(what + ": " + metric + " is not a share, so '" + text +
                       "' cannot be a percentage; write a plain number");
    }
    return *v;
  }
  if (percent) {
    if (*v < 0 || *v > 100) {
      throw UsageError(what + ": " + metric + " is a share, and " + text +
                       " is not between 0% and 100%");
    }
    return *v / 100;
  }
  if (*v < 0 || *v > 1) {
    throw UsageError(what + ": " + metric + " is a share, written as a fraction in [0, 1] or in " +
                     "percent, and " + t + " is neither; did you mean " + FractionOrPercent(*v) +
                     "?");
  }
  return *v;
}

Gate ParseGate(const std::string& text, const std::vector<std::string>& score_names) {
  Gate g;
  g.text = text;
  std::size_t pos = std::string::npos;
  for (const char* op : kOps) {
    pos = text.find(op);
    if (pos != std::string::npos) {
      g.op = op;
      break;
    }
  }
  if (pos == std::string::npos) {
    throw UsageError("gate '" + text +
                     "': expected [SET.]SCORE.METRIC followed by >=, <=, >, < or =="
                     " and a number, e.g. 'energy.auroc>=0.95' or 'energy.auroc>=95%'");
  }
  const std::string lhs = Trim(text.substr(0, pos));
  const std::string rhs = text.substr(pos + g.op.size());
  g.bound_text = Trim(rhs);
  const std::string what = "gate '" + text + "'";
  const std::size_t dot = lhs.rfind('.');
  g.metric = dot == std::string::npos ? lhs : lhs.substr(dot + 1);
  if (g.metric == "fpr95") {  // the name tables print: fpr_at_tpr at 95% TPR
    g.metric = "fpr_at_tpr";
    g.fpr95 = true;
  }
  if (IsSetMetric(g.metric)) {
    g.set = dot == std::string::npos ? "" : lhs.substr(0, dot);
    if (g.metric == "accuracy" && g.set != "id") {
      throw UsageError(what + ": accuracy is the ID set's; write 'id.accuracy'");
    }
    if (g.set == "mean") {
      throw UsageError(what + ": the mean row has no " + g.metric + " (it is per set)");
    }
    g.bound = ParseMetricValue(rhs, g.metric, what);
    return g;
  }
  if (dot == std::string::npos) {
    throw UsageError(what + ": expected [SET.]SCORE.METRIC on the left, got '" + lhs + "'");
  }
  if (!IsMetric(g.metric)) {
    std::vector<std::string> all = MetricNames();
    all.insert(all.end(), SetMetricNames().begin(), SetMetricNames().end());
    throw UsageError(what + ": unknown metric '" + g.metric + "'" +
                     DidYouMeanClause(g.metric, all) + " (expected one of " +
                     JoinNames(MetricNames()) + "; or n, found, skipped for a set)");
  }
  g.bound = ParseMetricValue(rhs, g.metric, what);
  const std::string prefix = lhs.substr(0, dot);
  for (const auto& s : score_names) {
    if (prefix == s) {
      g.score = s;
      return g;
    }
  }
  for (const auto& s : score_names) {
    if (prefix.size() > s.size() + 1 &&
        prefix.compare(prefix.size() - s.size(), s.size(), s) == 0 &&
        prefix[prefix.size() - s.size() - 1] == '.') {
      g.score = s;
      g.set = prefix.substr(0, prefix.size() - s.size() - 1);
      if (g.set == "mean" && (g.metric == "threshold" || g.metric == "tpr_achieved")) {
        throw UsageError(what + ": the mean row has no " + g.metric + " (it is per OOD set)");
      }
      return g;
    }
  }
  const std::string last = prefix.substr(prefix.rfind('.') + 1);
  if (const ScoreDef* def = FindScore(last); def != nullptr && *NeedsText(def->needs) != '\0') {
    throw UsageError(what + ": score '" + last + "' is not in this report: it is computed only " +
                     NeedsText(def->needs) + " (scores in this report: " + JoinNames(score_names) +
                     ")");
  }
  throw UsageError(what + ": no score named in '" + prefix + "'" +
                   DidYouMeanClause(last, score_names) +
                   " (scores in this report: " + JoinNames(score_names) + ")");
}

std::vector<CheckResult> EvaluateGates(const std::vector<Gate>& gates, const Report& report) {
  std::vector<CheckResult> out;
  for (const Gate& g : gates) {
    if (g.fpr95 && report.options.tpr != 0.95) {
      throw UsageError("gate '" + g.text +
                       "': fpr95 is the FPR at 95% TPR, and this report's "
                       "--tpr is " +
                       FormatDouble(report.options.tpr) + ": write fpr_at_tpr");
    }
    const bool rate = IsRateMetric(g.metric);
    auto add = [&](const std::string& subject, double v) {
      CheckResult c;
      c.kind = "gate";
      c.expr = g.text;
      c.subject = subject;
      c.value = v;
      c.rate = rate;
      c.allowed = g.op + " " + g.bound_text;
      c.pass = std::isfinite(v) && Compare(v, g.op, g.bound);
      // The check table's rounding, with more digits where it would show the bound itself.
      const bool ambiguous = ShowValue(v, rate) == ShowValue(g.bound, rate);
      c.message = subject + " = " + ShowValue(v, rate, ambiguous ? 8 : 4) +
                  (c.pass ? " satisfies " : " violates ") + "'" + g.text + "'";
      out.push_back(c);
    };
    std::vector<std::string> set_names;
    for (const auto& s : report.sets) set_names.push_back(s.name);
    if (g.metric == "accuracy") {
      if (!report.id_accuracy) {
        throw UsageError("gate '" + g.text + "': the ID set has no labels, so no accuracy");
      }
      add("id.accuracy", *report.id_accuracy);
      continue;
    }
    if (g.score.empty()) {  // n, found, skipped
      bool found = false;
      for (std::size_t i = 0; i < report.sets.size(); ++i) {
        const SetCounts& c = report.sets[i];
        const bool match = g.set.empty() || g.set == c.name || (g.set == "id" && i == 0);
        if (!match) continue;
        found = true;
        const double v = g.metric == "n"       ? static_cast<double>(c.scored)
                         : g.metric == "found" ? static_cast<double>(c.found)
                                               : static_cast<double>(c.skipped);
        add(c.name + "." + g.metric, v);
      }
      if (!found) {
        throw UsageError("gate '" + g.text + "': no set named '" + g.set + "'" +
                         DidYouMeanClause(g.set, set_names) + " (sets: " + JoinNames(set_names) +
                         ", or 'id')");
      }
      continue;
    }
    std::size_t s = 0;
    while (s < report.scores.size() && report.scores[s].name != g.score) ++s;
    if (s == report.scores.size()) {
      throw UsageError("gate '" + g.text + "': the report has no score '" + g.score + "'");
    }
    if (g.set == "mean") {
      add("mean." + g.score + "." + g.metric, MetricValue(report.mean[s], g.metric).value());
      continue;
    }
    const auto group =
        std::find_if(report.groups.begin(), report.groups.end(),
                     [&](const Report::GroupResult& x) { return x.group.name == g.set; });
    if (group != report.groups.end()) {
      if (g.metric == "threshold" || g.metric == "tpr_achieved") {
        throw UsageError("gate '" + g.text + "': group " + g.set + "'s mean row has no " +
                         g.metric + " (it is per OOD set)");
      }
      add(g.set + "." + g.score + "." + g.metric, MetricValue(group->mean[s], g.metric).value());
      continue;
    }
    // Thresholds are compared in the score's own units, as the report prints them.
    auto value = [&](const Metrics& m) {
      const double v = MetricValue(m, g.metric).value();
      return g.metric == "threshold" ? RawThreshold(report.scores[s], v) : v;
    };
    bool found = false;
    for (const auto& o : report.ood) {
      if (!g.set.empty() && o.name != g.set) continue;
      found = true;
      add(o.name + "." + g.score + "." + g.metric, value(o.metrics[s]));
    }
    if (!found) {
      std::vector<std::string> names;
      for (const auto& o : report.ood) names.push_back(o.name);
      for (const auto& x : report.groups) names.push_back(x.group.name);
      throw UsageError("gate '" + g.text + "': no OOD set or group named '" + g.set + "'" +
                       DidYouMeanClause(g.set, names) + " (sets and groups: " + JoinNames(names) +
                       ", or 'mean')");
    }
  }
  return out;
}

std::pair<std::string, double> ParseTolerance(const std::string& text) {
  const std::size_t eq = text.find('=');
  if (eq == std::string::npos) {
    throw UsageError("tolerance '" + text +
                     "': expected METRIC=DELTA, e.g. 'auroc=0.005' or 'auroc=0.5%'");
  }
  std::string metric = Trim(text.substr(0, eq));
  if (metric == "fpr95") metric = "fpr_at_tpr";  // baselines compare at the run's --tpr
  if (!IsMetric(metric)) {
    throw UsageError("tolerance '" + text + "': unknown metric '" + metric + "'" +
                     DidYouMeanClause(metric, MetricNames()) + " (expected one of " +
                     JoinNames(MetricNames()) + ")");
  }
  const double v = ParseMetricValue(text.substr(eq + 1), metric, "tolerance '" + text + "'");
  if (!(v >= 0)) throw UsageError("tolerance '" + text + "': delta must be >= 0");
  return {metric, v};
}

std::vector<CheckResult> SkippedChecks(const std::vector<SetCounts>& sets, double max_share) {
  std::vector<CheckResult> out;
  for (const SetCounts& s : sets) {
    CheckResult c;
    c.kind = "skipped";
    c.subject = c.expr = s.name + ".skipped_share";
    c.value = s.SkippedShare();
    c.rate = true;
    c.allowed = "<= " + ShowValue(max_share, true, 6) + " (--max-skipped)";
    c.pass = c.value <= max_share;
    c.message = "set '" + s.name + "': " + std::to_string(s.skipped) + " of " +
                std::to_string(s.found) + " files skipped (" + ShowValue(c.value, true) + ")" +
                (c.pass ? ", within" : ", more than") + " --max-skipped " +
                ShowValue(max_share, true, 6);
    out.push_back(c);
  }
  return out;
}

namespace {

// A set of the baseline (report.json "sets"): its counts and samples_digest.
struct BaselineSet {
  double found = 0, scored = 0;
  std::string digest;  // "" = none recorded
};

std::map<std::string, BaselineSet> BaselineSets(const nlohmann::json& baseline) {
  std::map<std::string, BaselineSet> out;
  if (!baseline.contains("sets") || !baseline["sets"].is_array()) return out;
  for (const auto& s : baseline["sets"]) {
    if (!s.is_object() || !s.contains("name") || !s["name"].is_string() || !s.contains("scored") ||
        !s["scored"].is_number() || !s.contains("found") || !s["found"].is_number()) {
      continue;
    }
    const auto& d = s.contains("samples_digest") ? s["samples_digest"] : nlohmann::json();
    out[s["name"].get<std::string>()] = {s["found"].get<double>(), s["scored"].get<double>(),
                                         d.is_string() ? d.get<std::string>() : ""};
  }
  return out;
}

// A set scored on other samples than the baseline's compares two different measurements.
std::vector<CheckResult> SampleChecks(const nlohmann::json& baseline, const Report& report,
                                      bool allow_resample) {
  std::vector<CheckResult> out;
  const auto old_sets = BaselineSets(baseline);
  for (const SetCounts& set : report.sets) {
    const auto old = old_sets.find(set.name);
    if (old == old_sets.end()) continue;
    const BaselineSet& was = old->second;
    CheckResult c;
    c.kind = "baseline";
    c.expr = c.subject = set.name + ".samples";
    c.value = static_cast<double>(set.found);
    c.baseline = was.found;
    c.allowed = allow_resample ? "any (--baseline-allow-resample)" : "the baseline's samples";
    // Files found is what the data is; files skipped (decoding) is the run's own doing, which
    // the skipped checks judge, so it must not read as other data.
    const bool same_scored = static_cast<double>(set.scored) == was.scored;
    const bool digests = !set.samples_digest.empty() && !was.digest.empty();
    std::string differs;
    if (static_cast<double>(set.found) != was.found) {
      differs =
          std::to_string(set.found) + " files found, the baseline had " + FormatDouble(was.found);
    } else if (same_scored && digests && set.samples_digest != was.digest) {
      differs = "the same count (" + std::to_string(set.found) +
                ") but other samples or paths than the baseline's (samples_digest " +
                set.samples_digest + " vs " + was.digest + ")";
    }
    c.pass = differs.empty() || allow_resample;
    if (!differs.empty()) {
      c.message = "set '" + set.name + "': " + differs +
                  (allow_resample ? "; compared anyway (--baseline-allow-resample)"
                                  : ": the baseline was made on other data, so its changes "
                                    "are not the model's; --baseline-allow-resample compares "
                                    "anyway");
    } else if (!same_scored) {
      c.message = "set '" + set.name + "': the baseline's " + std::to_string(set.found) +
                  " files (" + std::to_string(set.scored) + " scored against " +
                  FormatDouble(was.scored) + ": the skipped files differ)";
    } else {
      c.message =
          "set '" + set.name + "': the baseline's " + std::to_string(set.found) + " files" +
          (digests
               ? ""
               : " (by count: " + std::string(was.digest.empty() ? "the baseline" : "this run") +
                     " has no samples_digest)");
    }
    out.push_back(c);
  }
  return out;
}

// "99.9%" or "0.5123": a value as the check table shows it (ShowValue, 4 digits).
std::string Shown(double v, bool rate) { return ShowValue(v, rate); }

// "-4.588 pp" or "+0.01": a change as the check table shows it.
std::string ShownChange(double d, bool rate) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), rate ? "%+.4g pp" : "%+.4g", rate ? 100 * d : d);
  return buf;
}

// The significance of the changes of one (OOD set, score): the baseline's samples against
// this run's, compared once for every metric checked.
struct ChangeStats {
  std::string test = "none";  // paired, unpaired or none
  std::string note;
  std::optional<PairComparison> stats;  // a = the baseline, b = this run
};

ChangeStats ComputeChangeStats(const BaselineSamples& samples, const std::string& set,
                               const std::string& score, const Report& report, int bootstrap) {
  ChangeStats out;
  if (!samples.baseline) {
    out.note = samples.none_reason.empty() ? "the baseline's scores are not available"
                                           : samples.none_reason;
    return out;
  }
  if (!samples.current) {
    out.note = "this run's scores are not available";
    return out;
  }
  if (report.subsample) {
    out.note =
        "this run's metrics are means over --ood-subsample's draws; the tests compare "
        "whole sets";
    return out;
  }
  const CompareRun& base = *samples.baseline;
  const ReportInput& cur = *samples.current;
  const ScoreInfo* base_score = nullptr;
  for (const auto& s : base.scores) {
    if (s.name == score) base_score = &s;
  }
  std::size_t col = 0;
  while (col < cur.scores.size() && cur.scores[col].name != score) ++col;
  const SetScores* cur_set = nullptr;
  for (const auto& o : cur.ood) {
    if (o.name == set) cur_set = &o;
  }
  if (!base_score || col == cur.scores.size() || !cur_set ||
      std::find(base.ood_sets.begin(), base.ood_sets.end(), set) == base.ood_sets.end()) {
    out.note =
        "the baseline's scores.csv has no scores of '" + score + "' for OOD set '" + set + "'";
    return out;
  }
  const KeyedScores base_id = RunSetScores(base, base.id_set, *base_score);
  const KeyedScores base_ood = RunSetScores(base, set, *base_score);
  // Keyed by path when this run kept its paths, else the (maybe sorted) scores alone.
  const bool keyed = !cur.id.paths.empty() && !cur_set->paths.empty() &&
                     cur.id.row_order.size() == cur.scores.size() &&
                     cur_set->row_order.size() == cur.scores.size();
  const KeyedScores cur_id{keyed ? cur.id.paths : std::vector<std::string>(),
                           keyed ? cur.id.row_order[col] : cur.id.oriented[col]};
  const KeyedScores cur_ood{keyed ? cur_set->paths : std::vector<std::string>(),
                            keyed ? cur_set->row_order[col] : cur_set->oriented[col]};
  CompareOptions options;
  options.metric = report.options;
  options.bootstrap = bootstrap;
  options.seed = report.options.seed;
  try {
    std::string why_unpaired;
    if (!keyed) {
      why_unpaired = "this run's scores have no sample paths to pair by";
    } else if (base.id_set != cur.id.name) {
      why_unpaired = "the ID sets have different names ('" + base.id_set + "' in the baseline, '" +
                     cur.id.name + "' here)";
    } else {
      const Paired id = PairByKey(base_id, cur_id, "ID set '" + cur.id.name + "'");
      const Paired ood = PairByKey(base_ood, cur_ood, "OOD set '" + set + "'");
      const std::size_t unmatched = id.only_a + id.only_b + ood.only_a + ood.only_b;
      if (unmatched == 0) {
        out.stats = ComparePaired(id.a, ood.a, id.b, ood.b, options);
        out.test = "paired";
        out.note = "paired by (set, path): " + std::to_string(id.a.size()) + " ID and " +
                   std::to_string(ood.a.size()) + " OOD samples";
        return out;
      }
      why_unpaired = "the samples differ from the baseline's by (set, path): " +
                     std::to_string(id.only_b + ood.only_b) + " of this run's are not in it, " +
                     std::to_string(id.only_a + ood.only_a) + " of its are not here";
    }
    out.stats =
        CompareUnpaired(base_id.values, base_ood.values, cur_id.values, cur_ood.values, options);
    out.test = "unpaired";
    out.note = "unpaired: " + why_unpaired;
  } catch (const Error& e) {
    out.stats.reset();
    out.test = "none";
    out.note = std::string("no test: ") + e.what();
  }
  return out;
}

std::string Rounded(double v, const char* format) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

// "p = 0.0123" / "p < 1e-16".
std::string PText(double p) {
  if (p < 1e-16) return "p < 1e-16";
  return "p = " + Rounded(p, "%.3g");
}

}  // namespace

std::vector<CheckResult> CompareWithBaseline(const nlohmann::json& baseline, const Report& report,
                                             const BaselineRules& rules,
                                             const BaselineSamples& samples) {
  std::vector<CheckResult> out;
  const bool resampled = rules.bootstrap > 0 &&
                         (rules.max_drop.count("fpr_at_tpr") || rules.max_drop.count("aupr_in") ||
                          rules.max_rise.count("fpr_at_tpr") || rules.max_rise.count("aupr_in"));
  std::map<std::pair<std::string, std::string>, ChangeStats> change_stats;
  auto stats_of = [&](const std::string& set, const std::string& score) -> const ChangeStats& {
    const auto key = std::make_pair(set, score);
    auto it = change_stats.find(key);
    if (it == change_stats.end()) {
      it = change_stats
               .emplace(key, ComputeChangeStats(samples, set, score, report,
                                                resampled ? rules.bootstrap : 0))
               .first;
    }
    return it->second;
  };
  const nlohmann::json current = ReportJson(report);
  if (!baseline.contains("ood") || !baseline["ood"].is_array()) {
    throw Error("baseline report has no 'ood' array (is it an oodscore report.json?)");
  }
  if (baseline.value("fpr_convention", "") != current["fpr_convention"] ||
      baseline.value("tpr_level", -1.0) != current["tpr_level"].get<double>()) {
    throw Error("baseline report uses fpr_convention '" + baseline.value("fpr_convention", "?") +
                "' at tpr " + FormatDouble(baseline.value("tpr_level", -1.0)) +
                ", this run uses '" + current["fpr_convention"].get<std::string>() + "' at tpr " +
                FormatDouble(current["tpr_level"].get<double>()) + ": not comparable");
  }
  auto check = [&](const std::string& set, const std::string& score, const nlohmann::json& old_m,
                   const nlohmann::json& new_m, const std::string& metric, double tol, bool drop) {
    if (!old_m.contains(metric) || !new_m.contains(metric) || !old_m[metric].is_number() ||
        !new_m[metric].is_number()) {
      return;
    }
    const double o = old_m[metric].get<double>(), n = new_m[metric].get<double>();
    const double change = n - o;
    const bool rate = IsRateMetric(metric);
    CheckResult c;
    c.kind = "baseline";
    c.expr = c.subject = set + "." + score + "." + metric;
    c.value = n;
    c.baseline = o;
    c.rate = rate;
    c.allowed = std::string(drop ? "drop" : "rise") +
                " <= " + (rate ? FormatDouble(100 * tol) + " pp" : FormatDouble(tol));
    const bool beyond = drop ? (-change > tol) : (change > tol);
    c.pass = !beyond;
    c.message = c.expr + " moved " + Shown(o, rate) + " -> " + Shown(n, rate) + " (" +
                ShownChange(change, rate) + "; allowed " + c.allowed + ")";
    if (old_m.contains("ci95") && old_m["ci95"].contains(metric)) {
      const auto& ci = old_m["ci95"][metric];
      if (ci.is_array() && ci.size() == 2 && ci[0].is_number() && ci[1].is_number()) {
        const bool inside = n >= ci[0].get<double>() && n <= ci[1].get<double>();
        c.message += inside ? "; inside the baseline's 95% interval"
                            : "; outside the baseline's 95% interval";
      }
    }
    // A caller that gives no samples and no --significance asks for no test (today's checks).
    if (!samples.baseline && !samples.current && samples.none_reason.empty() &&
        !rules.significance) {
      out.push_back(c);
      return;
    }
    const ChangeStats& cs = stats_of(set, score);
    CheckResult::Significance sig;
    sig.test = cs.test;
    sig.note = cs.note;
    sig.alpha = rules.significance;
    std::string untested;  // why this check has no p-value
    if (cs.stats) {
      const PairComparison& pc = *cs.stats;
      if (metric == "auroc") {
        sig.p = pc.delong.p;
        sig.z = pc.delong.z;
        if (std::isfinite(pc.delong.variance) && pc.delong.variance >= 0) {
          const double half = 1.959963984540054 * std::sqrt(pc.delong.variance);
          sig.ci = Interval{pc.auroc_diff - half, pc.auroc_diff + half};
          sig.interval = "delong-normal";
        }
        if (std::isnan(pc.delong.p)) {
          sig.p.reset();
          untested = "DeLong's variance is degenerate";
        }
      } else if (metric == "fpr_at_tpr" || metric == "aupr_in") {
        if (pc.has_ci) {
          sig.ci = metric == "fpr_at_tpr" ? pc.fpr_diff_ci : pc.aupr_in_diff_ci;
          sig.interval = "bootstrap-percentile";
        }
        untested = "DeLong's test is for auroc; " + metric + " has " +
                   (pc.has_ci ? "a bootstrap interval only" : "no test");
      } else {
        untested = "no test for " + metric + " (only auroc has a p-value)";
      }
    } else {
      untested = cs.note;
    }
    std::string sig_text;
    if (sig.ci) {
      sig_text += "; 95% interval of the change " + ShownChange(sig.ci->lo, rate) + " to " +
                  ShownChange(sig.ci->hi, rate);
    }
    if (sig.p) sig_text += ", DeLong " + PText(*sig.p);
    if (sig.test != "none") sig_text += " (" + sig.test + ")";
    const bool bad_direction = drop ? change < 0 : change > 0;
    if (rules.significance) {
      const std::string at = Rounded(*rules.significance, "%g");
      if (!sig.p) {
        if (beyond) {
          sig_text += "; the significance could not be tested (" + untested +
                      "), so the tolerance alone decides";
        }
      } else if (beyond && *sig.p < *rules.significance) {
        sig_text += "; significant at " + at;
      } else if (beyond) {
        c.pass = true;
        sig_text += "; beyond the tolerance but not significant at " + at +
                    ", so it passes (--significance " + at + ")";
      }
    } else {
      if (!sig.p && sig.test == "none") sig_text += "; no significance test: " + untested;
      if (!beyond && bad_direction && sig.p && *sig.p < 0.05) {
        sig.warning = c.expr + ": the change of " + ShownChange(change, rate) +
                      " is within the tolerance but significant (DeLong " + PText(*sig.p) + ", " +
                      sig.test + "): the model may really have changed";
      }
    }
    c.message += sig_text;
    c.significance = sig;
    out.push_back(c);
  };
  auto in_scope = [&](const std::string& score) {
    return rules.scores.empty() ||
           std::find(rules.scores.begin(), rules.scores.end(), score) != rules.scores.end();
  };
  for (const auto& old_set : baseline["ood"]) {
    const std::string name = old_set.value("name", "");
    const auto new_set = std::find_if(current["ood"].begin(), current["ood"].end(),
                                      [&](const nlohmann::json& s) { return s["name"] == name; });
    if (new_set == current["ood"].end()) {  // dropping an OOD set must not make a regression pass
      CheckResult c;
      c.kind = "baseline";
      c.expr = c.subject = name;
      c.value = std::nan("");
      c.allowed = "set present";
      c.pass = false;
      c.message = "OOD set '" + name + "' is in the baseline but not in this run";
      out.push_back(c);
      continue;
    }
    const nlohmann::json& metrics = (*new_set)["metrics"];
    for (auto it = metrics.begin(); it != metrics.end(); ++it) {
      if (!in_scope(it.key())) continue;
      if (!old_set.contains("metrics") || !old_set["metrics"].contains(it.key())) continue;
      const auto& old_m = old_set["metrics"][it.key()];
      for (const auto& [metric, tol] : rules.max_drop)
        check(name, it.key(), old_m, it.value(), metric, tol, true);
      for (const auto& [metric, tol] : rules.max_rise)
        check(name, it.key(), old_m, it.value(), metric, tol, false);
    }
  }
  if (out.empty() && (!rules.max_drop.empty() || !rules.max_rise.empty())) {
    throw Error("baseline report shares no (OOD set, score) pair with this run" +
                (rules.scores.empty()
                     ? std::string()
                     : " among the checked scores (" + JoinNames(rules.scores) + ")"));
  }
  const std::vector<CheckResult> sample_checks =
      SampleChecks(baseline, report, rules.allow_resample);
  out.insert(out.begin(), sample_checks.begin(), sample_checks.end());
  return out;
}

}  // namespace oodscore
