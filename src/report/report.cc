#include "oodscore/report.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <random>

#include "base/format.h"
#include "base/json_text.h"
#include "base/parallel.h"
#include "base/suggest.h"
#include "base/version.h"
#include "oodscore/error.h"

namespace oodscore {

namespace {

// What to check when a score's AUROC is below 50%: a score the tool computes has its
// definition's orientation, so the sets are the suspects; a plain file's column may be read
// the wrong way round (`metrics --lower-is-id`).
std::string ReversedHint(const ScoreInfo& info) {
  const ScoreDef* def = FindScore(info.name);
  if (def != nullptr && def->needs != ScoreNeeds::kScoreFile) {
    return "its orientation is the score's definition, so check which set is ID (--id) and "
           "which are OOD (--ood), or whether the OOD set holds ID images";
  }
  return "check --lower-is-id / --higher-is-id (`metrics`), or which set is --id";
}

// Samples per draw of a subsample protocol: floor(F * n_id), at least 1 (the small slack keeps
// 0.2 * 5 from flooring to 0 through rounding).
std::size_t DrawSize(double fraction, std::size_t n_id) {
  return std::max<std::size_t>(
      1, static_cast<std::size_t>(std::floor(fraction * static_cast<double>(n_id) + 1e-9)));
}

// The mean of each field over `draws`, and, for the spread metrics, the population standard
// deviation (numpy.std's default, as the energy paper's code). REQUIRES: !draws.empty().
void MeanAndSpread(const std::vector<Metrics>& draws, Metrics* mean, Metrics* spread) {
  const double r = static_cast<double>(draws.size());
  *mean = draws[0];
  *spread = Metrics{};
  for (double Metrics::*f :
       {&Metrics::auroc, &Metrics::aupr_in, &Metrics::aupr_out, &Metrics::fpr_at_tpr,
        &Metrics::detection_error, &Metrics::threshold, &Metrics::tpr_achieved}) {
    double sum = 0;
    for (const Metrics& d : draws) sum += d.*f;
    mean->*f = sum / r;
  }
  for (const SpreadMetric& sm : SpreadMetrics()) {
    double ss = 0;
    for (const Metrics& d : draws)
      ss += (d.*sm.member - mean->*sm.member) * (d.*sm.member - mean->*sm.member);
    spread->*sm.member = std::sqrt(ss / r);
  }
}

// The plain mean over `sets` (indices into `per_set`) of the spread metrics; n_ood summed,
// threshold and tpr_achieved NaN (they are per set).
Metrics MeanOverSets(const std::vector<const Metrics*>& per_set) {
  Metrics m;
  m.n_id = per_set[0]->n_id;
  m.aupr_is_trapezoid = per_set[0]->aupr_is_trapezoid;
  m.tpr_achieved = m.threshold = std::nan("");
  const double n = static_cast<double>(per_set.size());
  for (const Metrics* x : per_set) {
    m.n_ood += x->n_ood;
    for (const SpreadMetric& sm : SpreadMetrics()) m.*sm.member += x->*sm.member / n;
  }
  return m;
}

}  // namespace

std::vector<std::size_t> SubsampleDraw(std::size_t n, std::size_t m, std::uint64_t seed,
                                       std::size_t set, int repeat) {
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    static_cast<std::uint32_t>(set), static_cast<std::uint32_t>(repeat)};
  std::mt19937_64 rng(seq);
  std::vector<std::size_t> idx(n);
  for (std::size_t i = 0; i < n; ++i) idx[i] = i;
  for (std::size_t k = 0; k < m; ++k) std::swap(idx[k], idx[k + UniformIndex(rng, n - k)]);
  idx.resize(m);
  return idx;
}

const std::vector<SpreadMetric>& SpreadMetrics() {
  static const std::vector<SpreadMetric> kAll = {{"auroc", &Metrics::auroc},
                                                 {"aupr_in", &Metrics::aupr_in},
                                                 {"aupr_out", &Metrics::aupr_out},
                                                 {"fpr_at_tpr", &Metrics::fpr_at_tpr},
                                                 {"detection_error", &Metrics::detection_error}};
  return kAll;
}

