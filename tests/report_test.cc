#include "oodscore/report.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

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
  // A plain file's column (not a score the tool computes) may be read the wrong way round.
  in.scores[0].name = "my_detector";
  EXPECT_NE(BuildReport(in).warnings[0].find("check --lower-is-id / --higher-is-id (`metrics`)"),
            std::string::npos);
  EXPECT_EQ(BelowChanceWarning(0.5, 10), "");
  EXPECT_NE(BelowChanceWarning(0.05, 10).find("below chance (1/10 = 10%)"), std::string::npos);
  EXPECT_EQ(SetsSummary({{"id", 10, 10, 0}, {"ood", 5, 3, 2}}), "id 10/10, ood 3/5 (2 skipped)");
}

// Two scores on one random ID set and two OOD sets, in row order (the same sample at the same
// index in both scores), as InputFromTable makes them for a subsample protocol.
ReportInput TwoScoresInRowOrder() {
  ReportInput in;
  ScoreInfo energy, msp;
  LookupScore("energy", &energy);
  LookupScore("msp", &msp);
  in.scores = {energy, msp};
  std::mt19937_64 rng(11);
  std::normal_distribution<double> z(0, 1);
  auto set = [&](const std::string& name, int n, double shift) {
    SetScores s;
    s.name = name;
    s.oriented.resize(2);
    for (int i = 0; i < n; ++i) {
      const double a = std::round(4 * (z(rng) + shift)) / 4;  // ties
      s.oriented[0].push_back(a);
      s.oriented[1].push_back(a + 0.5 * z(rng));
    }
    s.row_order = s.oriented;
    return s;
  };
  in.id = set("id", 50, 1.0);
  in.ood.push_back(set("near", 37, 0.3));
  in.ood.push_back(set("far", 23, -1.0));
  return in;
}

TEST(ReportTest, SubsampleDrawIsWithoutReplacementReproducibleAndUniform) {
  std::vector<int> hits(20, 0);
  for (int r = 0; r < 2000; ++r) {
    const std::vector<std::size_t> d = SubsampleDraw(20, 5, 3, 1, r);
    ASSERT_EQ(d.size(), 5u);
    std::vector<std::size_t> sorted = d;
    std::sort(sorted.begin(), sorted.end());
    ASSERT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "repeat " << r;
    ASSERT_LT(sorted.back(), 20u);
    for (std::size_t i : d) ++hits[i];
  }
  for (int h : hits) {  // 500 expected, binomial sd ~19.4: within 5 sd
    EXPECT_GT(h, 500 - 97);
    EXPECT_LT(h, 500 + 97);
  }
  EXPECT_EQ(SubsampleDraw(20, 5, 3, 1, 7), SubsampleDraw(20, 5, 3, 1, 7));
  EXPECT_NE(SubsampleDraw(20, 5, 3, 1, 7), SubsampleDraw(20, 5, 3, 2, 7));
  EXPECT_NE(SubsampleDraw(20, 5, 3, 1, 7), SubsampleDraw(20, 5, 4, 1, 7));
  EXPECT_EQ(SubsampleDraw(20, 20, 3, 1, 7).size(), 20u);
}

