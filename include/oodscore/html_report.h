// report.html: one self-contained page (inline SVG, no scripts, no network) with the
// metrics table, score histograms of ID vs each OOD set with the ID-calibrated threshold
// drawn, and ROC curves.
#ifndef OODSCORE_HTML_REPORT_H_
#define OODSCORE_HTML_REPORT_H_

#include <string>
#include <vector>

#include "oodscore/report.h"

namespace oodscore {

// input must be the ReportInput the report was built from (the oriented scores).
// Histograms are drawn for plot_scores (score names; those absent are ignored), in the
// scores' own units.
std::string ReportHtml(const Report& report, const ReportInput& input,
                       const std::vector<std::string>& plot_scores = {"energy", "msp"});

// A histogram as an SVG element (exposed for tests). Values in the score's own units.
std::string HistogramSvg(const std::string& title, const std::vector<double>& id,
                         const std::vector<double>& ood, const std::string& ood_name,
                         double threshold, int bins = 40);

}  // namespace oodscore

#endif  // OODSCORE_HTML_REPORT_H_