Report BuildReport(const ReportInput& input) {
  Report r;
  r.options = input.options;
  r.scores = input.scores;
  r.id_name = input.id.name;
  r.subsample = input.subsample;
  if (input.scores.empty()) throw Error("no scores to report");
  if (input.ood.empty()) throw Error("no OOD set to compare ID set '" + input.id.name + "' with");
  r.n_id = input.id.oriented.at(0).size();
  if (r.n_id == 0) throw Error("ID set '" + input.id.name + "' has no samples");
  r.sets.push_back({input.id.name, r.n_id, r.n_id, 0, {}});
  for (const auto& id : input.id.oriented) {
    r.id_thresholds.push_back(ThresholdFromId(id, input.options.tpr));
  }
  for (const SetScores& set : input.ood) {
    if (set.oriented.at(0).empty()) throw Error("OOD set '" + set.name + "' has no samples");
  }
  const std::size_t n_scores = input.scores.size();
  const int repeats = input.subsample ? input.subsample->repeats : 1;
  // The draws of each OOD set (the same samples for every score); none without a subsample.
  std::vector<std::vector<std::vector<std::size_t>>> picks(input.ood.size());
  std::vector<std::size_t> drawn(input.ood.size(), 0);
  if (input.subsample) {
    if (input.options.bootstrap > 0) {
      throw Error(
          "--ood-subsample reports the spread over its draws; --bootstrap's intervals "
          "are for whole sets: give one of them");
    }
    const std::size_t m = DrawSize(input.subsample->fraction, r.n_id);
    for (std::size_t o = 0; o < input.ood.size(); ++o) {
      const SetScores& set = input.ood[o];
      if (set.row_order.size() != n_scores) {
        throw Error("internal error: OOD set '" + set.name + "' has no scores in row order");
      }
      const std::size_t n = set.row_order[0].size();
      drawn[o] = std::min(m, n);
      if (m >= n) {
        r.warnings.push_back("OOD set '" + set.name + "' has " + std::to_string(n) +
                             " samples, no more than a draw's " + std::to_string(m) +
                             ": every draw is the whole set, so its spread is 0");
      }
      for (int k = 0; k < repeats; ++k) {
        picks[o].push_back(SubsampleDraw(n, drawn[o], input.subsample->seed, o, k));
      }
    }
  }
  // Every (OOD set, score) pair at once, on every core: its metrics for each draw (one draw,
  // the whole set, without a subsample).
  std::vector<std::vector<Metrics>> draws(input.ood.size() * n_scores);
  ParallelFor(draws.size(), [&](std::size_t i) {
    const SetScores& set = input.ood[i / n_scores];
    const std::size_t s = i % n_scores;
    try {
      if (!input.subsample) {
        draws[i].push_back(ComputeMetrics(input.id.oriented[s], set.oriented[s], input.options));
        return;
      }
      for (const auto& pick : picks[i / n_scores]) {
        std::vector<double> sub;
        sub.reserve(pick.size());
        for (std::size_t j : pick) sub.push_back(set.row_order[s][j]);
        draws[i].push_back(ComputeMetrics(input.id.oriented[s], sub, input.options));
      }
    } catch (const Error& e) {
      throw Error("set '" + set.name + "', score '" + input.scores[s].name + "': " + e.what());
    }
  });
  for (std::size_t o = 0; o < input.ood.size(); ++o) {
    const SetScores& set = input.ood[o];
    Report::OodResult res;
    res.name = set.name;
    res.n = set.oriented.at(0).size();
    res.drawn = drawn[o];
    for (std::size_t s = 0; s < n_scores; ++s) {
      const std::vector<Metrics>& d = draws[o * n_scores + s];
      if (!input.subsample) {
        res.metrics.push_back(d[0]);
        continue;
      }
      Metrics mean, spread;
      MeanAndSpread(d, &mean, &spread);
      res.metrics.push_back(mean);
      res.spread.push_back(spread);
    }
    r.sets.push_back({set.name, res.n, res.n, 0, {}});
    for (std::size_t s = 0; s < input.scores.size(); ++s) {
      const double auroc = res.metrics[s].auroc;
      if (auroc < 0.5) {
        const ScoreInfo& info = input.scores[s];
        r.warnings.push_back("score '" + info.name + "' on '" + set.name + "': AUROC " +
                             ShowValue(auroc, true) +
                             " is below 50%, so the score looks reversed (it is read as " +
                             OrientationText(info.orientation) + "): " + ReversedHint(info));
      }
    }
    r.ood.push_back(std::move(res));
  }
  // A mean row over some sets: the mean of their metrics and, with a subsample, the spread
  // over draws of each draw's mean over the sets.
  auto mean_row = [&](const std::vector<std::size_t>& sets, std::size_t s, Metrics* mean,
                      std::vector<Metrics>* spread) {
    std::vector<const Metrics*> per_set;
    for (std::size_t o : sets) per_set.push_back(&r.ood[o].metrics[s]);
    *mean = MeanOverSets(per_set);
    if (!input.subsample) return;
    std::vector<Metrics> by_draw;
    for (int k = 0; k < repeats; ++k) {
      std::vector<const Metrics*> row;
      for (std::size_t o : sets) row.push_back(&draws[o * n_scores + s][k]);
      by_draw.push_back(MeanOverSets(row));
    }
    Metrics ignored, sd;
    MeanAndSpread(by_draw, &ignored, &sd);
    spread->push_back(sd);
  };
  std::vector<std::size_t> all(input.ood.size());
  for (std::size_t o = 0; o < all.size(); ++o) all[o] = o;
  r.mean.resize(n_scores);
  for (std::size_t s = 0; s < n_scores; ++s) mean_row(all, s, &r.mean[s], &r.mean_spread);
  std::vector<std::vector<std::size_t>> group_sets;  // each group's sets, as indices into ood
  for (const SetGroup& g : input.groups) {
    Report::GroupResult gr;
    gr.group = g;
    std::vector<std::size_t> members;
    for (const std::string& name : g.sets) {
      std::size_t o = 0;
      while (o < input.ood.size() && input.ood[o].name != name) ++o;
      if (o == input.ood.size()) {
        throw Error("group '" + g.name + "' names OOD set '" + name + "', which the report lacks");
      }
      members.push_back(o);
    }
    if (members.empty()) throw Error("group '" + g.name + "' has no OOD sets");
    gr.mean.resize(n_scores);
    for (std::size_t s = 0; s < n_scores; ++s) mean_row(members, s, &gr.mean[s], &gr.spread);
    r.groups.push_back(std::move(gr));
    group_sets.push_back(std::move(members));
  }
  if (input.options.bootstrap > 0) {
    // Every mean row's intervals, (row, score) pairs on every core: the overall row, then
    // each group's.
    struct MeanRow {
      std::vector<std::size_t> sets;
      std::vector<Metrics>* metrics;
    };
    std::vector<MeanRow> rows = {{all, &r.mean}};
    for (std::size_t g = 0; g < r.groups.size(); ++g) {
      rows.push_back({group_sets[g], &r.groups[g].mean});
    }
    ParallelFor(rows.size() * n_scores, [&](std::size_t i) {
      const MeanRow& row = rows[i / n_scores];
      const std::size_t s = i % n_scores;
      std::vector<const std::vector<double>*> oods;
      for (std::size_t o : row.sets) oods.push_back(&input.ood[o].oriented[s]);
      BootstrapMeanOverSets(input.id.oriented[s], oods, input.options, &(*row.metrics)[s]);
    });
  }
  return r;
}

