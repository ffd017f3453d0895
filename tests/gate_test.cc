#include "oodscore/gate.h"

#include <gtest/gtest.h>

#include "oodscore/error.h"

namespace oodscore {
namespace {

Report TwoSetReport() {
  ReportInput in;
  ScoreInfo energy, msp;
  LookupScore("energy", &energy);
  LookupScore("msp", &msp);
  in.scores = {energy, msp};
  in.id = {"id", {{5, 6, 7, 8, 9}, {5, 6, 7, 8, 9}}};
  in.ood.push_back({"far", {{0, 1, 2, 3, 4}, {0, 1, 2, 3, 10}}});  // energy perfect, msp 0.8
  in.ood.push_back({"near", {{4, 5, 6, 7, 8}, {4, 5, 6, 7, 8}}});
  return BuildReport(in);
}

std::string UsageErrorOf(const std::string& gate) {
  try {
    ParseGate(gate, {"energy", "energy_T1.5", "msp"});
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(GateTest, ParsesSetScoreMetricAndOperator) {
  Gate g = ParseGate("digits.msp.aupr_in>0.9", {"energy", "msp"});
  EXPECT_EQ(g.set, "digits");
  EXPECT_EQ(g.score, "msp");
  EXPECT_EQ(g.metric, "aupr_in");
  EXPECT_EQ(g.op, ">");
  EXPECT_DOUBLE_EQ(g.bound, 0.9);
  g = ParseGate("energy.auroc >= 0.95", {"energy", "msp"});
  EXPECT_EQ(g.set, "");
  EXPECT_EQ(g.op, ">=");
  g = ParseGate("mean.energy.fpr_at_tpr<=0.30", {"energy"});
  EXPECT_EQ(g.set, "mean");
}

TEST(GateTest, ScoreNamesMayContainDots) {
  Gate g = ParseGate("svhn.v2.energy_T1.5.auroc>=0.9", {"energy", "energy_T1.5"});
  EXPECT_EQ(g.set, "svhn.v2");
  EXPECT_EQ(g.score, "energy_T1.5");
}

TEST(GateTest, MalformedGatesSayWhatWasExpected) {
  EXPECT_EQ(UsageErrorOf("energy.auroc"),
            "gate 'energy.auroc': expected [SET.]SCORE.METRIC followed by >=, <=, >, < or == and a "
            "number, e.g. 'energy.auroc>=0.95' or 'energy.auroc>=95%'");
  EXPECT_EQ(UsageErrorOf("energy.aroc>=1"),
            "gate 'energy.aroc>=1': unknown metric 'aroc', did you mean 'auroc'? (expected one of "
            "auroc, aupr_in, aupr_out, fpr_at_tpr, detection_error, threshold, tpr_achieved; or n, "
            "found, skipped for a set)");
  EXPECT_EQ(UsageErrorOf("enrgy.auroc>=1"),
            "gate 'enrgy.auroc>=1': no score named in 'enrgy', did you mean 'energy'? (scores in "
            "this report: energy, energy_T1.5, msp)");
  EXPECT_EQ(UsageErrorOf("energy.auroc>=high"),
            "gate 'energy.auroc>=high': 'high' is not a number");
}

TEST(GateTest, UnqualifiedGateChecksEveryOodSet) {
  Report r = TwoSetReport();
  auto res = EvaluateGates({ParseGate("energy.auroc>=0.95", {"energy", "msp"})}, r);
  ASSERT_EQ(res.size(), 2u);
  EXPECT_TRUE(res[0].pass) << res[0].message;   // far: 1.0
  EXPECT_FALSE(res[1].pass) << res[1].message;  // near: below
  EXPECT_EQ(res[0].message, "far.energy.auroc = 100% satisfies 'energy.auroc>=0.95'");
}

TEST(GateTest, NamedSetAndMeanGates) {
  Report r = TwoSetReport();
  auto res = EvaluateGates({ParseGate("far.msp.auroc<0.9", {"energy", "msp"}),
                            ParseGate("mean.energy.auroc>0.5", {"energy", "msp"})},
                           r);
  ASSERT_EQ(res.size(), 2u);
  EXPECT_TRUE(res[0].pass) << res[0].message;
  EXPECT_TRUE(res[1].pass) << res[1].message;
  EXPECT_THROW(EvaluateGates({ParseGate("cifar.energy.auroc>0.5", {"energy"})}, r), UsageError);
}

TEST(GateTest, BaselineFlagsRegressionsBeyondTolerance) {
  Report now = TwoSetReport();
  nlohmann::json base = ReportJson(now);
  base["ood"][1]["metrics"]["energy"]["auroc"] = now.ood[1].metrics[0].auroc + 0.02;
  auto res = CompareWithBaseline(base, now, {{{"auroc", 0.01}}, {{"fpr_at_tpr", 0.0}}});
  int failed = 0;
  for (const auto& c : res) {
    if (!c.pass) {
      ++failed;
      EXPECT_EQ(c.expr, "near.energy.auroc");
      EXPECT_NE(c.message.find("allowed drop <= 1 pp"), std::string::npos) << c.message;
    }
  }
  EXPECT_EQ(failed, 1);
  EXPECT_EQ(res.size(), 3u + 8u);  // a samples check per set; 2 sets x 2 scores x 2 metrics
}

TEST(GateTest, BaselineWithAnotherConventionIsRejected) {
  Report now = TwoSetReport();
  nlohmann::json base = ReportJson(now);
  base["fpr_convention"] = "openood";
  EXPECT_THROW(CompareWithBaseline(base, now, {{{"auroc", 0.01}}}), Error);
}

TEST(GateTest, SharesAreFractionsOrPercentNeverBareNumbersAboveOne) {
  const std::vector<std::string> scores = {"energy", "msp"};
  EXPECT_DOUBLE_EQ(ParseGate("energy.auroc>=90%", scores).bound, 0.9);
  EXPECT_DOUBLE_EQ(ParseGate("energy.auroc>=0.9", scores).bound, 0.9);
  EXPECT_DOUBLE_EQ(ParseGate("mean.energy.fpr_at_tpr<=30 %", scores).bound, 0.3);
  EXPECT_EQ(UsageErrorOf("energy.auroc>=90"),
            "gate 'energy.auroc>=90': auroc is a share, written as a fraction in [0, 1] or in "
            "percent, and 90 is neither; did you mean 0.9 or 90%?");
  EXPECT_EQ(UsageErrorOf("energy.fpr_at_tpr<=60"),
            "gate 'energy.fpr_at_tpr<=60': fpr_at_tpr is a share, written as a fraction in [0, "
            "1] or in percent, and 60 is neither; did you mean 0.6 or 60%?");
  EXPECT_EQ(UsageErrorOf("energy.auroc>=120%"),
            "gate 'energy.auroc>=120%': auroc is a share, and 120% is not between 0% and 100%");
  // Thresholds are in the score's units: any number, never a percentage.
  EXPECT_DOUBLE_EQ(ParseGate("energy.threshold<=-7.5", scores).bound, -7.5);
  EXPECT_THROW(ParseGate("energy.threshold<=5%", scores), UsageError);
  // Accuracy too.
  EXPECT_DOUBLE_EQ(ParseGate("id.accuracy>=92%", scores).bound, 0.92);
  EXPECT_THROW(ParseGate("id.accuracy>=92", scores), UsageError);
  // Tolerances follow the same rule.
  EXPECT_DOUBLE_EQ(ParseTolerance("auroc=0.5%").second, 0.005);
  EXPECT_THROW(ParseTolerance("auroc=5"), UsageError);
  EXPECT_DOUBLE_EQ(ParseTolerance("threshold=5").second, 5);
}

TEST(GateTest, CountGatesCheckEverySetOrANamedOne) {
  Report r = TwoSetReport();
  r.sets[2].found = 12;
  r.sets[2].skipped = 7;
  const std::vector<std::string> scores = {"energy", "msp"};
  auto res = EvaluateGates({ParseGate("skipped<=0", scores)}, r);
  ASSERT_EQ(res.size(), 3u);  // id, far, near
  EXPECT_TRUE(res[0].pass);
  EXPECT_TRUE(res[1].pass);
  EXPECT_FALSE(res[2].pass);
  EXPECT_EQ(res[2].subject, "near.skipped");
  res = EvaluateGates({ParseGate("id.n>=5", scores), ParseGate("far.n>=6", scores)}, r);
  ASSERT_EQ(res.size(), 2u);
  EXPECT_EQ(res[0].subject, "id.n");
  EXPECT_TRUE(res[0].pass);
  EXPECT_FALSE(res[1].pass);
  EXPECT_THROW(EvaluateGates({ParseGate("nera.n>=1", scores)}, r), UsageError);
  EXPECT_THROW(ParseGate("mean.n>=1", scores), UsageError);
  EXPECT_THROW(ParseGate("skipped<=1%", scores), UsageError);  // a count, not a share
}

TEST(GateTest, SkippedChecksCompareEachSetsShare) {
  std::vector<SetCounts> sets = {{"id", 100, 99, 1}, {"noise", 10, 1, 9}};
  auto res = SkippedChecks(sets, 0.01);
  ASSERT_EQ(res.size(), 2u);
  EXPECT_TRUE(res[0].pass);  // exactly 1%
  EXPECT_FALSE(res[1].pass);
  EXPECT_EQ(res[1].message, "set 'noise': 9 of 10 files skipped (90%), more than --max-skipped 1%");
}

TEST(GateTest, BaselineChecksCarryBothValues) {
  Report now = TwoSetReport();
  nlohmann::json base = ReportJson(now);
  base["ood"][1]["metrics"]["energy"]["auroc"] = now.ood[1].metrics[0].auroc + 0.02;
  auto res = CompareWithBaseline(base, now, {{{"auroc", 0.01}}});
  const auto& c = res[3 + 2];  // after a samples check per set: near.energy.auroc
  ASSERT_EQ(c.subject, "near.energy.auroc");
  ASSERT_TRUE(c.baseline.has_value());
  EXPECT_NEAR(*c.baseline - c.value, 0.02, 1e-12);
  const auto cells = CheckCells(c);
  EXPECT_EQ(cells[0], ShowValue(*c.baseline, true));
  EXPECT_EQ(cells[2], "-2 pp");
  EXPECT_EQ(cells[3], "drop <= 1 pp");
  EXPECT_EQ(cells[4], "**FAIL**");
}

TEST(GateTest, BaselineChecksOnlyTheScoresInScope) {
  Report now = TwoSetReport();
  nlohmann::json base = ReportJson(now);
  base["ood"][1]["metrics"]["msp"]["auroc"] = now.ood[1].metrics[1].auroc + 0.2;
  BaselineRules rules{{{"auroc", 0.01}}};
  rules.scores = {"energy"};  // msp is not deployed: its drop must not fail the build
  for (const auto& c : CompareWithBaseline(base, now, rules)) {
    EXPECT_TRUE(c.pass) << c.message;
    EXPECT_EQ(c.subject.find(".msp."), std::string::npos) << c.subject;
  }
  rules.scores.clear();  // every score
  int failed = 0;
  for (const auto& c : CompareWithBaseline(base, now, rules)) failed += !c.pass;
  EXPECT_EQ(failed, 1);
  rules.scores = {"odin"};
  EXPECT_THROW(CompareWithBaseline(base, now, rules), Error);  // nothing left to compare
}

TEST(GateTest, ABaselineOnOtherSamplesFailsUnlessAllowed) {
  Report now = TwoSetReport();
  for (auto& c : now.sets) c.samples_digest = "00000000000000aa";
  nlohmann::json base = ReportJson(now);
  BaselineRules rules{{{"auroc", 0.01}}};
  auto subject = [](const std::vector<CheckResult>& res, const std::string& s) {
    for (const auto& c : res) {
      if (c.subject == s) return c;
    }
    ADD_FAILURE() << "no check " << s;
    return CheckResult();
  };
  auto res = CompareWithBaseline(base, now, rules);
  EXPECT_TRUE(subject(res, "far.samples").pass);
  // Half the set (250 against 500 in the issue): the count differs.
  base["sets"][1]["found"] = 10;
  res = CompareWithBaseline(base, now, rules);
  CheckResult c = subject(res, "far.samples");
  EXPECT_FALSE(c.pass);
  EXPECT_EQ(c.message,
            "set 'far': 5 files found, the baseline had 10: the baseline was made on other "
            "data, so its changes are not the model's; --baseline-allow-resample compares anyway");
  // The same files, fewer of them decoded: the skipped checks' matter, not other data.
  base["sets"][1]["found"] = 5;
  base["sets"][1]["scored"] = 4;
  base["sets"][1]["samples_digest"] = "00000000000000cc";
  c = subject(CompareWithBaseline(base, now, rules), "far.samples");
  EXPECT_TRUE(c.pass) << c.message;
  EXPECT_NE(c.message.find("the skipped files differ"), std::string::npos) << c.message;
  base["sets"][1]["scored"] = 5;
  base["sets"][1]["samples_digest"] = "00000000000000aa";
  // The same count, other files.
  base["sets"][1]["scored"] = 5;
  base["sets"][2]["samples_digest"] = "00000000000000bb";
  res = CompareWithBaseline(base, now, rules);
  EXPECT_FALSE(subject(res, "near.samples").pass);
  EXPECT_NE(subject(res, "near.samples").message.find("other samples or paths"), std::string::npos);
  rules.allow_resample = true;
  res = CompareWithBaseline(base, now, rules);
  EXPECT_TRUE(subject(res, "near.samples").pass);
  EXPECT_NE(subject(res, "near.samples").message.find("compared anyway"), std::string::npos);
}

TEST(GateTest, BaselineMessagesRoundAsTheTableDoes) {
  Report now = TwoSetReport();
  nlohmann::json base = ReportJson(now);
  base["ood"][1]["metrics"]["energy"]["auroc"] = 0.987654321;
  for (const auto& c : CompareWithBaseline(base, now, {{{"auroc", 0.01}}})) {
    if (c.subject != "near.energy.auroc") continue;
    EXPECT_EQ(c.message, "near.energy.auroc moved 98.77% -> " + ShowValue(c.value, true) + " (" +
                             CheckCells(c)[2] + "; allowed drop <= 1 pp)");
  }
}

TEST(GateTest, TolerancesParse) {
  EXPECT_EQ(ParseTolerance("auroc=0.005"), (std::pair<std::string, double>{"auroc", 0.005}));
  EXPECT_THROW(ParseTolerance("auroc"), UsageError);
  EXPECT_THROW(ParseTolerance("auroc=-1"), UsageError);
  EXPECT_THROW(ParseTolerance("accuracy=0.1"), UsageError);
}

}  // namespace
}  // namespace oodscore
