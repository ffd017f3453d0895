#include "oodscore/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "base/json_text.h"
#include "base/parallel.h"
#include "base/version.h"

namespace oodscore {

std::string EscapeMarkup(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '&':
          out += "&amp;";
          break;
        case '"':
          out += "&quot;";
          break;
        case '\'':
          out += "&#39;";
          break;
        default:
          if (c >= 0x20 || c == '\t' || c == '\n' || c == '\r') out.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    // A UTF-8 sequence: copied when well formed.
    const std::size_t len = Utf8SequenceLength(s, i);
    if (len > 0) {
      out.append(s.data() + i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    }
  }
  return out;
}

namespace {

std::string F(double v, const char* fmt = "%.1f") {
  char buf[48];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

std::string Pct(double v) { return std::isfinite(v) ? F(100 * v, "%.2f") + "%" : "-"; }

constexpr double kW = 520, kH = 280, kLeft = 58, kRight = 12, kTop = 28, kBottom = 44;
constexpr double kPw = kW - kLeft - kRight, kPh = kH - kTop - kBottom;
// A white outline behind labels drawn over bars or curves.
const char* const kHalo = " paint-order=\"stroke\" stroke=\"#fff\" stroke-width=\"3\"";
const char* const kColors[] = {"#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d"};

struct Tick {
  double at;  // 0..1 along the axis
  std::string label;
};

// About `want` round tick values (1, 2 or 5 times a power of ten) inside [lo, hi].
std::vector<double> NiceTicks(double lo, double hi, int want) {
  const double raw = (hi - lo) / std::max(1, want);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  std::vector<double> out;
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
  }
  return out;
}

std::string SvgOpen(const std::string& title) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" viewBox=\"0 0 " + F(kW, "%.0f") +
         " " + F(kH, "%.0f") + "\" font-family=\"sans-serif\" font-size=\"11\">" + "<text x=\"" +
         F(kW / 2) + "\" y=\"16\" text-anchor=\"middle\" font-size=\"13\">" + EscapeMarkup(title) +
         "</text>";
}

// The plot frame, ticks and axis labels.
std::string Axes(const std::vector<Tick>& x, const std::string& x_label, const std::vector<Tick>& y,
                 const std::string& y_label) {
  std::string s = "<rect x=\"" + F(kLeft) + "\" y=\"" + F(kTop) + "\" width=\"" + F(kPw) +
                  "\" height=\"" + F(kPh) + "\" fill=\"none\" stroke=\"#888\"/>";
  for (const Tick& t : x) {
    const double px = kLeft + kPw * t.at;
    s += "<line class=\"xtick\" x1=\"" + F(px) + "\" x2=\"" + F(px) + "\" y1=\"" + F(kTop + kPh) +
         "\" y2=\"" + F(kTop + kPh + 4) + "\" stroke=\"#888\"/><text x=\"" + F(px) + "\" y=\"" +
         F(kTop + kPh + 15) + "\" text-anchor=\"middle\">" + EscapeMarkup(t.label) + "</text>";
  }
  for (const Tick& t : y) {
    const double py = kTop + kPh * (1 - t.at);
    s += "<line class=\"ytick\" x1=\"" + F(kLeft - 4) + "\" x2=\"" + F(kLeft) + "\" y1=\"" + F(py) +
         "\" y2=\"" + F(py) + "\" stroke=\"#888\"/><text x=\"" + F(kLeft - 6) + "\" y=\"" +
         F(py + 4) + "\" text-anchor=\"end\">" + EscapeMarkup(t.label) + "</text>";
  }
  s += "<text x=\"" + F(kLeft + kPw / 2) + "\" y=\"" + F(kH - 6) + "\" text-anchor=\"middle\">" +
       EscapeMarkup(x_label) + "</text>";
  s += "<text x=\"12\" y=\"" + F(kTop + kPh / 2) + "\" transform=\"rotate(-90 12 " +
       F(kTop + kPh / 2) + ")\" text-anchor=\"middle\">" + EscapeMarkup(y_label) + "</text>";
  return s;
}

std::string ShareLabel(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g%%", 100 * v);
  return buf;
}

// The histogram's x range: the finite values of both sets, widened to 1 when they are all one
// value (or none).
void HistogramRange(const std::vector<double>& id, const std::vector<double>& ood, double* lo,
                    double* hi) {
  *lo = INFINITY;
  *hi = -INFINITY;
  for (const auto* v : {&id, &ood}) {
    for (double x : *v) {
      if (!std::isfinite(x)) continue;
      *lo = std::min(*lo, x);
      *hi = std::max(*hi, x);
    }
  }
  if (!(*lo <= *hi)) *lo = *hi = 0;
  if (*hi == *lo) {
    *lo -= 0.5;
    *hi += 0.5;
  }
}

// Each bin's share of v (non-finite values count in the total, in no bin).
std::vector<double> BinShares(const std::vector<double>& v, double lo, double hi, int bins) {
  std::vector<double> h(bins, 0);
  for (double x : v) {
    if (!std::isfinite(x)) continue;
    int b = static_cast<int>((x - lo) / (hi - lo) * bins);
    h[std::clamp(b, 0, bins - 1)] += 1.0 / v.size();
  }
  return h;
}

// Square-root heights (0..1 of the plot) of shares: a spike (MSP at 1.0) keeps the rest of
// the distribution visible.
double ShareHeight(double share, double peak) { return std::sqrt(share / peak); }

// The y ticks of ShareHeight, round shares up to the peak, kept apart.
std::vector<Tick> ShareTicks(double peak) {
  std::vector<Tick> yt;
  yt.push_back({0, "0"});
  double last = 0;
  for (double v : {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0}) {
    if (v > peak) break;
    if (ShareHeight(v, peak) - last < 0.12) continue;  // keep labels apart
    yt.push_back({ShareHeight(v, peak), ShareLabel(v)});
    last = ShareHeight(v, peak);
  }
  return yt;
}

std::string HistogramBars(const std::vector<double>& h, const char* color, double peak) {
  const double bw = kPw / h.size();
  std::string s;
  for (std::size_t b = 0; b < h.size(); ++b) {
    if (h[b] <= 0) continue;
    const double bh = kPh * ShareHeight(h[b], peak);
    s += "<rect class=\"bar\" x=\"" + F(kLeft + b * bw) + "\" y=\"" + F(kTop + kPh - bh) +
         "\" width=\"" + F(bw) + "\" height=\"" + F(bh) + "\" fill=\"" + color +
         "\" fill-opacity=\"0.55\"><title>" + F(100 * h[b], "%.3g") + "%</title></rect>";
  }
  return s;
}

// The dashed threshold line and its label, when the threshold is inside [lo, hi].
std::string ThresholdMarker(double threshold, double lo, double hi) {
  if (!std::isfinite(threshold) || threshold < lo || threshold > hi) return "";
  const double x = kLeft + kPw * (threshold - lo) / (hi - lo);
  const bool right = x < kLeft + kPw * 0.7;
  return "<line class=\"threshold\" x1=\"" + F(x) + "\" x2=\"" + F(x) + "\" y1=\"" + F(kTop) +
         "\" y2=\"" + F(kTop + kPh) + "\" stroke=\"#000\" stroke-dasharray=\"4 3\"/><text x=\"" +
         F(x + (right ? 4 : -4)) + "\" y=\"" + F(kTop + 12) + "\" text-anchor=\"" +
         (right ? "start" : "end") + "\"" + kHalo + ">threshold " + F(threshold, "%.4g") +
         "</text>";
}

std::string HistogramLegend(const std::string& ood_name) {
  const double lx = kLeft + 8, ly = kTop + 22;
  return "<rect x=\"" + F(lx) + "\" y=\"" + F(ly) +
         "\" width=\"10\" height=\"10\" fill=\"#1b9e77\" fill-opacity=\"0.55\"/><text x=\"" +
         F(lx + 14) + "\" y=\"" + F(ly + 9) + "\"" + kHalo + ">ID</text><rect x=\"" + F(lx) +
         "\" y=\"" + F(ly + 14) +
         "\" width=\"10\" height=\"10\" fill=\"#d95f02\" fill-opacity=\"0.55\"/><text x=\"" +
         F(lx + 14) + "\" y=\"" + F(ly + 23) + "\"" + kHalo + ">" + EscapeMarkup(ood_name) +
         "</text>";
}

}  // namespace