std::string SetRole(const Report& report, std::size_t index) {
  if (index == 0) return "id";
  for (const auto& c : report.csid) {
    if (c.name == report.sets[index].name) return "csid";
  }
  return "ood";
}

std::string SetRoleLabel(const Report& report, std::size_t index) {
  std::string role = SetRole(report, index);
  for (char& ch : role) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return role;
}

std::string BelowChanceWarning(double accuracy, int num_classes) {
  if (num_classes < 2 || !(accuracy < 1.0 / num_classes)) return "";
  return "ID accuracy " + ShowValue(accuracy, true) + " is below chance (1/" +
         std::to_string(num_classes) + " = " + ShowValue(1.0 / num_classes, true) +
         "): the class order may not match the model's (class i is the i-th folder name in "
         "byte order, as torchvision's ImageFolder sorts them)";
}

std::string SetsSummary(const std::vector<SetCounts>& sets) {
  std::string s;
  for (const auto& c : sets) {
    s += (s.empty() ? "" : ", ") + c.name + " " + std::to_string(c.scored) + "/" +
         std::to_string(c.found);
    if (c.skipped) s += " (" + std::to_string(c.skipped) + " skipped)";
  }
  return s;
}

nlohmann::json SetCountsJson(const SetCounts& c, const std::vector<SkippedSample>& skipped) {
  nlohmann::json files = nlohmann::json::array();
  for (const auto& k : skipped) {
    if (k.set != c.name) continue;
    nlohmann::json file = {{"reason", k.reason}};
    AddNameField(&file, "path", k.path);
    files.push_back(file);
  }
  nlohmann::json set = {
      {"found", c.found}, {"scored", c.scored}, {"skipped", c.skipped}, {"skipped_files", files}};
  AddNameField(&set, "name", c.name);
  if (!c.samples_digest.empty()) set["samples_digest"] = c.samples_digest;
  return set;
}

