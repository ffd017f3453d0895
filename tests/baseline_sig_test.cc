// Baseline checks with significance: each check against --baseline carries the change's 95%
// interval and DeLong's p-value (paired by (set, path) with the baseline folder's scores.csv,
// unpaired when the samples differ, none without it), and --significance ALPHA fails a check
// only when the change is beyond the tolerance and significant. The real binary on score CSVs
// written here, with seeded scores.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "cli_fixture.h"
#include "oodscore/delong.h"
#include "test_util.h"

namespace oodscore {
namespace {

using testing::ReadText;
using testing::RunOodscore;
using testing::RunResult;
using testing::TempDir;
using testing::WriteText;

// Seeded standard normals by Box-Muller on mt19937_64: the same on every platform.
std::vector<double> Normals(std::uint64_t seed, int n, double mean) {
  std::mt19937_64 rng(seed);
  auto uniform = [&] { return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53; };
  std::vector<double> v;
  for (int i = 0; i < n; ++i) {
    v.push_back(mean +
                std::sqrt(-2 * std::log(uniform())) * std::cos(6.283185307179586 * uniform()));
  }
  return v;
}

struct Sets {
  std::vector<double> id, ood;
};

// set,path,label,pred,s with s higher = ID; paths "<prefix><set>/<i>.png".
std::string Csv(const Sets& s, const std::string& prefix = "") {
  std::string t = "set,path,label,pred,s\n";
  char buf[64];
  for (std::size_t i = 0; i < s.id.size(); ++i) {
    std::snprintf(buf, sizeof(buf), "%.17g", s.id[i]);
    t += "id," + prefix + "id/" + std::to_string(i) + ".png,,," + buf + "\n";
  }
  for (std::size_t i = 0; i < s.ood.size(); ++i) {
    std::snprintf(buf, sizeof(buf), "%.17g", s.ood[i]);
    t += "ood," + prefix + "ood/" + std::to_string(i) + ".png,,," + buf + "\n";
  }
  return t;
}

class BaselineSigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = {Normals(1, 300, 1.0), Normals(2, 300, 0.0)};
    WriteText(tmp_ / "base.csv", Csv(base_));
    ASSERT_EQ(
        Metrics("'" + (tmp_ / "base.csv") + "' --out-dir '" + (tmp_ / "base") + "'").exit_code, 0);
    // The baseline folder as eval leaves it: report.json beside its scores.csv.
    std::filesystem::copy_file(tmp_ / "base.csv", tmp_ / "base/scores.csv");
  }
  RunResult Metrics(const std::string& args) {
    return RunOodscore("metrics -q --id id --higher-is-id s " + args, tmp_.path());
  }
  // metrics of `run` (written to new.csv) against the baseline folder, with `flags`.
  RunResult Against(const Sets& run, const std::string& flags, const std::string& prefix = "") {
    WriteText(tmp_ / "new.csv", Csv(run, prefix));
    return Metrics("'" + (tmp_ / "new.csv") + "' --out-dir '" + (tmp_ / "new") + "' --baseline '" +
                   (tmp_ / "base/report.json") + "' " + flags);
  }
  // report.json's baseline check of ood.s.METRIC.
  nlohmann::json Check(const std::string& metric = "auroc") {
    const auto j = nlohmann::json::parse(ReadText(tmp_ / "new/report.json"));
    for (const auto& c : j["checks"]) {
      if (c["subject"] == "ood.s." + metric) return c;
    }
    ADD_FAILURE() << "no check of ood.s." << metric;
    return {};
  }
  TempDir tmp_;
  Sets base_;
};

// The OOD scores moved half a unit towards ID: AUROC drops by about 0.1.
Sets Worse(const Sets& b) {
  Sets s = b;
  for (double& v : s.ood) v += 0.5;
  return s;
}

// A tiny drop: 3 of 300 OOD samples move up a little.
Sets SlightlyWorse(const Sets& b) {
  Sets s = b;
  for (int i = 0; i < 3; ++i) s.ood[i] += 0.3;
  return s;
}