std::string HistogramSvg(const std::string& title, const std::string& x_label,
                         const std::vector<double>& id, const std::vector<double>& ood,
                         const std::string& ood_name, double threshold, int bins) {
  double lo, hi;
  HistogramRange(id, ood, &lo, &hi);
  const auto hid = BinShares(id, lo, hi, bins), hood = BinShares(ood, lo, hi, bins);
  double peak = 0;
  for (int b = 0; b < bins; ++b) peak = std::max({peak, hid[b], hood[b]});
  if (peak <= 0) peak = 1;
  std::vector<Tick> xt;
  for (double v : NiceTicks(lo, hi, 5)) xt.push_back({(v - lo) / (hi - lo), F(v, "%g")});
  return SvgOpen(title) + Axes(xt, x_label, ShareTicks(peak), "share of set (square-root scale)") +
         HistogramBars(hid, "#1b9e77", peak) + HistogramBars(hood, "#d95f02", peak) +
         ThresholdMarker(threshold, lo, hi) + HistogramLegend(ood_name) + "</svg>";
}

namespace {

// The per-set ROC plots' colours: 12, solid for the first 12 scores, dashed after.
const char* const kScoreColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                    "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                    "#bcbd22", "#17becf", "#393b79", "#637939"};

std::string ScoreColor(std::size_t s) { return kScoreColors[s % 12]; }
const char* ScoreDash(std::size_t s) { return s >= 12 ? " stroke-dasharray=\"5 3\"" : ""; }

// Where an FPR lies on the log axis, 0..1 from 0.001 to 1 (0 at or below 0.001).
double LogFprAt(double fpr) {
  return std::clamp((std::log10(std::max(fpr, 1e-3)) + 3) / 3, 0.0, 1.0);
}

// One OOD set's ROC curves, every score on one plot (curves[s]), on a linear or a log FPR
// axis. The emphasised scores are drawn thick, on top, with their operating points.
std::string SetRocSvg(const Report& report, std::size_t o,
                      const std::vector<std::vector<RocPoint>>& curves,
                      const std::vector<bool>& emphasis, bool log_fpr) {
  std::vector<Tick> yt;
  for (int i = 0; i <= 5; ++i) yt.push_back({i / 5.0, F(i / 5.0, "%g")});
  const std::vector<Tick> xt =
      log_fpr ? std::vector<Tick>{{0, "0.001"}, {1 / 3.0, "0.01"}, {2 / 3.0, "0.1"}, {1, "1"}} : yt;
  auto x = [&](double fpr) { return kLeft + kPw * (log_fpr ? LogFprAt(fpr) : fpr); };
  auto y = [&](double tpr) { return kTop + kPh * (1 - tpr); };
  const std::string& name = report.ood[o].name;
  std::string s = SvgOpen("ROC, " + name + (log_fpr ? ", log FPR axis" : "") + " (ID = positive)") +
                  Axes(xt,
                       log_fpr ? "FPR, log scale (share of OOD accepted as ID)"
                               : "FPR (share of OOD accepted as ID)",
                       yt, "TPR (share of ID accepted)");
  // Chance (TPR = FPR), and the TPR level: a curve's FPR there is its FPR at the level.
  s += "<polyline fill=\"none\" stroke=\"#ccc\" points=\"";
  for (int i = 0; i <= 30; ++i) {
    const double f = log_fpr ? std::pow(10.0, -3 + i / 10.0) : i / 30.0;
    s += F(x(f)) + "," + F(y(f)) + " ";
  }
  s += "\"/><line x1=\"" + F(kLeft) + "\" x2=\"" + F(kLeft + kPw) + "\" y1=\"" +
       F(y(report.options.tpr)) + "\" y2=\"" + F(y(report.options.tpr)) +
       "\" stroke=\"#888\" stroke-dasharray=\"2 3\"/>";
  for (bool top : {false, true}) {
    for (std::size_t k = 0; k < curves.size(); ++k) {
      if (emphasis[k] != top) continue;
      const Metrics& m = report.ood[o].metrics[k];
      s += "<polyline class=\"roc\" fill=\"none\" stroke=\"" + ScoreColor(k) + "\"" + ScoreDash(k) +
           " stroke-width=\"" + (top ? "2.4" : "1.2") + "\" stroke-opacity=\"" +
           (top ? "1" : "0.75") + "\" points=\"";
      for (const RocPoint& p : curves[k]) s += F(x(p.fpr)) + "," + F(y(p.tpr)) + " ";
      s += "\"><title>" + EscapeMarkup(report.scores[k].name) + " (AUROC " + Pct(m.auroc) +
           ")</title></polyline>";
      if (top && std::isfinite(m.fpr_at_tpr) && std::isfinite(m.tpr_achieved)) {
        s += "<circle class=\"operating-point\" cx=\"" + F(x(m.fpr_at_tpr)) + "\" cy=\"" +
             F(y(m.tpr_achieved)) + "\" r=\"4\" fill=\"none\" stroke=\"" + ScoreColor(k) +
             "\" stroke-width=\"2\"><title>" + EscapeMarkup(report.scores[k].name) +
             ": threshold accepts " + Pct(m.tpr_achieved) + " of ID and " + Pct(m.fpr_at_tpr) +
             " of " + EscapeMarkup(name) + "</title></circle>";
      }
    }
  }
  return s + "</svg>";
}

// A legend of the per-set ROC plots, as many columns as fit: each score's line, AUROC and FPR
// at the TPR level.
std::string RocLegend(const Report& report, std::size_t o, const std::vector<bool>& emphasis) {
  std::string h = "<div class=\"legend\"><div>line, score: AUROC / FPR@" +
                  F(100 * report.options.tpr, "%g") + " (%)</div>";
  for (std::size_t k = 0; k < report.scores.size(); ++k) {
    const Metrics& m = report.ood[o].metrics[k];
    h += "<div><span class=\"sw\" style=\"border-top-style:" +
         std::string(k >= 12 ? "dashed" : "solid") + ";border-top-color:" + ScoreColor(k) +
         (emphasis[k] ? ";border-top-width:5px" : "") + "\"></span> " +
         EscapeMarkup(report.scores[k].name) + ": " + PercentCell(m.auroc) + " / " +
         PercentCell(m.fpr_at_tpr) + "</div>";
  }
  return h + "</div>\n";
}

// One ROC per OOD set with every score on it, linear and on a log FPR axis, and its legend.
std::string RocSection(const Report& report, const ReportInput& input,
                       const std::vector<std::string>& open_scores) {
  const std::size_t n_scores = report.scores.size();
  std::vector<bool> emphasis(n_scores);
  std::string thick;
  for (std::size_t k = 0; k < n_scores; ++k) {
    const std::string& name = report.scores[k].name;
    emphasis[k] = std::find(open_scores.begin(), open_scores.end(), name) != open_scores.end();
    if (emphasis[k]) thick += (thick.empty() ? "" : ", ") + name;
  }
  // Every (set, score) curve, on every core.
  std::vector<std::vector<RocPoint>> curves(input.ood.size() * n_scores);
  ParallelFor(curves.size(), [&](std::size_t i) {
    curves[i] = RocCurve(input.id.oriented[i % n_scores],
                         input.ood[i / n_scores].oriented[i % n_scores], 200);
  });
  std::string h =
      "<h2 id=\"roc\">ROC per OOD set</h2>\n<p>Every score on one plot per OOD set: linear, "
      "and with a log FPR axis for the operating region (a curve's FPR at " +
      F(100 * report.options.tpr, "%g") + "% TPR is where it crosses the dotted line)." +
      (thick.empty() ? std::string()
                     : " Thick: " + EscapeMarkup(thick) +
                           ", with ○ their operating points at the ID threshold.") +
      "</p>\n";
  for (std::size_t o = 0; o < input.ood.size(); ++o) {
    const std::vector<std::vector<RocPoint>> set_curves(
        curves.begin() + static_cast<std::ptrdiff_t>(o * n_scores),
        curves.begin() + static_cast<std::ptrdiff_t>((o + 1) * n_scores));
    h += "<h3>" + EscapeMarkup(report.ood[o].name) + "</h3>\n<figure>" +
         SetRocSvg(report, o, set_curves, emphasis, false) + "</figure>\n<figure>" +
         SetRocSvg(report, o, set_curves, emphasis, true) + "</figure>\n" +
         RocLegend(report, o, emphasis);
  }
  return h;
}

// The ID set's risk-coverage curves (accuracy of the accepted ID images against the share
// accepted), each score's threshold marked, and the table of report.md.
std::string RiskCoverageSection(const Report& report) {
  if (report.risk_coverage.empty()) return "";
  double lo = 1;
  for (const RiskCoverage& rc : report.risk_coverage) {
    for (const auto& [c, a] : rc.curve) {
      if (std::isfinite(a)) lo = std::min(lo, a);
    }
  }
  lo = std::max(0.0, std::floor(lo * 20 - 1e-9) / 20);  // down to a multiple of 5%
  if (lo >= 1) lo = 0.95;
  auto x = [&](double c) { return kLeft + kPw * c; };
  auto y = [&](double a) { return kTop + kPh * (1 - (a - lo) / (1 - lo)); };
  std::vector<Tick> xt, yt;
  for (int i = 0; i <= 5; ++i) xt.push_back({i / 5.0, F(100 * i / 5.0, "%g") + "%"});
  for (double v : NiceTicks(lo, 1, 5)) yt.push_back({(v - lo) / (1 - lo), F(100 * v, "%g") + "%"});
  std::string s = SvgOpen("Risk-coverage, " + report.id_name + " (ID)") +
                  Axes(xt, "coverage (share of ID accepted, most ID-looking first)", yt,
                       "accuracy of the accepted");
  std::string legend;
  for (std::size_t i = 0; i < report.risk_coverage.size(); ++i) {
    const RiskCoverage& rc = report.risk_coverage[i];
    std::size_t k = 0;
    while (k < report.scores.size() && report.scores[k].name != rc.score) ++k;
    s += "<polyline class=\"risk-coverage\" fill=\"none\" stroke=\"" + ScoreColor(k) + "\"" +
         ScoreDash(k) + " stroke-width=\"2\" points=\"";
    for (const auto& [c, a] : rc.curve) {
      if (std::isfinite(a)) s += F(x(c)) + "," + F(y(a)) + " ";
    }
    s += "\"/>";
    if (std::isfinite(rc.threshold_accuracy)) {
      s += "<circle cx=\"" + F(x(rc.threshold_coverage)) + "\" cy=\"" +
           F(y(rc.threshold_accuracy)) + "\" r=\"4\" fill=\"none\" stroke=\"" + ScoreColor(k) +
           "\" stroke-width=\"2\"><title>" + EscapeMarkup(rc.score) + ": the threshold accepts " +
           Pct(rc.threshold_coverage) + " of ID, " + Pct(rc.threshold_accuracy) +
           " of them classified right</title></circle>";
    }
    s += "<text x=\"" + F(kLeft + 8) + "\" y=\"" + F(kTop + kPh - 8 - 14.0 * i) + "\" fill=\"" +
         ScoreColor(k) + "\"" + kHalo + ">" + EscapeMarkup(rc.score) + "</text>";
  }
  s += "</svg>";
  std::string h =
      "<h2 id=\"risk-coverage\">Risk-coverage (ID)</h2>\n<p>The classifier's accuracy on the ID "
      "images a score accepts, most ID-looking first, against the share accepted (○: at the "
      "score's threshold). A score that rejects the misclassified images first rises to the "
      "left. The table, in %: the share each threshold accepts and the accuracy there, then the "
      "accuracy at fixed shares accepted.</p>\n<figure>" +
      s + "</figure>\n<div class=\"scroll\"><table>\n";
  const auto rows = RiskCoverageRows(report.risk_coverage);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const char* tag = r == 0 ? "th" : "td";
    h += "<tr>";
    for (const auto& c : rows[r]) {
      h += std::string("<") + tag + ">" + EscapeMarkup(c) + "</" + tag + ">";
    }
    h += "</tr>\n";
  }
  return h + "</table></div>\n";
}