bool IsRateMetric(const std::string& metric) {
  for (const char* m : {"auroc", "aupr_in", "aupr_out", "fpr_at_tpr", "detection_error",
                        "tpr_achieved", "accuracy", "skipped_share"}) {
    if (metric == m) return true;
  }
  return false;
}

std::string ShowValue(double value, bool rate, int digits) {
  if (std::isnan(value)) return "-";
  char buf[48];
  std::snprintf(buf, sizeof(buf), rate ? "%.*g%%" : "%.*g", digits, rate ? 100 * value : value);
  return buf;
}

std::vector<std::string> CheckCells(const CheckResult& c) {
  std::string change = "-";
  if (c.baseline) {
    const double d = c.value - *c.baseline;
    change = (d >= 0 ? "+" : "") + ShowValue(d, false, 4);
    if (c.rate) {
      char buf[48];
      std::snprintf(buf, sizeof(buf), "%+.4g pp", 100 * d);
      change = buf;
    }
  }
  if (c.significance && c.significance->test != "none") {
    const CheckResult::Significance& s = *c.significance;
    char buf[96];
    if (s.ci) {
      if (c.rate) {
        std::snprintf(buf, sizeof(buf), " [%+.4g, %+.4g]", 100 * s.ci->lo, 100 * s.ci->hi);
      } else {
        std::snprintf(buf, sizeof(buf), " [%+.4g, %+.4g]", s.ci->lo, s.ci->hi);
      }
      change += buf;
    }
    if (s.p) {
      std::snprintf(buf, sizeof(buf), ", p=%.2g", *s.p);
      change += buf;
    }
    change += " (" + s.test + ")";
  }
  return {c.baseline ? ShowValue(*c.baseline, c.rate) : "-", ShowValue(c.value, c.rate), change,
          c.allowed, c.pass ? "pass" : "**FAIL**"};
}

double RawThreshold(const ScoreInfo& score, double oriented) {
  // A rank column holds log(score), higher = ID (the catalogue's msp ranked by log_msp).
  if (score.rank_column != score.name) return std::exp(oriented);
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
                           bool ood_positive, const Metrics* spread = nullptr) {
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
  if (spread != nullptr) {
    nlohmann::json sd;
    for (const SpreadMetric& sm : SpreadMetrics()) sd[sm.name] = Num(spread->*sm.member);
    j["std"] = sd;
  }
  return j;
}

// Each score's metrics as an object keyed by score name.
nlohmann::json ScoresMetricsJson(const Report& r, const std::vector<Metrics>& metrics,
                                 const std::vector<Metrics>& spread, bool with_threshold) {
  nlohmann::json out = nlohmann::json::object();
  const bool ood_positive = std::string(ConventionPositiveClass(r.options.convention)) == "ood";
  for (std::size_t s = 0; s < r.scores.size(); ++s) {
    out[r.scores[s].name] =
        MetricsJson(metrics[s], r.scores[s], with_threshold, with_threshold && ood_positive,
                    spread.empty() ? nullptr : &spread[s]);
  }
  return out;
}

std::string CheckTableMarkdown(const std::vector<CheckResult>& checks) {
  if (checks.empty()) return "";
  std::string md =
      "\n| check | baseline | value | change | allowed | verdict |\n"
      "|---|---:|---:|---:|---|---|\n";
  for (const auto& c : checks) {
    md += "| `" + c.subject + "`";
    for (const auto& cell : CheckCells(c)) md += " | " + cell;
    md += " |\n";
  }
  return md;
}