// The energy paper's protocol, against a brute force over the same draws: each set's metrics
// are the mean over draws, its std the population std, the same draw for both scores; the
// mean row's std is over the draws' means over the sets.
TEST(ReportTest, SubsampleMeansAndSpreadsEqualABruteForceOverTheDraws) {
  ReportInput in = TwoScoresInRowOrder();
  in.subsample = SubsampleProtocol{0.4, 7, 5};  // 20 of the 50 ID samples' size per draw
  const Report r = BuildReport(in);
  ASSERT_TRUE(r.subsample);
  std::vector<std::vector<std::vector<Metrics>>> by_draw(2);  // [set][score][draw]
  for (std::size_t o = 0; o < 2; ++o) {
    EXPECT_EQ(r.ood[o].drawn, 20u);
    EXPECT_EQ(r.ood[o].n, in.ood[o].oriented[0].size());
    by_draw[o].resize(2);
    for (int k = 0; k < 7; ++k) {
      const auto pick = SubsampleDraw(in.ood[o].row_order[0].size(), 20, 5, o, k);
      for (std::size_t s = 0; s < 2; ++s) {
        std::vector<double> sub;
        for (std::size_t i : pick) sub.push_back(in.ood[o].row_order[s][i]);
        by_draw[o][s].push_back(ComputeMetrics(in.id.oriented[s], sub, in.options));
      }
    }
    for (std::size_t s = 0; s < 2; ++s) {
      double sum = 0, ss = 0;
      for (const Metrics& m : by_draw[o][s]) sum += m.auroc;
      const double mean = sum / 7;
      for (const Metrics& m : by_draw[o][s]) ss += (m.auroc - mean) * (m.auroc - mean);
      EXPECT_DOUBLE_EQ(r.ood[o].metrics[s].auroc, mean) << o << " " << s;
      EXPECT_NEAR(r.ood[o].spread[s].auroc, std::sqrt(ss / 7), 1e-15) << o << " " << s;
      EXPECT_GT(r.ood[o].spread[s].auroc, 0.0);
      double fpr = 0;
      for (const Metrics& m : by_draw[o][s]) fpr += m.fpr_at_tpr / 7;
      EXPECT_DOUBLE_EQ(r.ood[o].metrics[s].fpr_at_tpr, fpr);
    }
  }
  for (std::size_t s = 0; s < 2; ++s) {
    std::vector<double> means;
    for (int k = 0; k < 7; ++k) {
      means.push_back((by_draw[0][s][k].auroc + by_draw[1][s][k].auroc) / 2);
    }
    double mu = 0, ss = 0;
    for (double v : means) mu += v / 7;
    for (double v : means) ss += (v - mu) * (v - mu);
    EXPECT_NEAR(r.mean[s].auroc, mu, 1e-15);
    EXPECT_NEAR(r.mean_spread[s].auroc, std::sqrt(ss / 7), 1e-15);
  }
  const nlohmann::json j = ReportJson(r);
  EXPECT_EQ(j["ood_subsample"]["repeats"], 7);
  EXPECT_EQ(j["ood"][0]["n_drawn"], 20);
  EXPECT_DOUBLE_EQ(j["ood"][1]["metrics"]["msp"]["std"]["auroc"].get<double>(),
                   r.ood[1].spread[1].auroc);
  EXPECT_NE(ReportMarkdown(r).find(" ± "), std::string::npos);
  // The same seed gives the same report; without a subsample there is no spread.
  EXPECT_EQ(ReportJson(BuildReport(in))["ood"], j["ood"]);
  in.subsample.reset();
  EXPECT_TRUE(BuildReport(in).ood[0].spread.empty());
  EXPECT_FALSE(ReportJson(BuildReport(in)).contains("ood_subsample"));
}

TEST(ReportTest, SubsampleOfASetNoLargerThanADrawIsTheWholeSetWithAWarning) {
  ReportInput in = TwoScoresInRowOrder();
  const Report whole = BuildReport(in);
  in.subsample = SubsampleProtocol{0.5, 3, 0};  // 25 per draw: far (23) is drawn whole
  const Report r = BuildReport(in);
  EXPECT_EQ(r.ood[1].drawn, 23u);
  EXPECT_EQ(r.ood[1].metrics[0].auroc, whole.ood[1].metrics[0].auroc);
  EXPECT_EQ(r.ood[1].spread[0].auroc, 0.0);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("'far' has 23 samples"), std::string::npos) << r.warnings[0];
  in.options.bootstrap = 10;
  EXPECT_THROW(BuildReport(in), Error);  // intervals of whole sets do not mix with draws
}