// A heat map cell: the value in percent on a red (bad) to green (good) background; goodness
// in [0, 1].
std::string HeatCell(double value, double goodness) {
  if (!std::isfinite(value)) return "<td>-</td>";
  const double hue = 120 * std::clamp(goodness, 0.0, 1.0);
  return "<td style=\"background:hsl(" + F(hue, "%.0f") + ",65%,80%)\">" + PercentCell(value) +
         "</td>";
}

// The set x score heat map of FPR at the TPR level and AUROC: a row per score, two columns per
// OOD set and the mean. Green is good: FPR 0% and AUROC 100%; red: FPR 100% and AUROC 50% or
// below.
std::string HeatMap(const Report& report) {
  std::string h =
      "<h2 id=\"heat-map\">Heat map</h2>\n<p>FPR@" + F(100 * report.options.tpr, "%g") +
      " and AUROC (%) per OOD set and score, green good, red bad (FPR 100%, AUROC 50% "
      "or below).</p><div class=\"scroll\"><table class=\"heat\">\n<tr><th rowspan=\"2\">"
      "score</th>";
  for (const auto& o : report.ood) h += "<th colspan=\"2\">" + EscapeMarkup(o.name) + "</th>";
  h += "<th colspan=\"2\">mean</th></tr>\n<tr>";
  for (std::size_t i = 0; i <= report.ood.size(); ++i) h += "<th>FPR</th><th>AUROC</th>";
  h += "</tr>\n";
  auto cells = [](const Metrics& m) {
    return HeatCell(m.fpr_at_tpr, 1 - m.fpr_at_tpr) + HeatCell(m.auroc, (m.auroc - 0.5) / 0.5);
  };
  for (std::size_t s = 0; s < report.scores.size(); ++s) {
    h += "<tr><td>" + EscapeMarkup(report.scores[s].name) + "</td>";
    for (const auto& o : report.ood) h += cells(o.metrics[s]);
    h += cells(report.mean[s]) + "</tr>\n";
  }
  return h + "</table></div>\n";
}