TEST_F(BaselineSigTest, PairedPValueIsDelongPairedOfTheSameData) {
  const Sets run = Worse(base_);
  const RunResult r = Against(run, "--max-drop auroc=0.5");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json c = Check();
  EXPECT_EQ(c["test"], "paired");
  const DelongResult d = DelongPaired(run.id, run.ood, base_.id, base_.ood);
  EXPECT_NEAR(c["delong_p"].get<double>(), d.p, 1e-15);
  EXPECT_NEAR(c["delong_z"].get<double>(), d.z, 1e-12);
  EXPECT_NEAR(c["change"].get<double>(), d.auc_a - d.auc_b, 1e-12);
  EXPECT_LT(c["change"].get<double>(), -0.05);
  const double half = 1.959963984540054 * std::sqrt(d.variance);
  EXPECT_NEAR(c["change_ci95"][0].get<double>(), d.auc_a - d.auc_b - half, 1e-12);
  EXPECT_NEAR(c["change_ci95"][1].get<double>(), d.auc_a - d.auc_b + half, 1e-12);
  EXPECT_EQ(c["change_ci_method"], "delong-normal");
  EXPECT_TRUE(c["significance_alpha"].is_null());
  // Within the tolerance of 50 points, yet significant: passes with a warning.
  EXPECT_TRUE(c["pass"].get<bool>());
  EXPECT_TRUE(c.contains("warning"));
  const auto j = nlohmann::json::parse(ReadText(tmp_ / "new/report.json"));
  ASSERT_FALSE(j["warnings"].empty());
  EXPECT_NE(j["warnings"].back().get<std::string>().find("within the tolerance but significant"),
            std::string::npos);
  EXPECT_NE(r.err.find("within the tolerance but significant"), std::string::npos) << r.err;
}

TEST_F(BaselineSigTest, SignificantDropBeyondToleranceFailsWithSignificance) {
  const RunResult r = Against(Worse(base_), "--max-drop auroc=0.005 --significance 0.05");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const nlohmann::json c = Check();
  EXPECT_FALSE(c["pass"].get<bool>());
  EXPECT_LT(c["delong_p"].get<double>(), 0.05);
  EXPECT_EQ(c["significance_alpha"], 0.05);
  EXPECT_NE(c["message"].get<std::string>().find("significant at 0.05"), std::string::npos);
}

TEST_F(BaselineSigTest, InsignificantDropBeyondTolerancePassesOnlyWithSignificance) {
  const Sets run = SlightlyWorse(base_);
  // Without --significance: today's verdict, the tolerance alone.
  RunResult r = Against(run, "--max-drop auroc=0");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  nlohmann::json c = Check();
  const double change = c["change"].get<double>(), p = c["delong_p"].get<double>();
  EXPECT_LT(change, 0);
  EXPECT_GT(p, 0.05);
  EXPECT_FALSE(c.contains("warning"));
  r = Against(run, "--max-drop auroc=0 --significance 0.05");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  c = Check();
  EXPECT_TRUE(c["pass"].get<bool>());
  EXPECT_NE(c["message"].get<std::string>().find("not significant at 0.05"), std::string::npos)
      << c["message"];
  // An FPR check has no p-value: the tolerance decides, and the message says so.
  r = Against(Worse(base_), "--max-drop auroc=100% --max-rise fpr_at_tpr=0 --significance 0.05");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const nlohmann::json fpr = Check("fpr_at_tpr");
  EXPECT_EQ(fpr["test"], "paired");
  EXPECT_EQ(fpr["change_ci_method"], "bootstrap-percentile");
  EXPECT_TRUE(fpr["delong_p"].is_null());
  EXPECT_GT(fpr["change"].get<double>(), 0);
  EXPECT_LE(fpr["change_ci95"][0].get<double>(), fpr["change"].get<double>());
  EXPECT_GE(fpr["change_ci95"][1].get<double>(), fpr["change"].get<double>());
  EXPECT_FALSE(fpr["pass"].get<bool>());
  EXPECT_NE(fpr["message"].get<std::string>().find("could not be tested"), std::string::npos);
}