std::string Percent(double v) {
  if (!std::isfinite(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", 100.0 * v);
  return buf;
}

}  // namespace

std::string CsidText(const Report& r) {
  if (r.csid.empty()) return "";
  std::string t = ". Covariate-shifted ID:";
  for (std::size_t i = 0; i < r.csid.size(); ++i) {
    const auto& c = r.csid[i];
    t += std::string(i ? "," : "") + " " + c.name + " (n=" + std::to_string(c.n) +
         (c.accuracy ? ", accuracy " + Percent(*c.accuracy) + "%" : "") + ")";
  }
  if (r.fsood) {
    t += "; full-spectrum (--fsood): they count as ID in every metric, n above included" +
         (r.fsood_accuracy ? ", accuracy over ID and them " + Percent(*r.fsood_accuracy) + "%"
                           : std::string());
  } else {
    t += "; not in the metrics (--fsood counts them as ID)";
  }
  return t;
}

std::vector<std::string> MetricCells(const Metrics& m, const Metrics* spread) {
  auto sd = [&](double Metrics::*f) { return spread ? &(spread->*f) : nullptr; };
  return {PercentCell(m.fpr_at_tpr, m.has_ci ? &m.fpr_ci : nullptr, sd(&Metrics::fpr_at_tpr)),
          PercentCell(m.auroc, m.has_ci ? &m.auroc_ci : nullptr, sd(&Metrics::auroc)),
          PercentCell(m.aupr_in, nullptr, sd(&Metrics::aupr_in)),
          PercentCell(m.aupr_out, nullptr, sd(&Metrics::aupr_out)),
          PercentCell(m.detection_error, nullptr, sd(&Metrics::detection_error))};
}

std::vector<std::vector<bool>> BestCells(const std::vector<Metrics>& by_score) {
  // MetricCells' columns, and whether lower is better.
  const std::pair<double Metrics::*, bool> columns[] = {{&Metrics::fpr_at_tpr, true},
                                                        {&Metrics::auroc, false},
                                                        {&Metrics::aupr_in, false},
                                                        {&Metrics::aupr_out, false},
                                                        {&Metrics::detection_error, true}};
  std::vector<std::vector<bool>> best(by_score.size(), std::vector<bool>(5, false));
  if (by_score.size() < 2) return best;
  auto shown = [](double v) { return std::round(v * 1e4); };  // percent with two decimals
  for (std::size_t c = 0; c < 5; ++c) {
    const auto [member, lower] = columns[c];
    double top = std::nan("");
    for (const Metrics& m : by_score) {
      const double v = m.*member;
      if (!std::isfinite(v)) continue;
      if (std::isnan(top) || (lower ? shown(v) < top : shown(v) > top)) top = shown(v);
    }
    for (std::size_t s = 0; s < by_score.size(); ++s) {
      const double v = by_score[s].*member;
      best[s][c] = std::isfinite(v) && shown(v) == top;
    }
  }
  return best;
}

std::string PercentCell(double value, const Interval* ci, const double* spread) {
  std::string cell = Percent(value);
  if (ci != nullptr) cell += " [" + Percent(ci->lo) + ", " + Percent(ci->hi) + "]";
  if (spread != nullptr) cell += " ± " + Percent(*spread);
  return cell;
}

nlohmann::json ReportJson(const Report& r) {
  nlohmann::json j;
  j["tool"] = ToolJson();
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
    scores[info.name] = {{"orientation", OrientationKey(info.orientation)},
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
  if (!r.csid.empty()) {
    nlohmann::json csid = nlohmann::json::array();
    for (const auto& c : r.csid) {
      csid.push_back({{"name", c.name},
                      {"n", c.n},
                      {"accuracy", c.accuracy ? nlohmann::json(*c.accuracy) : nlohmann::json()}});
    }
    j["csid"] = csid;
    j["fsood"] = r.fsood;
    if (r.fsood) {
      j["id"]["fsood_accuracy"] =
          r.fsood_accuracy ? nlohmann::json(*r.fsood_accuracy) : nlohmann::json();
    }
  }
  if (r.subsample) {
    j["ood_subsample"] = {{"fraction", r.subsample->fraction},
                          {"repeats", r.subsample->repeats},
                          {"seed", r.subsample->seed},
                          {"metrics", "mean over the draws"},
                          {"std", "population standard deviation over the draws (ddof = 0)"}};
  }
  nlohmann::json ood = nlohmann::json::array();
  for (const auto& o : r.ood) {
    nlohmann::json set = {
        {"name", o.name}, {"n", o.n}, {"metrics", ScoresMetricsJson(r, o.metrics, o.spread, true)}};
    if (r.subsample) set["n_drawn"] = o.drawn;
    ood.push_back(set);
  }
  j["ood"] = ood;
  j["mean"] = ScoresMetricsJson(r, r.mean, r.mean_spread, false);
  if (!r.groups.empty()) {
    nlohmann::json groups = nlohmann::json::array();
    for (const auto& g : r.groups) {
      groups.push_back({{"name", g.group.name},
                        {"sets", g.group.sets},
                        {"mean", ScoresMetricsJson(r, g.mean, g.spread, false)}});
    }
    j["groups"] = groups;
  }
  nlohmann::json sets = nlohmann::json::array();
  for (std::size_t i = 0; i < r.sets.size(); ++i) {
    nlohmann::json set = SetCountsJson(r.sets[i], r.skipped);
    set["role"] = SetRole(r, i);
    sets.push_back(set);
  }
  j["sets"] = sets;
  j["warnings"] = r.warnings;
  if (!r.checks.empty()) {
    nlohmann::json checks = nlohmann::json::array();
    bool all = true;
    for (const auto& c : r.checks) {
      nlohmann::json cj = {{"kind", c.kind},        {"expr", c.expr},       {"subject", c.subject},
                           {"value", Num(c.value)}, {"allowed", c.allowed}, {"pass", c.pass},
                           {"message", c.message}};
      if (c.baseline) {
        cj["baseline"] = Num(*c.baseline);
        cj["change"] = Num(c.value - *c.baseline);
      }
      if (c.significance) {
        const CheckResult::Significance& s = *c.significance;
        cj["test"] = s.test;
        cj["test_note"] = s.note;
        cj["delong_p"] = s.p ? Num(*s.p) : nlohmann::json();
        cj["delong_z"] = s.z ? Num(*s.z) : nlohmann::json();
        cj["change_ci95"] =
            s.ci ? nlohmann::json::array({Num(s.ci->lo), Num(s.ci->hi)}) : nlohmann::json();
        cj["change_ci_method"] = s.interval.empty() ? nlohmann::json() : nlohmann::json(s.interval);
        cj["significance_alpha"] = s.alpha ? nlohmann::json(*s.alpha) : nlohmann::json();
        if (!s.warning.empty()) cj["warning"] = s.warning;
      }
      checks.push_back(cj);
      all = all && c.pass;
    }
    j["checks"] = checks;
    j["checks_passed"] = all;
  }
  if (r.per_class) j["per_class"] = ClassBreakdownJson(*r.per_class);
  if (!r.risk_coverage.empty()) j["risk_coverage"] = RiskCoverageJson(r.risk_coverage);
  if (r.gallery) j["gallery"] = GalleryJson(*r.gallery);
  j["run"] = r.run;
  return j;
}

std::string VerdictText(const std::vector<CheckResult>& checks) {
  std::size_t failed = 0;
  for (const auto& c : checks) failed += !c.pass;
  if (checks.empty()) return "OK (no checks)";
  if (failed == 0) return "PASS: all " + std::to_string(checks.size()) + " checks passed";
  return "FAIL: " + std::to_string(failed) + " of " + std::to_string(checks.size()) +
         " checks failed";
}

std::string ReportMarkdown(const Report& r) {
  // What a reader (a CI job summary) needs first: which run, and did it pass.
  std::string md = "# OOD report: " + r.id_name + " (ID) vs ";
  for (std::size_t i = 0; i < r.ood.size(); ++i) md += (i ? ", " : "") + r.ood[i].name;
  const std::string verdict = VerdictText(r.checks);
  const std::size_t colon = verdict.find(':');
  md += "\n\n" + (colon == std::string::npos
                      ? verdict
                      : "**" + verdict.substr(0, colon) + "**" + verdict.substr(colon));
  md += "\n";
  for (const auto& c : r.checks) {
    if (!c.pass) md += "- `" + c.subject + "`: " + c.message + "\n";
  }
  md += "\n";
  const bool trapezoid = !r.ood.empty() && r.ood[0].metrics[0].aupr_is_trapezoid;
  char tpr[16];
  std::snprintf(tpr, sizeof(tpr), "%g", 100.0 * r.options.tpr);
  md += "ID: " + r.id_name + " (n=" + std::to_string(r.n_id) + ")";
  if (r.id_accuracy) md += ", accuracy " + Percent(*r.id_accuracy) + "%";
  md += CsidText(r);
  md += ". FPR at " + std::string(tpr) + "% TPR, convention " +
        ConventionName(r.options.convention) +
        " (positive class: " + ConventionPositiveClass(r.options.convention) + "); AUPR " +
        (trapezoid ? "by trapezoids" : "as average precision") + ". Values in %" +
        (r.scores.size() > 1 ? "; each set's best value among the scores in bold" : "") + ".\n";
  md += "Scores:";
  for (std::size_t s = 0; s < r.scores.size(); ++s) {
    md += std::string(s ? "," : "") + " " + r.scores[s].name + " (" +
          OrientationText(r.scores[s].orientation) + ")";
  }
  md += "; every score is ranked oriented so that higher = ID.\n\n";
  md += "| OOD set | n | score | FPR" + std::string(tpr) +
        " ↓ | AUROC ↑ | AUPR-In ↑ | AUPR-Out ↑ | DetErr ↓ |\n";
  md += "|---|---:|---|---:|---:|---:|---:|---:|\n";
  // The best value of each set among the scores in bold.
  auto row = [&](const std::string& set, std::size_t n, const std::string& score,
                 const std::vector<Metrics>& metrics, const std::vector<Metrics>& spread,
                 std::size_t s) {
    md += "| " + set + " | " + std::to_string(n) + " | " + score;
    const std::vector<bool> best = BestCells(metrics)[s];
    const auto cells = MetricCells(metrics[s], spread.empty() ? nullptr : &spread[s]);
    for (std::size_t c = 0; c < cells.size(); ++c) {
      md += " | " + (best[c] ? "**" + cells[c] + "**" : cells[c]);
    }
    md += " |\n";
  };
  for (const auto& o : r.ood) {
    for (std::size_t s = 0; s < r.scores.size(); ++s) {
      row(o.name, r.subsample ? o.drawn : o.n, r.scores[s].name, o.metrics, o.spread, s);
    }
  }
  // A mean row also for one OOD set, so that tables from different runs line up; then each
  // group's.
  for (std::size_t s = 0; s < r.scores.size(); ++s) {
    row("**mean**", r.mean[s].n_ood, r.scores[s].name, r.mean, r.mean_spread, s);
  }
  for (const auto& g : r.groups) {
    for (std::size_t s = 0; s < r.scores.size(); ++s) {
      row("**" + g.group.name + " mean**", g.mean[s].n_ood, r.scores[s].name, g.mean, g.spread, s);
    }
  }
  if (r.subsample) {
    md += "\nEach OOD row is the mean ± std (population) over " +
          std::to_string(r.subsample->repeats) + " draws of " +
          FormatDouble(r.subsample->fraction) + " × n_id samples without replacement (seed " +
          std::to_string(r.subsample->seed) +
          "); n is the samples per draw. The ID set is used whole.\n";
  }
  for (const auto& g : r.groups) {
    md += "\nGroup " + g.group.name + ": " + JoinNames(g.group.sets) + ".";
  }
  if (!r.groups.empty()) md += "\n";
  md += "\nID-calibrated thresholds (" + std::string(tpr) + "% of ID accepted):";
  for (std::size_t s = 0; s < r.scores.size(); ++s) {
    const auto& t = r.id_thresholds[s];
    md += (s ? "; " : " ") + AcceptRule(r.scores[s], RawThreshold(r.scores[s], t.threshold)) +
          " (achieved TPR " + Percent(t.tpr_achieved) + "%)";
  }
  md += "\n\n| set | role | found | scored | skipped |\n|---|---|---:|---:|---:|\n";
  for (std::size_t i = 0; i < r.sets.size(); ++i) {
    const SetCounts& c = r.sets[i];
    md += "| " + c.name + " | " + SetRoleLabel(r, i) + " | " + std::to_string(c.found) + " | " +
          std::to_string(c.scored) + " | " + std::to_string(c.skipped) + " |\n";
  }
  for (const auto& w : r.warnings) md += "\n**Warning:** " + w + "\n";
  md += CheckTableMarkdown(r.checks);
  if (r.per_class) md += ClassBreakdownMarkdown(*r.per_class);
  md += RiskCoverageMarkdown(r.risk_coverage);
  if (r.gallery) md += GalleryMarkdown(*r.gallery);
  return md;
}

}  // namespace oodscore
