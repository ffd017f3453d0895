#include "oodscore/class_breakdown.h"

#include <gtest/gtest.h>

#include <cmath>

#include "oodscore/error.h"
#include "oodscore/html_report.h"
#include "oodscore/report.h"
#include "oodscore/risk_coverage.h"

namespace oodscore {
namespace {

// ID: 6 labelled rows of classes 0 and 1 and one unlabelled row; OOD "far": 4 rows.
ScoreTable Table() {
  ScoreTable t;
  t.columns = {"energy"};
  struct R {
    const char* set;
    const char* label;
    const char* pred;
    double energy;
  };
  const R rows[] = {{"id", "0", "0", -9}, {"id", "0", "1", -3}, {"id", "0", "0", -8},
                    {"id", "1", "1", -2}, {"id", "1", "1", -7}, {"id", "1", "0", -6},
                    {"id", "", "1", -9},  {"far", "", "1", -8}, {"far", "", "1", -1},
                    {"far", "", "0", -5}, {"far", "", "", -9}};
  for (const R& r : rows) t.AddRow(r.set, "p", r.label, r.pred, &r.energy);
  return t;
}

ScoreInfo Energy() {
  ScoreInfo e;
  LookupScore("energy", &e);
  return e;
}

TEST(ClassBreakdownTest, CountsAcceptanceAndAccuracyPerClass) {
  // Oriented threshold 5: accept when energy <= -5.
  const auto b = BuildClassBreakdown(Table(), {Energy()}, {5.0}, {"id"}, {"far"}, {"cat", ""});
  ASSERT_TRUE(b);
  EXPECT_EQ(b->scores, std::vector<std::string>{"energy"});
  ASSERT_EQ(b->id.size(), 2u);
  EXPECT_EQ(b->id[0].name, "cat");
  EXPECT_EQ(b->id[0].n, 3u);
  EXPECT_DOUBLE_EQ(b->id[0].accuracy, 2.0 / 3);
  EXPECT_DOUBLE_EQ(b->id[0].accepted[0], 2.0 / 3);  // -9 and -8 accepted, -3 not
  EXPECT_EQ(b->id[1].name, "1");                    // no folder name: the code
  EXPECT_DOUBLE_EQ(b->id[1].accuracy, 2.0 / 3);
  EXPECT_DOUBLE_EQ(b->id[1].accepted[0], 2.0 / 3);  // -7 and -6
  ASSERT_EQ(b->ood.size(), 1u);
  EXPECT_EQ(b->ood[0].n, 4u);
  ASSERT_EQ(b->ood[0].classes.size(), 2u);  // the unpredicted row is in n, in no class
  EXPECT_EQ(b->ood[0].classes[0].name, "cat");
  EXPECT_DOUBLE_EQ(b->ood[0].classes[0].predicted, 0.25);
  EXPECT_DOUBLE_EQ(b->ood[0].classes[0].accepted[0], 0.25);  // -5: on the threshold, accepted
  EXPECT_DOUBLE_EQ(b->ood[0].classes[1].predicted, 0.5);
  EXPECT_DOUBLE_EQ(b->ood[0].classes[1].accepted[0], 0.25);  // -8 accepted, -1 not
}

TEST(ClassBreakdownTest, NoLabelsNoBreakdownAndUnknownSetsAreRefused) {
  ScoreTable t;
  t.columns = {"energy"};
  const double v = -1;
  t.AddRow("id", "p", "", "0", &v);
  t.AddRow("far", "p", "", "0", &v);
  EXPECT_FALSE(BuildClassBreakdown(t, {Energy()}, {0.0}, {"id"}, {"far"}, {}));
  try {
    BuildClassBreakdown(Table(), {Energy()}, {0.0}, {"id"}, {"svhn"}, {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "the score table has no rows of set 'svhn'");
  }
}

TEST(ClassBreakdownTest, RendersTheSameTablesInEveryFormat) {
  const auto b = BuildClassBreakdown(Table(), {Energy()}, {5.0}, {"id"}, {"far"}, {"c|t", ""});
  const nlohmann::json j = ClassBreakdownJson(*b);
  EXPECT_EQ(j["id"][0], nlohmann::json({{"class", "c|t"},
                                        {"n", 3},
                                        {"accuracy", 2.0 / 3},
                                        {"accepted", {{"energy", 2.0 / 3}}}}));
  EXPECT_EQ(j["ood"][0]["classes"][1]["predicted"], 0.5);
  const std::string md = ClassBreakdownMarkdown(*b);
  EXPECT_NE(
      md.find("| true class | n | accuracy (%) | accepted by energy (%) |\n"
              "|---|---:|---:|---:|\n| c\\|t | 3 | 66.67 | 66.67 |\n| 1 | 3 | 66.67 | 66.67 |\n"),
      std::string::npos)
      << md;
  EXPECT_NE(md.find("OOD set far (n=4): per predicted class"), std::string::npos) << md;
  EXPECT_NE(md.find("| 1 | 50.00 | 25.00 |\n"), std::string::npos) << md;
  const std::string html = ClassBreakdownHtml(*b);
  EXPECT_NE(html.find("<tr><td>c|t</td><td>3</td><td>66.67</td><td>66.67</td></tr>"),
            std::string::npos)
      << html;
}

TEST(RiskCoverageTest, AccuracyOfTheMostIdLookingRowsAtEachCoverage) {
  // The ID rows with label and prediction, most ID-looking first (energy -9, -8, -7, -6, -3,
  // -2): right, right, right, wrong, wrong, right. The unlabelled row is left out.
  const auto rc = BuildRiskCoverage(Table(), {Energy()}, {5.0}, {"id"});
  ASSERT_EQ(rc.size(), 1u);
  EXPECT_EQ(rc[0].n, 6u);
  ASSERT_EQ(rc[0].curve.size(), 6u);
  EXPECT_EQ(rc[0].curve[0], std::make_pair(1.0 / 6, 1.0));
  EXPECT_EQ(rc[0].curve[3], std::make_pair(4.0 / 6, 0.75));
  EXPECT_EQ(rc[0].curve[5], std::make_pair(1.0, 4.0 / 6));
  // kCoverageLevels 100%, 95%, 90%, 80%, 50%: k = 6, 6, 6, 5, 3.
  EXPECT_EQ(rc[0].at_levels, (std::vector<double>{4.0 / 6, 4.0 / 6, 4.0 / 6, 0.6, 1.0}));
  // Accept energy <= -5: 4 rows, 3 right.
  EXPECT_DOUBLE_EQ(rc[0].threshold_coverage, 4.0 / 6);
  EXPECT_DOUBLE_EQ(rc[0].threshold_accuracy, 0.75);
  const nlohmann::json j = RiskCoverageJson(rc);
  EXPECT_EQ(j[0]["threshold"]["accuracy"], 0.75);
  EXPECT_EQ(j[0]["at_coverage"]["0.8"], 0.6);
  EXPECT_NE(RiskCoverageMarkdown(rc).find("| energy | 66.67 | 75.00 | 66.67 | 66.67 | 66.67 | "
                                          "60.00 | 100.00 |\n"),
            std::string::npos)
      << RiskCoverageMarkdown(rc);
  ScoreTable unlabelled;
  unlabelled.columns = {"energy"};
  const double v = 1;
  unlabelled.AddRow("id", "p", "", "0", &v);
  EXPECT_TRUE(BuildRiskCoverage(unlabelled, {Energy()}, {0.0}, {"id"}).empty());
}

// --fsood counts the csid sets as ID: their labelled rows join the ID rows.
TEST(ClassBreakdownTest, SetsCountedAsIdJoinTheIdRows) {
  ScoreTable t = Table();
  const double v = -4;
  t.AddRow("csid", "q", "1", "0", &v);  // class 1, wrong, rejected at 5
  const auto b = BuildClassBreakdown(t, {Energy()}, {5.0}, {"id", "csid"}, {"far"}, {});
  ASSERT_TRUE(b);
  EXPECT_EQ(b->id[1].n, 4u);
  EXPECT_DOUBLE_EQ(b->id[1].accuracy, 2.0 / 4);
  EXPECT_DOUBLE_EQ(b->id[1].accepted[0], 2.0 / 4);
  EXPECT_EQ(BuildRiskCoverage(t, {Energy()}, {5.0}, {"id", "csid"})[0].n, 7u);
  EXPECT_EQ(BuildRiskCoverage(t, {Energy()}, {5.0}, {"id"})[0].n, 6u);
}

}  // namespace
}  // namespace oodscore
