// compare.html: the comparison as one self-contained page, with the ROC curves overlaid.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "base/version.h"
#include "oodscore/compare_report.h"
#include "oodscore/html_report.h"

namespace oodscore {
namespace {

std::string F(double v, const char* fmt = "%.1f") {
  if (std::isnan(v)) return "n/a";
  char buf[48];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

std::string Pct(double v) { return std::isfinite(v) ? F(100 * v, "%.2f") + "%" : "-"; }
std::string Pp(double v) { return std::isfinite(v) ? F(100 * v, "%+.2f") + " pp" : "-"; }

constexpr double kW = 560, kH = 400, kLeft = 58, kRight = 12, kTop = 28, kBottom = 44;
constexpr double kPw = kW - kLeft - kRight, kPh = kH - kTop - kBottom;
const char* const kColors[] = {"#1b9e77", "#d95f02", "#7570b3", "#e7298a",
                               "#66a61e", "#e6ab02", "#a6761d", "#666666"};
const char* const kDashes[] = {"", "6 3", "2 2", "8 3 2 3"};  // one per run

std::string Row(const std::vector<std::string>& cells, const char* tag = "td") {
  std::string h = "<tr>";
  for (const auto& c : cells) h += std::string("<") + tag + ">" + c + "</" + tag + ">";
  return h + "</tr>\n";
}

// Every column's ROC curve on one OOD set: a color per score, a dash pattern per run.
std::string RocOverlay(const CompareReport& r, const CompareSet& s) {
  std::string h = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" viewBox=\"0 0 " +
                  F(kW, "%.0f") + " " + F(kH, "%.0f") +
                  "\" font-family=\"sans-serif\" font-size=\"11\"><text x=\"" + F(kW / 2) +
                  "\" y=\"16\" text-anchor=\"middle\" font-size=\"13\">ROC, " +
                  EscapeMarkup(s.ood_set) + " (ID = positive)</text>";
  h += "<rect x=\"" + F(kLeft) + "\" y=\"" + F(kTop) + "\" width=\"" + F(kPw) + "\" height=\"" +
       F(kPh) + "\" fill=\"none\" stroke=\"#888\"/>";
  for (int i = 0; i <= 5; ++i) {
    const double px = kLeft + kPw * i / 5.0, py = kTop + kPh * (1 - i / 5.0);
    h += "<text x=\"" + F(px) + "\" y=\"" + F(kTop + kPh + 15) + "\" text-anchor=\"middle\">" +
         F(i / 5.0, "%g") + "</text><text x=\"" + F(kLeft - 6) + "\" y=\"" + F(py + 4) +
         "\" text-anchor=\"end\">" + F(i / 5.0, "%g") + "</text>";
  }
  h += "<text x=\"" + F(kLeft + kPw / 2) + "\" y=\"" + F(kH - 6) +
       "\" text-anchor=\"middle\">FPR (share of OOD accepted as ID)</text><text x=\"12\" y=\"" +
       F(kTop + kPh / 2) + "\" transform=\"rotate(-90 12 " + F(kTop + kPh / 2) +
       ")\" text-anchor=\"middle\">TPR (share of ID accepted)</text>";
  h += "<line x1=\"" + F(kLeft) + "\" y1=\"" + F(kTop + kPh) + "\" x2=\"" + F(kLeft + kPw) +
       "\" y2=\"" + F(kTop) + "\" stroke=\"#ccc\"/>";
  // A color per score (in the order of the columns), a dash per run.
  std::vector<std::string> scores;
  for (const auto& c : r.columns) {
    if (std::find(scores.begin(), scores.end(), c.score.name) == scores.end()) {
      scores.push_back(c.score.name);
    }
  }
  for (std::size_t i = 0; i < s.columns.size(); ++i) {
    const CompareSet::Column& col = s.columns[i];
    const CompareColumn& c = r.columns[col.column];
    const std::size_t score =
        std::find(scores.begin(), scores.end(), c.score.name) - scores.begin();
    const std::string color = kColors[score % 8];
    const std::string dash = kDashes[c.run % 4];
    h += "<polyline class=\"roc\" fill=\"none\" stroke=\"" + color + "\" stroke-width=\"1.5\"" +
         (dash.empty() ? "" : " stroke-dasharray=\"" + dash + "\"") + " points=\"";
    for (const auto& p : col.roc) {
      h += F(kLeft + kPw * p.fpr) + "," + F(kTop + kPh * (1 - p.tpr)) + " ";
    }
    h += "\"><title>" + EscapeMarkup(CompareColumnName(r, col.column)) + "</title></polyline>";
    const double ly = kTop + kPh - 10 - 15.0 * static_cast<double>(s.columns.size() - 1 - i);
    h += "<line x1=\"" + F(kLeft + kPw - 200) + "\" x2=\"" + F(kLeft + kPw - 176) + "\" y1=\"" +
         F(ly - 4) + "\" y2=\"" + F(ly - 4) + "\" stroke=\"" + color + "\" stroke-width=\"2\"" +
         (dash.empty() ? "" : " stroke-dasharray=\"" + dash + "\"") + "/><text x=\"" +
         F(kLeft + kPw - 170) + "\" y=\"" + F(ly) +
         "\" paint-order=\"stroke\" stroke=\"#fff\" stroke-width=\"3\">" +
         EscapeMarkup(CompareColumnName(r, col.column)) + " (" + Pct(col.metrics.auroc) +
         ")</text>";
  }
  return h + "</svg>";
}

std::string SetSection(const CompareReport& r, const CompareSet& s) {
  const std::string fpr = "FPR@" + F(100 * r.spec.options.metric.tpr, "%g");
  std::string h =
      "<h2>" + EscapeMarkup(s.ood_set) + "</h2>\n<div class=\"scroll\"><table>\n" +
      Row({"rank", "run", "score", "AUROC", fpr, "AUPR-in", "AUPR-out", "n ID", "n OOD"}, "th");
  for (int rank = 1; rank <= static_cast<int>(s.columns.size()); ++rank) {
    for (const auto& c : s.columns) {
      if (c.rank != rank) continue;
      const CompareColumn& col = r.columns[c.column];
      h += Row({std::to_string(c.rank), EscapeMarkup(r.runs[col.run].name),
                EscapeMarkup(col.score.name), Pct(c.metrics.auroc), Pct(c.metrics.fpr_at_tpr),
                Pct(c.metrics.aupr_in), Pct(c.metrics.aupr_out), std::to_string(c.metrics.n_id),
                std::to_string(c.metrics.n_ood)});
    }
  }
  h += "</table></div>\n<figure>" + RocOverlay(r, s) + "</figure>\n";
  if (s.pairs.empty()) return h;
  h += "<div class=\"scroll\"><table>\n" +
       Row({"a", "b", "ΔAUROC", "z", "p", "test", "Δ" + fpr + " [95% CI]", "ΔAUPR-in [95% CI]",
            "n ID / OOD", "gate"},
           "th");
  auto ci = [](const PairComparison& st, double d, const Interval& i) {
    return Pp(d) +
           (st.has_ci ? " [" + F(100 * i.lo, "%+.2f") + ", " + F(100 * i.hi, "%+.2f") + "]" : "");
  };
  for (const auto& p : s.pairs) {
    const PairComparison& st = p.stats;
    std::string test = EscapeMarkup(CompareTestName(st));
    if (!p.note.empty()) test += "<br><small>" + EscapeMarkup(p.note) + "</small>";
    h += Row({EscapeMarkup(CompareColumnName(r, p.a)), EscapeMarkup(CompareColumnName(r, p.b)),
              Pp(st.auroc_diff), F(st.delong.z, "%.3f"), F(st.delong.p, "%.3g"), test,
              ci(st, st.fpr_diff, st.fpr_diff_ci), ci(st, st.aupr_in_diff, st.aupr_in_diff_ci),
              p.n_id ? std::to_string(*p.n_id) + " / " + std::to_string(*p.n_ood) : "unpaired",
              p.gated ? (p.pass ? "pass" : "<span class=\"fail\">FAIL</span>") : "-"});
  }
  return h + "</table></div>\n";
}

}  // namespace

std::string CompareHtml(const CompareReport& r) {
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>oodscore compare</title><style>"
      "body{font-family:sans-serif;margin:1em auto;padding:0 1em;max-width:1100px}"
      "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
      "text-align:right;white-space:nowrap}td:first-child,th:first-child{text-align:left}"
      ".scroll{overflow-x:auto;max-width:100%}.fail{color:#b00;font-weight:bold}"
      ".banner{padding:10px 14px;margin:0 0 1em;font-weight:bold;border-radius:4px}"
      ".pass{background:#e3f4e3;color:#145214}.banner.failed{background:#fbe3e3;color:#8a1010}"
      ".none{background:#eee;color:#333}.note{background:#fff4d6;padding:6px 10px;margin:4px 0}"
      "figure{display:inline-block;margin:6px;width:560px;max-width:100%}"
      "svg.plot{width:100%;height:auto}small{white-space:normal}"
      "</style></head><body>\n<h1>oodscore compare</h1>\n";
  const char* banner = !r.spec.gate ? "none" : r.passed() ? "pass" : "failed";
  h += "<div class=\"banner " + std::string(banner) + "\">" + EscapeMarkup(CompareVerdict(r)) +
       "</div>\n<p>oodscore " + std::string(ToolVersion()) + ". Runs:";
  for (std::size_t i = 0; i < r.runs.size(); ++i) {
    h += std::string(i ? "," : "") + " <b>" + EscapeMarkup(r.runs[i].name) + "</b> (" +
         EscapeMarkup(r.runs[i].dir.string()) + ", ID " + EscapeMarkup(r.runs[i].id_set) + ")";
  }
  h += ". FPR at " + F(100 * r.spec.options.metric.tpr, "%g") + "% TPR (" +
       ConventionName(r.spec.options.metric.convention) +
       "). Differences are b - a; AUROCs compared with DeLong's test (two-sided p)";
  if (r.spec.options.bootstrap > 0) {
    h += "; intervals: percentile 95% over " + std::to_string(r.spec.options.bootstrap) +
         " bootstrap resamples (seed " + std::to_string(r.spec.options.seed) +
         "), the same draw for both columns when paired";
  }
  h += ". Solid, dashed and dotted curves are the first, second and third run.</p>\n";
  for (const auto& n : r.notes) h += "<p class=\"note\">" + EscapeMarkup(n) + "</p>\n";
  for (const auto& s : r.sets) h += SetSection(r, s);
  return h + "</body></html>\n";
}

}  // namespace oodscore
