// report.html: one self-contained page (inline SVG, no scripts, no network) with the
// metrics table, score histograms of ID vs each OOD set with the ID-calibrated threshold
// drawn, and ROC curves.
#ifndef OODSCORE_HTML_REPORT_H_
#define OODSCORE_HTML_REPORT_H_

#include <string>
#include <string_view>
#include <vector>

#include "oodscore/report.h"

namespace oodscore {

// input must be the ReportInput the report was built from (the oriented scores). The metrics
// table marks each set's best value among the scores in bold and sets the mean rows apart.
// Each OOD set gets one ROC plot with every score on it, linear and with a log FPR axis (the
// operating region), open_scores drawn thick with their operating points. Every score gets a
// section with its histograms (ID against each OOD set, in the score's own units); the
// sections of open_scores start expanded, the others collapsed. The page opens with a
// PASS / FAIL banner naming the failing checks, and reads on a 500 px screen.
std::string ReportHtml(const Report& report, const ReportInput& input,
                       const std::vector<std::string>& open_scores = {"energy", "msp"});

// Escapes text for HTML and XML: & < > " ' become entities, control characters that XML 1.0
// forbids are dropped, and bytes that are not valid UTF-8 become U+FFFD.
std::string EscapeMarkup(std::string_view text);

// A histogram as an SVG element (exposed for tests). Values in the score's own units.
// x_label names the score and its orientation ("energy, lower = ID"); the y axis shows the
// share of each set on a square-root scale, so that a spike leaves the rest visible.
std::string HistogramSvg(const std::string& title, const std::string& x_label,
                         const std::vector<double>& id, const std::vector<double>& ood,
                         const std::string& ood_name, double threshold, int bins = 40);

}  // namespace oodscore

#endif  // OODSCORE_HTML_REPORT_H_
