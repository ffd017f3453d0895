// The real binary as a CI job uses it: verdicts that cannot pass by accident, JUnit reports,
// skipped files that count.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_fixture.h"
#include "oodscore/metrics.h"

namespace oodscore {
namespace {

using testing::CliTest;
using testing::ReadText;
using testing::WriteText;

class CliCiTest : public CliTest {
 protected:
  std::string Eval(const std::string& out_dir) {
    return "eval -q " + Common() + "--id '" + (tmp_ / "id") + "' --ood '" + (tmp_ / "far") +
           "' --out-dir '" + out_dir + "' ";
  }
  // Replaces half of the far images by files that do not decode.
  void BreakHalfOfFar() {
    for (int i = 0; i < 6; ++i) WriteText(tmp_ / ("far/" + std::to_string(i) + ".ppm"), "P6 junk");
  }
};

TEST_F(CliCiTest, GateValuesAboveOneMustSayPercent) {
  auto r = Cli(Eval(tmp_ / "r") + "--gate 'energy.fpr_at_tpr<=60'");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("did you mean 0.6 or 60%?"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp_ / "r/scores.csv"));  // refused before scoring
  r = Cli(Eval(tmp_ / "r") + "--gate 'energy.auroc>=0%' --gate 'far.energy.fpr_at_tpr<=100%'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Cli(Eval(tmp_ / "r") + "--gate 'far.energy.auroc>=101%'");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = Cli(Eval(tmp_ / "r") + "--gate 'far.energy.auroc>=99.9999%'");
  EXPECT_EQ(r.exit_code, 1) << r.err;
}

TEST_F(CliCiTest, ARunNeverOverwritesItsOwnBaseline) {
  ASSERT_EQ(Cli(Eval(tmp_ / "r")).exit_code, 0);
  const std::string before = ReadText(tmp_ / "r/report.json");
  auto r =
      Cli(Eval(tmp_ / "r") + "--baseline '" + (tmp_ / "r/report.json") + "' --max-drop auroc=0");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("would overwrite --baseline"), std::string::npos) << r.err;
  EXPECT_EQ(ReadText(tmp_ / "r/report.json"), before);
  // Through a link, and through another spelling of the folder.
  ASSERT_EQ(::symlink((tmp_ / "r/report.json").c_str(), (tmp_ / "base.json").c_str()), 0);
  r = Cli(Eval(tmp_ / "r/../r") + "--baseline '" + (tmp_ / "base.json") + "' --max-drop auroc=0");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  // metrics writes to the current folder by default.
  r = Cli("metrics '" + (tmp_ / "r/scores.csv") + "' --id id --baseline report.json " +
          "--max-drop auroc=0");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("would overwrite --baseline 'report.json'"), std::string::npos) << r.err;
  // A copy elsewhere is fine.
  std::filesystem::copy_file(tmp_ / "r/report.json", tmp_ / "copy.json");
  r = Cli(Eval(tmp_ / "r") + "--baseline '" + (tmp_ / "copy.json") + "' --max-drop auroc=0");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(CliCiTest, OutDirDashIsAUsageError) {
  auto r = Cli(Eval("-"));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--out-dir -"), std::string::npos) << r.err;
}

TEST_F(CliCiTest, SkippedFilesCountAndFailTheRun) {
  BreakHalfOfFar();
  auto r = Cli(Eval(tmp_ / "r") + "--gate 'energy.auroc>=0'");
  EXPECT_EQ(r.exit_code, 3) << r.err;  // 50% skipped > the default 1%
  EXPECT_NE(r.err.find("far 6/12 (6 skipped)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("6 of 12 files skipped (50%), more than --max-skipped 1%"),
            std::string::npos)
      << r.err;
  // Every report is still written, and says so.
  auto j = nlohmann::json::parse(ReadText(tmp_ / "r/report.json"));
  EXPECT_EQ(j["sets"][1]["name"], "far");
  EXPECT_EQ(j["sets"][1]["found"], 12);
  EXPECT_EQ(j["sets"][1]["scored"], 6);
  EXPECT_EQ(j["sets"][1]["skipped"], 6);
  EXPECT_EQ(j["sets"][1]["skipped_files"].size(), 6u);
  EXPECT_EQ(j["checks_passed"], false);
  EXPECT_NE(ReadText(tmp_ / "r/report.md").find("| far | OOD | 12 | 6 | 6 |"), std::string::npos);
  // The limit can be raised or turned off; skipped and n are gate metrics.
  EXPECT_EQ(Cli(Eval(tmp_ / "r") + "--max-skipped 50%").exit_code, 0);
  EXPECT_EQ(Cli(Eval(tmp_ / "r") + "--max-skipped 1").exit_code, 0);
  r = Cli(Eval(tmp_ / "r") + "--max-skipped 1 --gate 'far.skipped<=0'");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  r = Cli(Eval(tmp_ / "r") + "--max-skipped 1 --gate 'id.n>=12' --gate 'far.n>=6'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Cli(Eval(tmp_ / "r") + "--max-skipped 5").exit_code, 2);
  // calibrate likewise; score only when asked.
  r = Cli("calibrate -q " + Common() + "--id '" + (tmp_ / "far") + "' -o '" + (tmp_ / "c.json") +
          "'");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(std::filesystem::exists(tmp_ / "c.json"));
  r = Cli("score -q " + Common() + "-i '" + (tmp_ / "far") + "' -o '" + (tmp_ / "s.csv") + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Cli("score -q " + Common() + "-i '" + (tmp_ / "far") + "' -o '" + (tmp_ / "s.csv") +
          "' --max-skipped 0.1");
  EXPECT_EQ(r.exit_code, 3) << r.err;
}

TEST_F(CliCiTest, ReversedScoresWarn) {
  // ID and OOD swapped: every AUROC falls below 0.5.
  auto r = Cli("eval " + Common() + "--id '" + (tmp_ / "far") + "' --ood id='" + (tmp_ / "id") +
               "' --out-dir '" + (tmp_ / "r") + "'");
  EXPECT_EQ(r.exit_code, 2) << r.err;  // an OOD set may not be called "id"
  r = Cli("eval " + Common() + "--id '" + (tmp_ / "far") + "' --ood near='" + (tmp_ / "id") +
          "' --out-dir '" + (tmp_ / "r") + "' --score energy");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("score 'energy' on 'near': AUROC"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("looks reversed"), std::string::npos) << r.err;
  // eval's hint names eval's flags: energy's orientation is its definition, the sets are suspect.
  EXPECT_NE(r.err.find("check which set is ID (--id) and which are OOD (--ood)"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("--lower-is-id"), std::string::npos) << r.err;
  auto j = nlohmann::json::parse(ReadText(tmp_ / "r/report.json"));
  ASSERT_EQ(j["warnings"].size(), 1u);
  EXPECT_NE(ReadText(tmp_ / "r/report.html").find("looks reversed"), std::string::npos);
}

TEST_F(CliCiTest, LowerIsIdAppliesToNamedPlainScores) {
  WriteText(tmp_ / "id.txt", "1\n2\n3\n");
  WriteText(tmp_ / "ood.txt", "5\n6\n");
  auto r = Cli("metrics --id-file '" + (tmp_ / "id.txt") + "' --ood-file '" + (tmp_ / "ood.txt") +
               "' --lower-is-id --score score --out-dir '" + (tmp_ / "m") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(ReadText(tmp_ / "m/report.json"));
  EXPECT_EQ(j["ood"][0]["metrics"]["score_lower"]["auroc"], 1.0);
  EXPECT_TRUE(j["warnings"].empty());
  // Without --lower-is-id the same files look reversed, and the log says so.
  r = Cli("metrics --id-file '" + (tmp_ / "id.txt") + "' --ood-file '" + (tmp_ / "ood.txt") +
          "' --out-dir '" + (tmp_ / "m") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("--lower-is-id"), std::string::npos) << r.err;
  r = Cli("metrics --id-file '" + (tmp_ / "id.txt") + "' --ood-file '" + (tmp_ / "ood.txt") +
          "' --lower-is-id --score msp --out-dir '" + (tmp_ / "m") + "'");
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

// The paper's and OpenOOD's protocols from the command line: --ood-subsample/--repeats and
// --group reach the report and the gates, and their misuse is refused with the reason.
TEST_F(CliCiTest, SubsampleAndGroupsReachTheReportAndTheirMisuseIsRefused) {
  std::string csv = "set,path,label,pred,energy\n";
  for (int i = 0; i < 40; ++i) {
    csv += "id,id/" + std::to_string(i) + ".png,,," + std::to_string(-5 - i % 7) + "\n";
    csv += "near,n/" + std::to_string(i) + ".png,,," + std::to_string(-4 - i % 5) + "\n";
    if (i < 10) csv += "far,f/" + std::to_string(i) + ".png,,," + std::to_string(i) + "\n";
  }
  WriteText(tmp_ / "s.csv", csv);
  const std::string metrics =
      "metrics '" + (tmp_ / "s.csv") + "' --id id --out-dir '" + (tmp_ / "m") + "' ";
  auto r = Cli(metrics +
               "--ood-subsample 0.2 --repeats 4 --seed 9 --group far_g=far "
               "--group both=near,far --gate 'both.energy.auroc>=0.5'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(ReadText(tmp_ / "m/report.json"));
  EXPECT_EQ(j["ood_subsample"]["repeats"], 4);
  EXPECT_EQ(j["ood_subsample"]["seed"], 9);
  EXPECT_EQ(j["ood"][0]["n_drawn"], 8);  // floor(0.2 * 40)
  EXPECT_GT(j["ood"][0]["metrics"]["energy"]["std"]["auroc"].get<double>(), 0.0);
  EXPECT_EQ(j["groups"][1]["sets"], nlohmann::json({"near", "far"}));
  EXPECT_EQ(j["checks"][0]["subject"], "both.energy.auroc");
  EXPECT_NE(ReadText(tmp_ / "m/report.html").find("both mean"), std::string::npos);
  struct Misuse {
    std::string flags, message;
  };
  for (const Misuse& m :
       std::vector<Misuse>{{"--repeats 3", "--repeats needs --ood-subsample"},
                           {"--ood-subsample 0.2 --bootstrap 10", "give one of them"},
                           {"--ood-subsample 0", "--ood-subsample"},
                           {"--group near", "expected NAME=SET"},
                           {"--group g=nera", "no OOD set named 'nera', did you mean 'near'"},
                           {"--group g=near,near", "names OOD set 'near' twice"},
                           {"--group near=far", "the name 'near' is taken"},
                           {"--group mean=far", "the name 'mean' is taken"},
                           {"--group g=far --group g=near", "the name 'g' is taken"}}) {
    r = Cli(metrics + m.flags);
    EXPECT_EQ(r.exit_code, 2) << m.flags << ": " << r.err;
    EXPECT_NE(r.err.find(m.message), std::string::npos) << m.flags << ": " << r.err;
  }
}

// The first hour's messages around metrics and gates: --tpr as a percentage, fpr95 as the
// tables name it, a score the run would need --fit for.
TEST_F(CliCiTest, SharesAsPercentagesFpr95AndScoresThatNeedAFlag) {
  std::string csv = "set,path,label,pred,energy\n";
  for (int i = 0; i < 20; ++i) {
    csv += "id,i" + std::to_string(i) + ",,," + std::to_string(-10 + i % 5) + "\n";
    csv += "ood,o" + std::to_string(i) + ",,," + std::to_string(-7 + i % 4) + "\n";
  }
  WriteText(tmp_ / "s.csv", csv);
  const std::string metrics =
      "metrics '" + (tmp_ / "s.csv") + "' --id id --out-dir '" + (tmp_ / "m") + "' ";
  auto r = Cli(metrics + "--tpr 90% --gate 'energy.fpr_at_tpr<=100%'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(ReadText(tmp_ / "m/report.json"))["tpr_level"], 0.9);
  r = Cli(metrics + "--tpr 95");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("did you mean 0.95 or 95%?"), std::string::npos) << r.err;
  r = Cli(metrics + "--gate 'energy.fpr95<=100%'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(ReadText(tmp_ / "m/report.json"));
  EXPECT_EQ(j["checks"][0]["subject"], "ood.energy.fpr_at_tpr");
  r = Cli(metrics + "--tpr 0.9 --gate 'energy.fpr95<=100%'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("fpr95 is the FPR at 95% TPR, and this report's --tpr is 0.9"),
            std::string::npos)
      << r.err;
  r = Cli(metrics + "--gate 'knn.auroc>=0.9'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("score 'knn' is not in this report: it is computed only with --fit"),
            std::string::npos)
      << r.err;
}

// OpenOOD's covariate-shifted ID sets: reported apart by default, never taken as OOD; with
// --fsood they join the ID set in every metric (OpenOOD concatenates them), and the accuracy
// is over both.
TEST_F(CliCiTest, CsidSetsAreReportedAndWithFsoodCountAsId) {
  std::string csv = "set,path,label,pred,msp\n";
  std::vector<double> id, cs, ood;
  for (int i = 0; i < 20; ++i) {
    // The values as the CSV holds them (6 decimals), so that ties stay ties.
    id.push_back(std::stod(std::to_string(0.5 + 0.02 * i)));
    cs.push_back(std::stod(std::to_string(0.3 + 0.03 * (i % 10))));
    ood.push_back(std::stod(std::to_string(0.2 + 0.025 * i)));
    csv += "id,i" + std::to_string(i) + ",1," + (i < 15 ? "1" : "2") + "," +
           std::to_string(id.back()) + "\n";
    csv += "cs,c" + std::to_string(i) + ",1," + (i < 5 ? "1" : "0") + "," +
           std::to_string(cs.back()) + "\n";
    csv += "ood,o" + std::to_string(i) + ",,," + std::to_string(ood.back()) + "\n";
  }
  WriteText(tmp_ / "s.csv", csv);
  const std::string metrics = "metrics '" + (tmp_ / "s.csv") + "' --id id --csid cs --out-dir '" +
                              (tmp_ / "m") + "' --score msp ";
  auto r = Cli(metrics);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(ReadText(tmp_ / "m/report.json"));
  ASSERT_EQ(j["ood"].size(), 1u);  // cs is not an OOD set by default
  EXPECT_EQ(j["csid"][0]["name"], "cs");
  EXPECT_EQ(j["csid"][0]["n"], 20);
  EXPECT_DOUBLE_EQ(j["csid"][0]["accuracy"].get<double>(), 0.25);
  EXPECT_FALSE(j["fsood"].get<bool>());
  MetricOptions options;
  EXPECT_DOUBLE_EQ(j["ood"][0]["metrics"]["msp"]["auroc"].get<double>(),
                   ComputeMetrics(id, ood, options).auroc);
  r = Cli(metrics + "--fsood");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = nlohmann::json::parse(ReadText(tmp_ / "m/report.json"));
  std::vector<double> both = id;
  both.insert(both.end(), cs.begin(), cs.end());
  const Metrics want = ComputeMetrics(both, ood, options);
  EXPECT_EQ(j["id"]["n"], 40);
  EXPECT_DOUBLE_EQ(j["ood"][0]["metrics"]["msp"]["auroc"].get<double>(), want.auroc);
  EXPECT_DOUBLE_EQ(j["ood"][0]["metrics"]["msp"]["fpr_at_tpr"].get<double>(), want.fpr_at_tpr);
  EXPECT_DOUBLE_EQ(j["id"]["fsood_accuracy"].get<double>(), 20.0 / 40);
  EXPECT_DOUBLE_EQ(j["id"]["accuracy"].get<double>(), 0.75);
  EXPECT_NE(ReadText(tmp_ / "m/report.md").find("full-spectrum (--fsood)"), std::string::npos);
  struct Misuse {
    std::string flags, message;
  };
  const std::string base =
      "metrics '" + (tmp_ / "s.csv") + "' --id id --out-dir '" + (tmp_ / "m") + "' --score msp ";
  for (const Misuse& m :
       std::vector<Misuse>{{"--fsood", "--fsood needs --csid"},
                           {"--csid cz", "no set 'cz' in the scores, did you mean 'cs'"},
                           {"--ood ood --ood cs --csid cs", "give each set one role"}}) {
    r = Cli(base + m.flags);
    EXPECT_EQ(r.exit_code, 2) << m.flags << ": " << r.err;
    EXPECT_NE(r.err.find(m.message), std::string::npos) << m.flags << ": " << r.err;
  }
}

// Another tool's CSV: any column by name, its orientation from the user; flags that would do
// nothing are refused rather than ignored.
TEST_F(CliCiTest, AnotherToolsColumnsNeedAnOrientation) {
  std::string csv = "set,path,label,pred,my_energy,conf\n";
  for (int i = 1; i <= 6; ++i) {
    csv += "id,a" + std::to_string(i) + ".png,,,-" + std::to_string(10 + i) + ",0.9\n";
    csv += "far,b" + std::to_string(i) + ".png,,,-" + std::to_string(i) + ",0.1\n";
  }
  WriteText(tmp_ / "o.csv", csv);
  auto metrics = [&](const std::string& flags) {
    return Cli("metrics -q '" + (tmp_ / "o.csv") + "' --id id --out-dir '" + (tmp_ / "m") + "' " +
               flags);
  };
  auto r = metrics("--score my_energy");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("add --lower-is-id my_energy"), std::string::npos) << r.err;
  r = metrics("--lower-is-id my_energy --higher-is-id conf");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(ReadText(tmp_ / "m/report.json"));
  EXPECT_EQ(j["ood"][0]["metrics"]["my_energy"]["auroc"], 1.0);
  EXPECT_EQ(j["scores"]["my_energy"]["orientation"], "lower_is_id");
  EXPECT_EQ(j["ood"][0]["metrics"]["conf"]["auroc"], 1.0);
  // The flag used to be ignored on a CSV: now every way it does nothing is an error.
  r = metrics("--lower-is-id");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("name the column: --lower-is-id NAME"), std::string::npos) << r.err;
  r = metrics("--score my_energy --lower-is-id my_energy --higher-is-id conf");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--higher-is-id conf would do nothing"), std::string::npos) << r.err;
  r = metrics("--lower-is-id my_enrgy");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("did you mean 'my_energy'?"), std::string::npos) << r.err;
  r = metrics("--lower-is-id conf --higher-is-id conf");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  // A file taken for a column name (--lower-is-id before the files) is named as such.
  r = Cli("metrics -q --lower-is-id '" + (tmp_ / "o.csv") + "' --id id --out-dir '" + (tmp_ / "m") +
          "'");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("as a column name"), std::string::npos) << r.err;
  // A known score's orientation is the catalogue's.
  WriteText(tmp_ / "e.csv", "set,path,label,pred,energy\nid,a,,,-9\nfar,b,,,-1\n");
  r = Cli("metrics -q '" + (tmp_ / "e.csv") + "' --id id --lower-is-id energy --out-dir '" +
          (tmp_ / "m") + "'");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("is a score oodscore knows (lower = ID)"), std::string::npos) << r.err;
  // A file that is not a score CSV names the other ways in.
  WriteText(tmp_ / "x.csv", "id,score\n1,2\n");
  r = Cli("metrics -q '" + (tmp_ / "x.csv") + "' --id id --out-dir '" + (tmp_ / "m") + "'");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("--id-file/--ood-file"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("logits.npy"), std::string::npos) << r.err;
}

TEST_F(CliCiTest, PlainFilesTakeAnyColumnName) {
  WriteText(tmp_ / "id.txt", "1\n2\n3\n");
  WriteText(tmp_ / "ood.txt", "5\n6\n");
  const std::string files =
      "metrics -q --id-file '" + (tmp_ / "id.txt") + "' --ood-file '" + (tmp_ / "ood.txt") + "' ";
  auto r = Cli(files + "--score dist --out-dir '" + (tmp_ / "m") + "'");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = Cli(files + "--score dist --lower-is-id dist --out-dir '" + (tmp_ / "m") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(ReadText(tmp_ / "m/report.json"));
  EXPECT_EQ(j["ood"][0]["metrics"]["dist"]["auroc"], 1.0);
  r = Cli(files + "--score dist --lower-is-id --out-dir '" + (tmp_ / "m") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Cli(files + "--lower-is-id dist --out-dir '" + (tmp_ / "m") + "'");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("would do nothing"), std::string::npos) << r.err;
}

TEST_F(CliCiTest, CheckTableShowsBaselineValueChangeAndAllowed) {
  ASSERT_EQ(Cli(Eval(tmp_ / "old")).exit_code, 0);
  auto j = nlohmann::json::parse(ReadText(tmp_ / "old/report.json"));
  j["ood"][0]["metrics"]["energy"]["auroc"] = 0.999;
  WriteText(tmp_ / "base.json", j.dump());
  auto r = Cli(Eval(tmp_ / "new") + "--score energy --baseline '" + (tmp_ / "base.json") +
               "' --max-drop auroc=0.5%");
  ASSERT_EQ(r.exit_code, 1) << r.err;
  const std::string md = ReadText(tmp_ / "new/report.md");
  EXPECT_NE(md.find("| check | baseline | value | change | allowed | verdict |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("| `far.energy.auroc` | 99.9% | "), std::string::npos) << md;
  EXPECT_NE(md.find(" | drop <= 0.5 pp | **FAIL** |"), std::string::npos) << md;
  auto out = nlohmann::json::parse(ReadText(tmp_ / "new/report.json"));
  // A samples check per set first (the baseline's samples), then the tolerance.
  ASSERT_EQ(out["checks"].size(), 5u) << out["checks"];  // and a skipped-share check per set
  EXPECT_EQ(out["checks"][0]["subject"], "id.samples");
  EXPECT_TRUE(out["checks"][0]["pass"].get<bool>());
  EXPECT_EQ(out["checks"][2]["baseline"], 0.999);  // exact doubles in JSON
  const std::string html = ReadText(tmp_ / "new/report.html");
  EXPECT_NE(html.find("<div class=\"banner fail\">FAIL: 1 of"), std::string::npos);
  // Messages round as the check table does.
  EXPECT_NE(html.find("far.energy.auroc moved 99.9% -&gt; "), std::string::npos) << html;
}

// The case: a fine-tuned model that improves the deployed score must not fail on
// scores it does not deploy.
TEST_F(CliCiTest, BaselineChecksCoverTheGatedAndNamedScores) {
  ASSERT_EQ(Cli(Eval(tmp_ / "old")).exit_code, 0);
  auto j = nlohmann::json::parse(ReadText(tmp_ / "old/report.json"));
  j["ood"][0]["metrics"]["msp"]["auroc"] = 0.999;  // msp "was" better: a drop on msp
  WriteText(tmp_ / "base.json", j.dump());
  const std::string baseline = "--baseline '" + (tmp_ / "base.json") + "' --max-drop auroc=0.5% ";
  auto r = Cli(Eval(tmp_ / "new") + baseline + "--gate 'energy.auroc>=0%'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto out = nlohmann::json::parse(ReadText(tmp_ / "new/report.json"));
  for (const auto& c : out["checks"]) {
    EXPECT_EQ(c["subject"].get<std::string>().find(".msp."), std::string::npos) << c;
  }
  r = Cli(Eval(tmp_ / "new") + baseline + "--score energy --score msp");  // named: checked
  EXPECT_EQ(r.exit_code, 1) << r.err;
  r = Cli(Eval(tmp_ / "new") + baseline + "--gate 'energy.auroc>=0%' --baseline-scores all");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("far.msp.auroc moved 99.9%"), std::string::npos) << r.err;
  r = Cli(Eval(tmp_ / "new") + baseline + "--baseline-scores msp");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  r = Cli(Eval(tmp_ / "new") + baseline + "--baseline-scores mps");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("did you mean 'msp'?"), std::string::npos) << r.err;
  r = Cli(Eval(tmp_ / "new") + "--baseline-scores msp");
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST_F(CliCiTest, AFirstRunWithoutABaselineFailsOrSkipsAsAsked) {
  const std::string baseline =
      "--baseline '" + (tmp_ / "main/report.json") + "' --max-drop auroc=0.5% ";
  auto r = Cli(Eval(tmp_ / "r") + baseline);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("--baseline-missing skip"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp_ / "r/scores.csv"));  // refused before scoring
  r = Cli(Eval(tmp_ / "r") + baseline + "--baseline-missing skip");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("checks passed (baseline missing: its checks skipped)"), std::string::npos)
      << r.err;
  auto j = nlohmann::json::parse(ReadText(tmp_ / "r/report.json"));
  ASSERT_EQ(j["warnings"].size(), 1u) << j["warnings"];
  EXPECT_NE(j["warnings"][0].get<std::string>().find("does not exist"), std::string::npos);
  EXPECT_NE(ReadText(tmp_ / "r/report.md").find("does not exist"), std::string::npos);
  r = Cli(Eval(tmp_ / "r") + baseline + "--baseline-missing maybe");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = Cli(Eval(tmp_ / "r") + "--baseline-missing skip");  // would do nothing
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--baseline-missing needs --baseline"), std::string::npos) << r.err;
}

TEST_F(CliCiTest, ABaselineOnOtherSamplesIsACheckOfItsOwn) {
  ASSERT_EQ(Cli(Eval(tmp_ / "old") + "--score energy").exit_code, 0);
  const std::string baseline =
      "--score energy --baseline '" + (tmp_ / "old/report.json") + "' --max-drop auroc=100% ";
  auto r = Cli(Eval(tmp_ / "same") + baseline);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Half of the OOD set: the samples check fails, with the counts.
  for (int i = 0; i < 6; ++i) std::filesystem::remove(tmp_ / ("far/" + std::to_string(i) + ".ppm"));
  r = Cli(Eval(tmp_ / "half") + baseline);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("set 'far': 6 files found, the baseline had 12"), std::string::npos)
      << r.err;
  r = Cli(Eval(tmp_ / "half") + baseline + "--baseline-allow-resample");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // As many files, other ones: the digest tells.
  for (int i = 0; i < 6; ++i) {
    testing::WritePnm(tmp_ / ("far/x" + std::to_string(i) + ".ppm"), 16, 12, 3, 1000 + 7 * i);
  }
  r = Cli(Eval(tmp_ / "other") + baseline);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("the same count (12) but other samples"), std::string::npos) << r.err;
  // metrics on the score files gives the same digests as eval.
  r = Cli("metrics -q '" + (tmp_ / "same/scores.csv") + "' --id id --out-dir '" + (tmp_ / "m") +
          "' " + baseline);
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

bool HaveXmllint() { return std::system("command -v xmllint >/dev/null 2>&1") == 0; }

void ExpectValidJunit(const std::string& path) {
  if (!HaveXmllint()) GTEST_SKIP() << "xmllint missing (scripts/test.sh installs libxml2-utils)";
  const std::string cmd =
      "xmllint --noout --schema '" OODSCORE_FIXTURE_DIR "/junit.xsd' '" + path + "' 2>/dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << ReadText(path);
}

TEST_F(CliCiTest, JunitHasATestcasePerCheck) {
  auto r = Cli(Eval(tmp_ / "r") + "--gate 'energy.auroc>=99.99%' --gate 'id.n>=12' --junit '" +
               (tmp_ / "j/junit.xml") + "'");
  ASSERT_EQ(r.exit_code, 1) << r.err;
  const std::string x = ReadText(tmp_ / "j/junit.xml");
  // 2 gates + 2 skipped-share checks (one per set).
  EXPECT_NE(x.find("<testsuites name=\"oodscore\" tests=\"4\" failures=\"1\" errors=\"0\""),
            std::string::npos)
      << x;
  EXPECT_NE(x.find("<testcase classname=\"oodscore.gate\" name=\"far.energy.auroc &gt;= "
                   "99.99%\" time=\"0\">\n      <failure type=\"gate\""),
            std::string::npos)
      << x;
  EXPECT_NE(x.find("classname=\"oodscore.skipped\""), std::string::npos) << x;
  ExpectValidJunit(tmp_ / "j/junit.xml");
  // No checks: one passing testcase, so the report is never empty.
  r = Cli("metrics '" + (tmp_ / "r/scores.csv") + "' --id id --max-skipped 1 --out-dir '" +
          (tmp_ / "m") + "' --junit '" + (tmp_ / "m.xml") + "'");
  EXPECT_NE(r.exit_code, 0);  // metrics has no --max-skipped
  r = Cli("metrics '" + (tmp_ / "r/scores.csv") + "' --id id --out-dir '" + (tmp_ / "m") +
          "' --junit '" + (tmp_ / "m.xml") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string m = ReadText(tmp_ / "m.xml");
  EXPECT_NE(m.find("tests=\"1\" failures=\"0\""), std::string::npos) << m;
  EXPECT_NE(m.find("name=\"report written (no checks configured)\""), std::string::npos) << m;
  ExpectValidJunit(tmp_ / "m.xml");
}

TEST_F(CliCiTest, ScoreNamesAreCheckedBeforeScoring) {
  auto r = Cli(Eval(tmp_ / "r") + "--score enrgy");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("unknown score 'enrgy', did you mean 'energy'?"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("model '"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp_ / "r/scores.csv"));
  // energy_T<t> brings its temperature.
  r = Cli(Eval(tmp_ / "r") + "--score energy_T2 --score msp");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(ReadText(tmp_ / "r/report.json"));
  EXPECT_TRUE(j["scores"].contains("energy_T2"));
  r = Cli("calibrate -q " + Common() + "--id '" + (tmp_ / "id") + "' --score mps -o -");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("did you mean 'msp'?"), std::string::npos) << r.err;
  r = Cli("metrics '" + (tmp_ / "r/scores.csv") + "' --id id --score maxlogt --out-dir '" +
          (tmp_ / "m") + "'");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("did you mean 'maxlogit'?"), std::string::npos) << r.err;
}

TEST_F(CliCiTest, SetNamesThatCollideWithGatesAreRefused) {
  auto r = Cli("eval " + Common() + "--id '" + (tmp_ / "id") + "' --ood mean='" + (tmp_ / "far") +
               "' --out-dir '" + (tmp_ / "r") + "'");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("a set may not be called 'mean'"), std::string::npos) << r.err;
  ASSERT_EQ(Cli(Eval(tmp_ / "r")).exit_code, 0);
  r = Cli("metrics '" + (tmp_ / "r/scores.csv") + "' --id id --ood fra --out-dir '" + (tmp_ / "m") +
          "'");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("no rows with set 'fra' in the score files, did you mean 'far'? (sets: id, "
                       "far)"),
            std::string::npos)
      << r.err;
}

TEST_F(CliCiTest, AccuracyBelowChanceWarns) {
  // Labels that disagree with every prediction: the class order does not match.
  ASSERT_EQ(Cli(Eval(tmp_ / "r")).exit_code, 0);
  std::string csv = ReadText(tmp_ / "r/scores.csv");
  std::string out, line;
  std::istringstream in(csv);
  std::getline(in, line);
  out += line + "\n";
  while (std::getline(in, line)) {
    // set,path,label,pred,...: make the label pred + 1 (mod 3) for the ID rows.
    if (line.rfind("id,", 0) == 0) {
      std::vector<std::string> f;
      std::stringstream ss(line);
      for (std::string x; std::getline(ss, x, ',');) f.push_back(x);
      f[2] = std::to_string((std::stoi(f[3]) + 1) % 3);
      line.clear();
      for (std::size_t i = 0; i < f.size(); ++i) line += (i ? "," : "") + f[i];
    }
    out += line + "\n";
  }
  WriteText(tmp_ / "shifted.csv", out);
  auto r = Cli("metrics '" + (tmp_ / "shifted.csv") + "' --id id --out-dir '" + (tmp_ / "m") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("ID accuracy 0% is below chance (1/"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the class order may not match the model's"), std::string::npos) << r.err;
}

TEST_F(CliCiTest, IntegerLabelsCompareAsIntegers) {
  // A list file with zero-padded labels: 00, 01, 02 are the classes 0, 1, 2.
  std::string list;
  for (int i = 0; i < 12; ++i) {
    list += (tmp_ / ("id/" + std::to_string(i % 3) + "_cls/" + std::to_string(i) + ".pgm")) + ",0" +
            std::to_string(i % 3) + "\n";
  }
  WriteText(tmp_ / "list.txt", list);
  auto folder = Cli(Eval(tmp_ / "a"));
  ASSERT_EQ(folder.exit_code, 0) << folder.err;
  auto r = Cli("eval -q " + Common() + "--id id='" + (tmp_ / "list.txt") + "' --ood '" +
               (tmp_ / "far") + "' --out-dir '" + (tmp_ / "b") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto a = nlohmann::json::parse(ReadText(tmp_ / "a/report.json"));
  auto b = nlohmann::json::parse(ReadText(tmp_ / "b/report.json"));
  EXPECT_EQ(a["id"]["accuracy"], b["id"]["accuracy"]);
}

}  // namespace
}  // namespace oodscore