std::string Banner(const Report& report) {
  std::vector<const CheckResult*> failed;
  for (const auto& c : report.checks) {
    if (!c.pass) failed.push_back(&c);
  }
  if (report.checks.empty()) {
    return "<div class=\"banner none\">NO CHECKS: this run was not gated (add --gate, "
           "--baseline or --max-skipped)</div>\n";
  }
  const std::string verdict = EscapeMarkup(VerdictText(report.checks));
  if (failed.empty()) return "<div class=\"banner pass\">" + verdict + "</div>\n";
  // The first failures, enough to act on; the check table below has them all.
  constexpr std::size_t kShown = 3;
  std::string h = "<div class=\"banner fail\">" + verdict + "<ul>";
  for (std::size_t i = 0; i < failed.size() && i < kShown; ++i) {
    h += "<li>" + EscapeMarkup(failed[i]->message) + "</li>";
  }
  if (failed.size() > kShown) {
    h += "<li>and " + std::to_string(failed.size() - kShown) +
         " more (see <a href=\"#checks\">Checks</a>)</li>";
  }
  return h + "</ul></div>\n";
}

std::string Row(const std::vector<std::string>& cells, const char* tag = "td") {
  std::string h = "<tr>";
  for (const auto& c : cells) h += std::string("<") + tag + ">" + c + "</" + tag + ">";
  return h + "</tr>\n";
}

