#include "oodscore/report.h"

#include <gtest/gtest.h>

#include <cmath>

#include "oodscore/error.h"
#include "oodscore/gate.h"
#include "oodscore/html_report.h"

namespace oodscore {
namespace {

// METRICS.md example W, as raw energies (energy = -oriented score).
ReportInput ExampleW() {
  ReportInput in;
  ScoreInfo energy;
  LookupScore("energy", &energy);
  in.scores = {energy};
  in.id.name = "id";
  std::vector<double> id;
  for (int v = 20; v >= 3; --v) id.push_back(v);
  id.push_back(1.0);
  id.push_back(0.0);
  in.id.oriented = {id};
  in.ood.push_back({"far", {{2.5, 1.0, 1.0, 0.5, 0.5, -1, -2, -3, -4, -5}}});
  in.ood.push_back({"near", {{20, 19, 18, 1, 0, -1, -2, -3, -4, -5}}});
  return in;
}

TEST(ReportTest, MetricsMatchTheWorkedExample) {
  Report r = BuildReport(ExampleW());
  ASSERT_EQ(r.ood.size(), 2u);
  const Metrics& m = r.ood[0].metrics[0];
  EXPECT_NEAR(m.fpr_at_tpr, 0.30, 1e-12);
  EXPECT_NEAR(m.auroc, 0.965, 1e-12);
  EXPECT_NEAR(m.aupr_in, 0.98318, 1e-5);
  EXPECT_NEAR(m.aupr_out, 0.92197, 1e-5);
  EXPECT_NEAR(r.mean[0].auroc, (r.ood[0].metrics[0].auroc + r.ood[1].metrics[0].auroc) / 2, 1e-15);
  EXPECT_EQ(r.mean[0].n_ood, 20u);
}

TEST(ReportTest, ThresholdIsReportedInEnergyUnits) {
  Report r = BuildReport(ExampleW());
  // Oriented threshold 1.0 (the 19th best ID score) is energy -1.0: accept when energy <= -1.
  EXPECT_DOUBLE_EQ(RawThreshold(r.scores[0], r.id_thresholds[0].threshold), -1.0);
  nlohmann::json j = ReportJson(r);
  EXPECT_EQ(j["ood"][0]["metrics"]["energy"]["accept_as_id"], "energy <= -1");
  EXPECT_EQ(j["ood"][0]["metrics"]["energy"]["threshold"], -1.0);
  EXPECT_EQ(j["fpr_convention"], "exact");
  EXPECT_EQ(j["positive_class"], "id");
  EXPECT_EQ(j["id"]["n"], 20);
  EXPECT_EQ(j["ood"][1]["name"], "near");
  EXPECT_TRUE(j["mean"]["energy"].contains("auroc"));
  EXPECT_EQ(j["tool"]["name"], "oodscore");
}

TEST(ReportTest, MspThresholdIsConvertedFromLogMsp) {
  ScoreInfo msp;
  LookupScore("msp", &msp);
  EXPECT_DOUBLE_EQ(RawThreshold(msp, std::log(0.9)), 0.9);
  EXPECT_EQ(AcceptRule(msp, 0.5), "msp >= 0.5");
}

TEST(ReportTest, MarkdownHasARowPerSetAndAMeanRow) {
  Report r = BuildReport(ExampleW());
  const std::string md = ReportMarkdown(r);
  EXPECT_NE(md.find("| far | 10 | energy | 30.00 | 96.50 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| **mean** | 20 | energy |"), std::string::npos) << md;
  EXPECT_NE(md.find("convention exact (positive class: id)"), std::string::npos) << md;
}

TEST(ReportTest, MarkdownOpensWithTheVerdictAndTheFailures) {
  Report r = BuildReport(ExampleW());
  std::string md = ReportMarkdown(r);
  EXPECT_EQ(md.rfind("# OOD report: id (ID) vs far, near\n\nOK (no checks)\n\n", 0), 0u) << md;
  for (int i = 0; i < 5; ++i) {
    CheckResult c;
    c.subject = "far.energy.auroc" + std::to_string(i);
    c.pass = i == 0;
    c.message = "message " + std::to_string(i);
    r.checks.push_back(c);
  }
  md = ReportMarkdown(r);
  const std::size_t verdict =
      md.find("**FAIL**: 4 of 5 checks failed\n- `far.energy.auroc1`: message 1\n");
  EXPECT_NE(verdict, std::string::npos) << md;
  EXPECT_LT(verdict, md.find("| OOD set |")) << md;          // before the tables
  EXPECT_EQ(md.find("message 0"), std::string::npos) << md;  // passing checks: in the table only
  const std::string html = ReportHtml(r, ExampleW());
  EXPECT_NE(
      html.find("FAIL: 4 of 5 checks failed<ul><li>message 1</li><li>message 2</li><li>message "
                "3</li><li>and 1 more (see <a href=\"#checks\">Checks</a>)</li></ul>"),
      std::string::npos)
      << html;
  EXPECT_EQ(html.find("<li>message 4</li>"), std::string::npos);
}

TEST(ReportTest, EmptySetIsAnError) {
  ReportInput in = ExampleW();
  in.ood[0].oriented[0].clear();
  EXPECT_THROW(BuildReport(in), Error);
}

TEST(ReportTest, HtmlIsSelfContainedWithPlots) {
  ReportInput in = ExampleW();
  Report r = BuildReport(in);
  const std::string html = ReportHtml(r, in);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("class=\"bar\""), std::string::npos);
  EXPECT_NE(html.find("class=\"threshold\""), std::string::npos);
  EXPECT_NE(html.find("class=\"roc\""), std::string::npos);
  // No links out: the only URL is the SVG namespace.
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
}

TEST(ReportTest, HistogramDrawsTheThresholdInsideTheRange) {
  const std::string svg =
      HistogramSvg("t", "energy (lower = ID)", {0, 1, 2}, {3, 4}, "ood<&>", 1.5, 4);
  EXPECT_NE(svg.find("class=\"threshold\""), std::string::npos);
  EXPECT_NE(svg.find("ood&lt;&amp;&gt;"), std::string::npos);
  const std::string outside = HistogramSvg("t", "x", {0, 1}, {2}, "o", 99, 4);
  EXPECT_EQ(outside.find("class=\"threshold\""), std::string::npos);
}

TEST(ReportTest, HtmlReadsAtAGlance) {
  ReportInput in = ExampleW();
  Report r = BuildReport(in);
  r.run = {{"command", "eval"},
           {"model", {{"path", "m.pt"}, {"sha256", "abc123"}}},
           {"device", "cpu"},
           {"preset", {{"name", "cifar10"}}}};
  std::string html = ReportHtml(r, in);
  EXPECT_NE(html.find("<div class=\"banner none\">NO CHECKS"), std::string::npos);
  EXPECT_NE(html.find("name=\"viewport\""), std::string::npos);        // phones
  EXPECT_NE(html.find("viewBox=\"0 0 520 280\""), std::string::npos);  // SVGs scale
  EXPECT_NE(html.find("<div class=\"scroll\"><table>"), std::string::npos);
  EXPECT_NE(html.find("AUROC (%)"), std::string::npos);
  EXPECT_NE(html.find("<td>model SHA-256</td><td><code>abc123</code></td>"), std::string::npos);
  // The stamp is a table; its JSON is collapsed below it.
  EXPECT_NE(html.find("<details><summary>Full run stamp (JSON)</summary><pre>{"),
            std::string::npos);
  // Every reported score has a section; energy and msp start open.
  for (const auto& s : r.scores) {
    EXPECT_NE(html.find("<summary>" + s.name + " ("), std::string::npos) << s.name;
  }
  EXPECT_NE(html.find("class=\"operating-point\""), std::string::npos);
  CheckResult pass;
  pass.subject = pass.expr = "x.energy.auroc";
  r.checks = {pass};
  EXPECT_NE(ReportHtml(r, in).find("<div class=\"banner pass\">PASS: all 1 checks passed"),
            std::string::npos);
}

TEST(ReportTest, HistogramAxesNameTheScoreAndUseRoundTicks) {
  std::vector<double> id, ood;
  for (int i = 0; i < 1000; ++i) id.push_back(i < 900 ? 1.0 : 0.001 * i);  // a spike at 1.0
  for (int i = 0; i < 100; ++i) ood.push_back(0.3 + 0.005 * i);
  const std::string svg = HistogramSvg("t", "msp (higher = ID)", id, ood, "o", 0.8123456);
  EXPECT_NE(svg.find(">msp (higher = ID)</text>"), std::string::npos);
  EXPECT_NE(svg.find(">share of set (square-root scale)</text>"), std::string::npos);
  EXPECT_NE(svg.find(">0.4</text>"), std::string::npos);  // round x ticks
  EXPECT_NE(svg.find(">threshold 0.8123</text>"), std::string::npos);
  EXPECT_NE(svg.find("class=\"ytick\""), std::string::npos);
  // The spike (90% of ID in one bin) does not flatten the rest: on the square-root scale the
  // 10% tick sits at about a third of the plot's height (sqrt(0.1 / 0.92)), not at a ninth.
  EXPECT_NE(svg.find("<text x=\"52.0\" y=\"171.3\" text-anchor=\"end\">10%</text>"),
            std::string::npos)
      << svg;
}

TEST(ReportTest, MarkupEscapesNamesAndRepairsBadUtf8) {
  EXPECT_EQ(EscapeMarkup("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
  EXPECT_EQ(EscapeMarkup("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(EscapeMarkup("bad\xFFname\x01"), "bad\xEF\xBF\xBDname");
  EXPECT_EQ(EscapeMarkup("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(ReportTest, WarningsFlagReversedScoresAndBelowChanceAccuracy) {
  ReportInput in = ExampleW();
  std::swap(in.id.oriented, in.ood[0].oriented);
  Report r = BuildReport(in);
  ASSERT_FALSE(r.warnings.empty());
  EXPECT_NE(r.warnings[0].find("looks reversed"), std::string::npos) << r.warnings[0];
  EXPECT_EQ(BelowChanceWarning(0.5, 10), "");
  EXPECT_NE(BelowChanceWarning(0.05, 10).find("below chance (1/10 = 10%)"), std::string::npos);
  EXPECT_EQ(SetsSummary({{"id", 10, 10, 0}, {"ood", 5, 3, 2}}), "id 10/10, ood 3/5 (2 skipped)");
}

}  // namespace
}  // namespace oodscore
