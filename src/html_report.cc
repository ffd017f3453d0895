#include "oodscore/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "oodscore/version.h"

namespace oodscore {

namespace {

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
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
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string F(double v, const char* fmt = "%.1f") {
  char buf[40];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

constexpr double kW = 520, kH = 260, kLeft = 50, kRight = 10, kTop = 28, kBottom = 34;
const char* const kColors[] = {"#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d"};

std::string Axes(const std::string& title, double x0, double x1, const std::string& y_label) {
  const double pw = kW - kLeft - kRight, ph = kH - kTop - kBottom;
  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + F(kW, "%.0f") +
                  "\" height=\"" + F(kH, "%.0f") +
                  "\" font-family=\"sans-serif\" font-size=\"11\">";
  s += "<text x=\"" + F(kW / 2) + "\" y=\"16\" text-anchor=\"middle\" font-size=\"13\">" +
       Escape(title) + "</text>";
  s += "<rect x=\"" + F(kLeft) + "\" y=\"" + F(kTop) + "\" width=\"" + F(pw) + "\" height=\"" +
       F(ph) + "\" fill=\"none\" stroke=\"#888\"/>";
  for (int i = 0; i <= 4; ++i) {
    const double x = kLeft + pw * i / 4;
    s += "<text x=\"" + F(x) + "\" y=\"" + F(kH - kBottom + 14) + "\" text-anchor=\"middle\">" +
         F(x0 + (x1 - x0) * i / 4, "%.3g") + "</text>";
  }
  s += "<text x=\"12\" y=\"" + F(kTop + ph / 2) + "\" transform=\"rotate(-90 12 " +
       F(kTop + ph / 2) + ")\" text-anchor=\"middle\">" + y_label + "</text>";
  return s;
}

}  // namespace

std::string HistogramSvg(const std::string& title, const std::vector<double>& id,
                         const std::vector<double>& ood, const std::string& ood_name,
                         double threshold, int bins) {
  double lo = INFINITY, hi = -INFINITY;
  for (const auto* v : {&id, &ood}) {
    for (double x : *v) {
      if (!std::isfinite(x)) continue;
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
  }
  if (!(lo <= hi)) lo = hi = 0;
  if (hi == lo) {
    lo -= 0.5;
    hi += 0.5;
  }
  auto hist = [&](const std::vector<double>& v) {
    std::vector<double> h(bins, 0);
    for (double x : v) {
      if (!std::isfinite(x)) continue;
      int b = static_cast<int>((x - lo) / (hi - lo) * bins);
      h[std::clamp(b, 0, bins - 1)] += 1.0 / v.size();
    }
    return h;
  };
  const auto hid = hist(id), hood = hist(ood);
  double peak = 0;
  for (int b = 0; b < bins; ++b) peak = std::max({peak, hid[b], hood[b]});
  if (peak <= 0) peak = 1;
  const double pw = kW - kLeft - kRight, ph = kH - kTop - kBottom, bw = pw / bins;
  std::string s = Axes(title, lo, hi, "share of set");
  auto bars = [&](const std::vector<double>& h, const char* color) {
    for (int b = 0; b < bins; ++b) {
      if (h[b] <= 0) continue;
      const double bh = ph * h[b] / peak;
      s += "<rect class=\"bar\" x=\"" + F(kLeft + b * bw) + "\" y=\"" + F(kTop + ph - bh) +
           "\" width=\"" + F(bw) + "\" height=\"" + F(bh) + "\" fill=\"" + color +
           "\" fill-opacity=\"0.55\"/>";
    }
  };
  bars(hid, "#1b9e77");
  bars(hood, "#d95f02");
  if (std::isfinite(threshold) && threshold >= lo && threshold <= hi) {
    const double x = kLeft + pw * (threshold - lo) / (hi - lo);
    s += "<line class=\"threshold\" x1=\"" + F(x) + "\" x2=\"" + F(x) + "\" y1=\"" + F(kTop) +
         "\" y2=\"" + F(kTop + ph) + "\" stroke=\"#000\" stroke-dasharray=\"4 3\"/>";
  }
  s += "<rect x=\"" + F(kLeft + 8) + "\" y=\"" + F(kTop + 6) +
       "\" width=\"10\" height=\"10\" fill=\"#1b9e77\" fill-opacity=\"0.55\"/><text x=\"" +
       F(kLeft + 22) + "\" y=\"" + F(kTop + 15) + "\">ID</text>";
  s += "<rect x=\"" + F(kLeft + 8) + "\" y=\"" + F(kTop + 20) +
       "\" width=\"10\" height=\"10\" fill=\"#d95f02\" fill-opacity=\"0.55\"/><text x=\"" +
       F(kLeft + 22) + "\" y=\"" + F(kTop + 29) + "\">" + Escape(ood_name) + "</text><text x=\"" +
       F(kLeft + 8) + "\" y=\"" + F(kTop + 44) + "\">- - ID threshold</text></svg>";
  return s;
}

namespace {

std::string RocSvg(const Report& report, const ReportInput& input, std::size_t score) {
  const double pw = kW - kLeft - kRight, ph = kH - kTop - kBottom;
  std::string s = Axes("ROC, " + report.scores[score].name + " (ID positive)", 0, 1, "TPR");
  s += "<line x1=\"" + F(kLeft) + "\" y1=\"" + F(kTop + ph) + "\" x2=\"" + F(kLeft + pw) +
       "\" y2=\"" + F(kTop) + "\" stroke=\"#ccc\"/>";
  for (std::size_t o = 0; o < input.ood.size(); ++o) {
    const char* color = kColors[o % 6];
    auto curve = RocCurve(input.id.oriented[score], input.ood[o].oriented[score]);
    s += "<polyline class=\"roc\" fill=\"none\" stroke=\"" + std::string(color) +
         "\" stroke-width=\"1.5\" points=\"";
    for (const auto& p : curve) s += F(kLeft + pw * p.fpr) + "," + F(kTop + ph * (1 - p.tpr)) + " ";
    s += "\"/><text x=\"" + F(kLeft + pw - 6) + "\" y=\"" + F(kTop + ph - 8 - 14.0 * o) +
         "\" text-anchor=\"end\" fill=\"" + color + "\">" + Escape(input.ood[o].name) + " (AUROC " +
         F(100 * report.ood[o].metrics[score].auroc, "%.2f") + "%)</text>";
  }
  s += "<text x=\"" + F(kLeft + pw / 2) + "\" y=\"" + F(kH - 4) +
       "\" text-anchor=\"middle\">FPR</text></svg>";
  return s;
}

}  // namespace

std::string ReportHtml(const Report& report, const ReportInput& input,
                       const std::vector<std::string>& plot_scores) {
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>oodscore report: " +
      Escape(report.id_name) +
      "</title><style>body{font-family:sans-serif;margin:2em;max-width:1100px}"
      "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
      "td:first-child,th:first-child{text-align:left}.fail{color:#b00;font-weight:bold}"
      "figure{display:inline-block;margin:6px}</style></head><body>\n";
  h += "<h1>OOD report: " + Escape(report.id_name) + " (ID, n=" + std::to_string(report.n_id) +
       ")</h1>\n<p>oodscore " + std::string(ToolVersion()) + ". FPR at " +
       F(100 * report.options.tpr, "%g") + "% TPR, convention <b>" +
       ConventionName(report.options.convention) + "</b> (positive class " +
       ConventionPositiveClass(report.options.convention) + ").";
  if (report.id_accuracy) h += " ID accuracy " + F(100 * *report.id_accuracy, "%.2f") + "%.";
  h += "</p>\n<table><tr><th>OOD set</th><th>n</th><th>score</th><th>FPR ↓</th><th>AUROC ↑</th>"
       "<th>AUPR-In ↑</th><th>AUPR-Out ↑</th><th>DetErr ↓</th></tr>\n";
  auto row = [&](const std::string& set, std::size_t n, const std::string& score,
                 const Metrics& m) {
    h += "<tr><td>" + Escape(set) + "</td><td>" + std::to_string(n) + "</td><td>" + Escape(score) +
         "</td><td>" + F(100 * m.fpr_at_tpr, "%.2f") + "</td><td>" + F(100 * m.auroc, "%.2f") +
         "</td><td>" + F(100 * m.aupr_in, "%.2f") + "</td><td>" + F(100 * m.aupr_out, "%.2f") +
         "</td><td>" + F(100 * m.detection_error, "%.2f") + "</td></tr>\n";
  };
  for (const auto& o : report.ood) {
    for (std::size_t s = 0; s < report.scores.size(); ++s)
      row(o.name, o.n, report.scores[s].name, o.metrics[s]);
  }
  {
    for (std::size_t s = 0; s < report.scores.size(); ++s) {
      row("mean", report.mean[s].n_ood, report.scores[s].name, report.mean[s]);
    }
  }
  h += "</table>\n";
  if (!report.checks.empty()) {
    h += "<h2>Checks</h2><ul>\n";
    for (const auto& c : report.checks) {
      h += std::string("<li") + (c.pass ? ">" : " class=\"fail\">FAIL: ") + Escape(c.message) +
           "</li>\n";
    }
    h += "</ul>\n";
  }
  for (const std::string& name : plot_scores) {
    std::size_t s = 0;
    while (s < report.scores.size() && report.scores[s].name != name) ++s;
    if (s == report.scores.size()) continue;
    const ScoreInfo& info = report.scores[s];
    auto raw = [&](const std::vector<double>& oriented) {
      std::vector<double> v(oriented.size());
      for (std::size_t i = 0; i < v.size(); ++i) v[i] = RawThreshold(info, oriented[i]);
      return v;
    };
    const auto id_raw = raw(input.id.oriented[s]);
    const double t = RawThreshold(info, report.id_thresholds[s].threshold);
    h += "<h2>" + Escape(name) + "</h2>\n<p>Accept as ID when " + Escape(AcceptRule(info, t)) +
         ".</p>\n";
    for (std::size_t o = 0; o < input.ood.size(); ++o) {
      h += "<figure>" +
           HistogramSvg(name + ": " + report.id_name + " vs " + input.ood[o].name, id_raw,
                        raw(input.ood[o].oriented[s]), input.ood[o].name, t) +
           "</figure>\n";
    }
    h += "<figure>" + RocSvg(report, input, s) + "</figure>\n";
  }
  h += "<h2>Run</h2><pre>" + Escape(report.run.dump(2)) + "</pre>\n</body></html>\n";
  return h;
}

}  // namespace oodscore