// The run stamp as a table of what a reader looks for first.
std::string RunTable(const Report& report) {
  const nlohmann::json& run = report.run;
  auto str = [&](const nlohmann::json& j) {
    return EscapeMarkup(j.is_string() ? j.get<std::string>() : DumpJson(j, -1));
  };
  std::string h = "<div class=\"scroll\"><table class=\"run\">\n";
  auto add = [&](const std::string& key, const std::string& value) {
    h += Row({EscapeMarkup(key), value});
  };
  if (run.contains("command")) add("command", str(run["command"]));
  if (!CommandLine().empty()) {  // the process that writes the report: how to make it again
    add("command line", "<code>" + EscapeMarkup(ShellQuoted(CommandLine())) + "</code>");
  }
  add("oodscore", EscapeMarkup(std::string(ToolVersion())));
  if (run.contains("model")) {
    add("model", str(run["model"].value("path", "")));
    add("model SHA-256", "<code>" + str(run["model"].value("sha256", "")) + "</code>");
    if (run["model"].contains("num_classes")) add("classes", str(run["model"]["num_classes"]));
  }
  if (run.contains("preset")) {
    std::string p = run["preset"].is_object() ? str(run["preset"].value("name", "")) : "";
    if (run.contains("preset_source")) p += " (" + str(run["preset_source"]) + ")";
    add("preset", p);
  }
  for (const char* key : {"device", "dtype", "libtorch", "batch_size", "graph", "temperatures"}) {
    if (run.contains(key)) add(key, str(run[key]));
  }
  if (run.contains("threads")) {
    add("threads", "intra-op " + str(run["threads"].value("intra_op", nlohmann::json())) +
                       ", decode workers " +
                       str(run["threads"].value("workers", nlohmann::json())));
  }
  if (run.contains("wall_seconds") && run["wall_seconds"].is_number()) {
    add("scoring time", F(run["wall_seconds"].get<double>(), "%.2f") + " s (" +
                            F(run.value("images_per_second", 0.0), "%.0f") + " images/s)");
  }
  for (const char* key : {"score_files", "id_files", "ood_files"}) {
    if (run.contains(key) && run[key].is_array() && !run[key].empty()) add(key, str(run[key]));
  }
  h += "</table></div>\n";
  return h;
}