TEST(ReportTest, MeanRowsCarryBootstrapIntervalsOverAllTheirSets) {
  ReportInput in = TwoScoresInRowOrder();
  in.groups = {{"far_group", {"far"}}};
  in.options.bootstrap = 60;
  in.options.seed = 4;
  const Report r = BuildReport(in);
  for (std::size_t s = 0; s < 2; ++s) {
    SCOPED_TRACE(in.scores[s].name);
    Metrics expect;
    BootstrapMeanOverSets(in.id.oriented[s], {&in.ood[0].oriented[s], &in.ood[1].oriented[s]},
                          in.options, &expect);
    ASSERT_TRUE(r.mean[s].has_ci);
    EXPECT_EQ(r.mean[s].auroc_ci.lo, expect.auroc_ci.lo);
    EXPECT_EQ(r.mean[s].fpr_ci.hi, expect.fpr_ci.hi);
    // A group of one set: that set's own interval (the same seed and draw order).
    ASSERT_TRUE(r.groups[0].mean[s].has_ci);
    EXPECT_EQ(r.groups[0].mean[s].auroc_ci.lo, r.ood[1].metrics[s].auroc_ci.lo);
    EXPECT_EQ(r.groups[0].mean[s].fpr_ci.hi, r.ood[1].metrics[s].fpr_ci.hi);
  }
  const nlohmann::json j = ReportJson(r);
  ASSERT_TRUE(j["mean"]["energy"].contains("ci95")) << j["mean"].dump();
  EXPECT_DOUBLE_EQ(j["mean"]["msp"]["ci95"]["auroc"][0].get<double>(), r.mean[1].auroc_ci.lo);
  EXPECT_TRUE(j["groups"][0]["mean"]["energy"].contains("ci95"));
  const std::string md = ReportMarkdown(r);
  // The msp mean row: its FPR is the best (bold), its AUROC not.
  const std::string mean_row = "| **mean** | 60 | msp | **" +
                               PercentCell(r.mean[1].fpr_at_tpr, &r.mean[1].fpr_ci) + "** | " +
                               PercentCell(r.mean[1].auroc, &r.mean[1].auroc_ci) + " |";
  EXPECT_NE(md.find(mean_row), std::string::npos) << mean_row << "\n" << md;
  // The HTML puts the interval on a second, small line.
  const std::string cell = PercentCell(r.mean[1].auroc, &r.mean[1].auroc_ci);
  const std::size_t cut = cell.find(" [");
  ASSERT_NE(cut, std::string::npos);
  const std::string html_cell =
      "<td>" + cell.substr(0, cut) + "<span class=\"ci\">" + cell.substr(cut + 1) + "</span></td>";
  EXPECT_NE(ReportHtml(r, in).find(html_cell), std::string::npos) << html_cell;
  in.options.bootstrap = 0;
  EXPECT_FALSE(BuildReport(in).mean[0].has_ci);
  EXPECT_FALSE(ReportJson(BuildReport(in))["mean"]["energy"].contains("ci95"));
}

TEST(ReportTest, GroupMeanRowsAreMeansOverTheirSetsAndGatesReadThem) {
  ReportInput in = TwoScoresInRowOrder();
  in.ood.push_back(in.ood[0]);
  in.ood.back().name = "near2";
  in.groups = {{"near_group", {"near", "near2"}}, {"far_group", {"far"}}};
  const Report r = BuildReport(in);
  ASSERT_EQ(r.groups.size(), 2u);
  for (std::size_t s = 0; s < 2; ++s) {
    EXPECT_DOUBLE_EQ(r.groups[0].mean[s].auroc,
                     (r.ood[0].metrics[s].auroc + r.ood[2].metrics[s].auroc) / 2);
    EXPECT_EQ(r.groups[1].mean[s].fpr_at_tpr, r.ood[1].metrics[s].fpr_at_tpr);
    EXPECT_EQ(r.groups[0].mean[s].n_ood, 74u);
  }
  const nlohmann::json j = ReportJson(r);
  EXPECT_EQ(j["groups"][0]["name"], "near_group");
  EXPECT_EQ(j["groups"][0]["sets"], nlohmann::json({"near", "near2"}));
  EXPECT_DOUBLE_EQ(j["groups"][1]["mean"]["energy"]["auroc"].get<double>(),
                   r.ood[1].metrics[0].auroc);
  EXPECT_NE(ReportMarkdown(r).find("| **near_group mean** | 74 | energy |"), std::string::npos)
      << ReportMarkdown(r);
  const auto checks = EvaluateGates({ParseGate("far_group.msp.auroc>=0", {"energy", "msp"})}, r);
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_EQ(checks[0].subject, "far_group.msp.auroc");
  EXPECT_EQ(checks[0].value, r.ood[1].metrics[1].auroc);
  try {
    EvaluateGates({ParseGate("nera_group.msp.auroc>=0", {"energy", "msp"})}, r);
    ADD_FAILURE() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'near_group'"), std::string::npos)
        << e.what();
  }
  in.groups = {{"g", {"nowhere"}}};
  EXPECT_THROW(BuildReport(in), Error);
}