TEST_F(BaselineSigTest, OtherSamplesAreComparedUnpaired) {
  const Sets run = Worse(base_);
  const RunResult r = Against(run, "--max-drop auroc=0.5 --baseline-allow-resample", "other/");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json c = Check();
  EXPECT_EQ(c["test"], "unpaired");
  EXPECT_NE(c["test_note"].get<std::string>().find("samples differ"), std::string::npos);
  const DelongResult d = DelongUnpaired(run.id, run.ood, base_.id, base_.ood);
  EXPECT_NEAR(c["delong_p"].get<double>(), d.p, 1e-15);
}

TEST_F(BaselineSigTest, NoTestWithoutTheBaselinesScores) {
  std::filesystem::remove(tmp_ / "base/scores.csv");
  const RunResult r = Against(Worse(base_), "--max-drop auroc=0.005 --significance 0.05");
  EXPECT_EQ(r.exit_code, 1) << r.err;  // the tolerance alone decides
  const nlohmann::json c = Check();
  EXPECT_EQ(c["test"], "none");
  EXPECT_TRUE(c["delong_p"].is_null());
  EXPECT_TRUE(c["change_ci95"].is_null());
  EXPECT_NE(c["test_note"].get<std::string>().find("has no scores.csv"), std::string::npos);
  EXPECT_NE(c["message"].get<std::string>().find("could not be tested"), std::string::npos);
}

TEST_F(BaselineSigTest, MarkdownAndJunitCarryTheTest) {
  const RunResult r = Against(Worse(base_), "--max-drop auroc=0.005 --significance 0.05 --junit '" +
                                                (tmp_ / "junit.xml") + "'");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const std::string md = ReadText(tmp_ / "new/report.md");
  EXPECT_NE(md.find("(paired)"), std::string::npos) << md;
  EXPECT_NE(md.find(", p="), std::string::npos) << md;
  const std::string xml = ReadText(tmp_ / "junit.xml");
  EXPECT_NE(xml.find("DeLong p"), std::string::npos) << xml;
  EXPECT_NE(xml.find("(paired)"), std::string::npos) << xml;
}

TEST_F(BaselineSigTest, SignificanceNeedsBaselineAndALevel) {
  WriteText(tmp_ / "new.csv", Csv(base_));
  RunResult r = Metrics("'" + (tmp_ / "new.csv") + "' --out-dir '" + (tmp_ / "new") +
                        "' --significance 0.05");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--significance needs --baseline"), std::string::npos) << r.err;
  r = Against(base_, "--max-drop auroc=0 --significance 1");
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

class BaselineSigEvalTest : public testing::CliTest {};

// eval keeps its samples' paths for the pairing: the same run twice is paired, no change.
TEST_F(BaselineSigEvalTest, EvalPairsWithItsBaselineFolder) {
  const std::string base =
      "eval -q " + Common() + "--id '" + (tmp_ / "id") + "' --ood '" + (tmp_ / "far") + "' ";
  ASSERT_EQ(Cli(base + "--out-dir '" + (tmp_ / "old") + "'").exit_code, 0);
  const RunResult r = Cli(base + "--out-dir '" + (tmp_ / "new") + "' --baseline '" +
                          (tmp_ / "old/report.json") + "' --max-drop auroc=0 --significance 0.05");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(ReadText(tmp_ / "new/report.json"));
  bool found = false;
  for (const auto& c : j["checks"]) {
    if (c["subject"] != "far.energy.auroc") continue;
    found = true;
    EXPECT_EQ(c["test"], "paired") << c;
    EXPECT_EQ(c["change"], 0.0);
    EXPECT_EQ(c["delong_p"], 1.0);
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace oodscore