// The document head: title and style sheet.
std::string PageHead(const Report& report) {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<title>oodscore report: " +
         EscapeMarkup(report.id_name) +
         "</title><style>"
         "body{font-family:sans-serif;margin:1em auto;padding:0 1em;max-width:1100px}"
         "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;"
         "text-align:right;white-space:nowrap}"
         "td:first-child,th:first-child{text-align:left}table.run td{text-align:left;"
         "white-space:normal;word-break:break-all}.scroll{overflow-x:auto;max-width:100%}"
         ".fail{color:#b00;font-weight:bold}.banner{padding:10px 14px;margin:0 0 1em;"
         "font-weight:bold;border-radius:4px}.banner ul{margin:4px 0 0;font-weight:normal}"
         ".pass{background:#e3f4e3;color:#145214}.banner.fail{background:#fbe3e3;color:#8a1010}"
         ".none{background:#eee;color:#333}.warn{background:#fff4d6;padding:6px 10px;margin:4px 0}"
         "figure{display:inline-block;margin:6px;width:520px;max-width:100%}"
         "svg.plot{width:100%;height:auto}summary{cursor:pointer;font-size:1.2em;margin:.6em 0}"
         ".gallery{display:flex;flex-wrap:wrap;gap:8px}figure.thumb{width:112px;margin:0;"
         "font-size:11px;line-height:1.25}figure.thumb img,.noimg{width:96px;height:96px;"
         "object-fit:contain;image-rendering:pixelated;background:#eee;display:block}"
         ".noimg{color:#777;text-align:center;line-height:96px}.path{word-break:break-all;"
         "color:#444}.wrong{color:#b00}.ci{display:block;font-size:11px;color:#555;"
         "font-weight:normal}"
         "table.heat th{text-align:center}td.best{font-weight:bold}tr.mean "
         "td{background:#f3f3f3}tr.mean td:first-child{"
         "font-weight:bold}tr:not(.mean)+tr.mean td{border-top:2px solid #555}"
         ".legend{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));"
         "gap:2px 14px;font-size:13px;margin:0 6px 1em}.sw{display:inline-block;width:22px;"
         "vertical-align:middle;border-top-width:3px}"
         "@media (max-width:600px){figure.thumb{width:84px}"
         "figure.thumb img,.noimg{width:72px;height:72px;line-height:72px}}"
         "</style></head><body>\n";
}