TEST(ReportTest, BestCellsAreTheBestShownValuePerColumn) {
  Metrics a, b, c;
  a.fpr_at_tpr = 0.30;
  b.fpr_at_tpr = 0.200001;  // shown as 20.00, as c's: a tie
  c.fpr_at_tpr = 0.2;
  a.auroc = 0.9;
  b.auroc = 0.8;
  c.auroc = std::nan("");
  a.aupr_in = b.aupr_in = c.aupr_in = 0.5;
  a.aupr_out = 0.1;
  b.aupr_out = 0.2;
  c.aupr_out = 0.3;
  a.detection_error = 0.1;
  b.detection_error = 0.3;
  c.detection_error = 0.2;
  const auto best = BestCells({a, b, c});
  // Columns: FPR (lower), AUROC (higher), AUPR-In, AUPR-Out, DetErr (lower).
  EXPECT_EQ(best[0], (std::vector<bool>{false, true, true, false, true}));
  EXPECT_EQ(best[1], (std::vector<bool>{true, false, true, false, false}));
  EXPECT_EQ(best[2], (std::vector<bool>{true, false, true, true, false}));
  EXPECT_EQ(BestCells({a})[0], std::vector<bool>(5, false));
}

TEST(ReportTest, TablesMarkTheBestAndSetTheMeanRowsApartAndEachSetHasOneRoc) {
  ReportInput in = ExampleW();
  ScoreInfo maxlogit;
  LookupScore("maxlogit", &maxlogit);
  in.scores.push_back(maxlogit);
  // A second score: the first one's values, but near's OOD samples ranked lower.
  in.id.oriented.push_back(in.id.oriented[0]);
  in.ood[0].oriented.push_back(in.ood[0].oriented[0]);
  in.ood[1].oriented.push_back({-20, -19, -18, 1, 0, -1, -2, -3, -4, -5});
  const Report r = BuildReport(in);
  const std::string md = ReportMarkdown(r);
  EXPECT_NE(
      md.find(
          "| near | 10 | energy | 40.00 | 71.25 | 72.70 | 75.97 | 20.00 |\n"
          "| near | 10 | maxlogit | **10.00** | **99.00** | **99.30** | **97.33** | **5.00** |"),
      std::string::npos)
      << md;
  // far: the same values, so both are best.
  EXPECT_NE(md.find("| far | 10 | energy | **30.00** | **96.50** |"), std::string::npos) << md;
  EXPECT_NE(md.find("each set's best value among the scores in bold"), std::string::npos);
  const std::string html = ReportHtml(r, in);
  EXPECT_NE(html.find("<tr class=\"mean\"><td>mean</td><td>20</td><td>energy</td><td>"),
            std::string::npos);
  EXPECT_NE(html.find("<td>near</td><td>10</td><td>maxlogit</td><td class=\"best\">10.00</td>"),
            std::string::npos);
  // One ROC figure pair per OOD set (linear and log FPR), every score on each.
  std::size_t curves = 0;
  for (std::size_t at = html.find("class=\"roc\""); at != std::string::npos;
       at = html.find("class=\"roc\"", at + 1)) {
    ++curves;
  }
  EXPECT_EQ(curves, 2u * 2u * 2u);  // sets x plots x scores
  EXPECT_NE(html.find("ROC, near, log FPR axis (ID = positive)"), std::string::npos);
  EXPECT_NE(html.find("maxlogit: 99.00 / 10.00</div>"), std::string::npos);
  // The heat map: a row per score, FPR and AUROC per set and the mean, green good, red bad.
  EXPECT_NE(
      html.find(
          "<tr><td>maxlogit</td><td style=\"background:hsl(84,65%,80%)\">30.00</td>"
          "<td style=\"background:hsl(112,65%,80%)\">96.50</td><td style=\"background:"
          "hsl(108,65%,80%)\">10.00</td><td style=\"background:hsl(118,65%,80%)\">99.00</td>"),
      std::string::npos)
      << html;
}

}  // namespace
}  // namespace oodscore