// The title, what the numbers mean, and the report's warnings.
std::string Intro(const Report& report) {
  std::string h = "<h1>OOD report: " + EscapeMarkup(report.id_name) +
                  " (ID, n=" + std::to_string(report.n_id) + ")</h1>\n<p>oodscore " +
                  std::string(ToolVersion()) + ". FPR at " + F(100 * report.options.tpr, "%g") +
                  "% TPR, convention <b>" + ConventionName(report.options.convention) +
                  "</b> (positive class " + ConventionPositiveClass(report.options.convention) +
                  ").";
  if (report.id_accuracy) h += " ID accuracy " + Pct(*report.id_accuracy) + ".";
  if (!report.csid.empty()) h += EscapeMarkup(CsidText(report).substr(1)) + ".";
  h += " All values in %.</p>\n";
  for (const auto& w : report.warnings) {
    h += "<p class=\"warn\">Warning: " + EscapeMarkup(w) + "</p>\n";
  }
  return h;
}

// A metrics cell with an interval or a spread ("93.12 [92.01, 94.20]", "93.12 ± 0.41") on
// two lines, the second small: the columns stay narrow enough for the page.
std::string TwoLineCell(const std::string& cell) {
  std::size_t at = cell.find(" [");
  if (at == std::string::npos) at = cell.find(" ±");
  if (at == std::string::npos) return cell;
  return cell.substr(0, at) + "<span class=\"ci\">" + cell.substr(at + 1) + "</span>";
}

// The metrics: a row per OOD set and score, then the means over the sets.
std::string MetricsTable(const Report& report) {
  std::string h =
      "<div class=\"scroll\"><table>" +
      Row({"OOD set", "n", "score", "FPR@" + F(100 * report.options.tpr, "%g") + " (%) ↓",
           "AUROC (%) ↑", "AUPR-In (%) ↑", "AUPR-Out (%) ↑", "DetErr (%) ↓"},
          "th");
  // Each set's best value among the scores in bold; the mean rows set apart below a rule.
  auto row = [&](const std::string& set, std::size_t n, const std::string& score,
                 const std::vector<Metrics>& metrics, const std::vector<Metrics>& spread,
                 std::size_t s, bool mean) {
    h += mean ? "<tr class=\"mean\">" : "<tr>";
    h += "<td>" + EscapeMarkup(set) + "</td><td>" + std::to_string(n) + "</td><td>" +
         EscapeMarkup(score) + "</td>";
    const std::vector<bool> best = BestCells(metrics)[s];
    const auto cells = MetricCells(metrics[s], spread.empty() ? nullptr : &spread[s]);
    for (std::size_t c = 0; c < cells.size(); ++c) {
      h += (best[c] ? "<td class=\"best\">" : "<td>") + TwoLineCell(cells[c]) + "</td>";
    }
    h += "</tr>\n";
  };
  for (const auto& o : report.ood) {
    for (std::size_t s = 0; s < report.scores.size(); ++s) {
      row(o.name, report.subsample ? o.drawn : o.n, report.scores[s].name, o.metrics, o.spread, s,
          false);
    }
  }
  for (std::size_t s = 0; s < report.scores.size(); ++s) {
    row("mean", report.mean[s].n_ood, report.scores[s].name, report.mean, report.mean_spread, s,
        true);
  }
  for (const auto& g : report.groups) {
    for (std::size_t s = 0; s < report.scores.size(); ++s) {
      row(g.group.name + " mean", g.mean[s].n_ood, report.scores[s].name, g.mean, g.spread, s,
          true);
    }
  }
  h += "</table></div>\n";
  if (report.scores.size() > 1) h += "<p>Each set's best value among the scores is in bold.</p>\n";
  if (report.subsample) {
    h += "<p>Each OOD row is the mean ± std (population) over " +
         std::to_string(report.subsample->repeats) + " draws of " +
         F(report.subsample->fraction, "%g") + " × n_id samples without replacement (seed " +
         std::to_string(report.subsample->seed) + "); n is the samples per draw.</p>\n";
  }
  for (const auto& g : report.groups) {
    std::string names;
    for (const auto& n : g.group.sets) names += (names.empty() ? "" : ", ") + n;
    h += "<p>Group " + EscapeMarkup(g.group.name) + ": " + EscapeMarkup(names) + ".</p>\n";
  }
  return h;
}

// The gate's checks, failing rows marked; "" for an ungated run.
std::string ChecksTable(const Report& report) {
  if (report.checks.empty()) return "";
  std::string h = "<h2 id=\"checks\">Checks</h2><div class=\"scroll\"><table>" +
                  Row({"check", "baseline", "value", "change", "allowed", "verdict"}, "th");
  for (const auto& c : report.checks) {
    h += std::string("<tr") + (c.pass ? ">" : " class=\"fail\">") + "<td><code>" +
         EscapeMarkup(c.subject) + "</code></td>";
    for (std::string cell : CheckCells(c)) {
      if (cell == "**FAIL**") cell = "FAIL";
      h += "<td>" + EscapeMarkup(cell) + "</td>";
    }
    h += "</tr>\n";
  }
  return h + "</table></div>\n";
}

// Score s's collapsible section: its accept rule and a histogram of ID against each OOD set
// (in the score's own units).
std::string ScoreSection(const Report& report, const ReportInput& input, std::size_t s, bool open) {
  const ScoreInfo& info = report.scores[s];
  auto raw = [&](const std::vector<double>& oriented) {
    std::vector<double> v(oriented.size());
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = RawThreshold(info, oriented[i]);
    return v;
  };
  const std::string orientation = OrientationText(info.orientation);
  const auto id_raw = raw(input.id.oriented[s]);
  const double t = RawThreshold(info, report.id_thresholds[s].threshold);
  std::string h = std::string("<details") + (open ? " open" : "") + "><summary>" +
                  EscapeMarkup(info.name) + " (" + orientation +
                  ")</summary>\n<p>Accept as ID when <code>" + EscapeMarkup(AcceptRule(info, t)) +
                  "</code> (" + Pct(report.id_thresholds[s].tpr_achieved) +
                  " of ID accepted).</p>\n";
  for (std::size_t o = 0; o < input.ood.size(); ++o) {
    h += "<figure>" +
         HistogramSvg(info.name + ": " + report.id_name + " vs " + input.ood[o].name,
                      info.name + " (" + orientation + ")", id_raw, raw(input.ood[o].oriented[s]),
                      input.ood[o].name, t) +
         "</figure>\n";
  }
  return h + "</details>\n";
}

// Every score's section, made on every core (histograms and ROC curves walk every score).
std::string ScoreSections(const Report& report, const ReportInput& input,
                          const std::vector<std::string>& open_scores) {
  std::vector<std::string> sections(report.scores.size());
  ParallelFor(sections.size(), [&](std::size_t s) {
    const std::string& name = report.scores[s].name;
    sections[s] =
        ScoreSection(report, input, s,
                     std::find(open_scores.begin(), open_scores.end(), name) != open_scores.end());
  });
  std::string h;
  for (const auto& section : sections) h += section;
  return h;
}

// The sets' counts, and the skipped files when there are any.
std::string SetsTable(const Report& report) {
  std::string h = "<h2>Sets</h2><div class=\"scroll\"><table>" +
                  Row({"set", "role", "found", "scored", "skipped"}, "th");
  for (std::size_t i = 0; i < report.sets.size(); ++i) {
    const SetCounts& c = report.sets[i];
    h += Row({EscapeMarkup(c.name), SetRoleLabel(report, i), std::to_string(c.found),
              std::to_string(c.scored), std::to_string(c.skipped)});
  }
  h += "</table></div>\n";
  if (!report.skipped.empty()) {
    h += "<details><summary>Skipped files (" + std::to_string(report.skipped.size()) +
         ")</summary><div class=\"scroll\"><table>" + Row({"set", "file", "reason"}, "th");
    for (const auto& k : report.skipped) {
      h += Row({EscapeMarkup(k.set), EscapeMarkup(k.path), EscapeMarkup(k.reason)});
    }
    h += "</table></div></details>\n";
  }
  return h;
}

// The run table, then the whole run stamp as JSON.
std::string RunSection(const Report& report) {
  return "<h2>Run</h2>\n" + RunTable(report) +
         "<details><summary>Full run stamp (JSON)</summary><pre>" +
         EscapeMarkup(DumpJson(report.run)) + "</pre></details>\n";
}

}  // namespace

std::string ReportHtml(const Report& report, const ReportInput& input,
                       const std::vector<std::string>& open_scores) {
  return PageHead(report) + Banner(report) + Intro(report) + MetricsTable(report) +
         HeatMap(report) + ChecksTable(report) +
         (report.gallery ? GalleryHtml(*report.gallery) : std::string()) +
         (report.per_class ? ClassBreakdownHtml(*report.per_class) : std::string()) +
         RiskCoverageSection(report) + RocSection(report, input, open_scores) +
         ScoreSections(report, input, open_scores) + SetsTable(report) + RunSection(report) +
         "</body></html>\n";
}

}  // namespace oodscore
