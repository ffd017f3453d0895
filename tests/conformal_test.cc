// Conformal p-values from a detector card's calibration scores: the count, the card field
// (round trip, strict reading), the guarantee on synthetic data, and score --card / --alpha.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "base/json_text.h"
#include "cli/scoring.h"
#include "cli_fixture.h"
#include "oodscore/card.h"
#include "oodscore/error.h"
#include "oodscore/score_table.h"

namespace oodscore {
namespace {

double BruteForcePValue(const std::vector<double>& cal, double s) {
  std::size_t le = 0;
  for (double c : cal) le += c <= s;
  return (1.0 + static_cast<double>(le)) / (static_cast<double>(cal.size()) + 1.0);
}

TEST(ConformalPValue, MatchesABruteForceCountWithManyTies) {
  std::mt19937_64 rng(20231);
  for (int draw = 0; draw < 300; ++draw) {
    const int n = 1 + static_cast<int>(rng() % 60);
    std::uniform_int_distribution<int> level(0, 7);  // 8 levels: many ties
    std::vector<double> cal(n);
    for (double& v : cal) v = 0.5 * level(rng) - 1.0;
    std::sort(cal.begin(), cal.end());
    for (int k = 0; k < 20; ++k) {
      // Half on the calibration levels (exact ties), half between them.
      const double s = k % 2 == 0 ? 0.5 * level(rng) - 1.0 : 0.25 * level(rng) * 2 - 1.1;
      EXPECT_EQ(ConformalPValue(cal, s), BruteForcePValue(cal, s)) << "n " << n << " s " << s;
    }
    const double lo = -std::numeric_limits<double>::infinity();
    EXPECT_EQ(ConformalPValue(cal, lo), 1.0 / (n + 1));
    EXPECT_EQ(ConformalPValue(cal, -lo), 1.0);
    EXPECT_EQ(ConformalPValue(cal, std::nan("")), 1.0 / (n + 1));  // as OOD as can be
  }
}

DetectorCard SomeCard() {
  DetectorCard c;
  c.score = "energy";
  c.threshold = -7.25;
  c.n = 6;
  c.model_sha256 = "ab";
  c.preset = nlohmann::json::object();
  c.calibration = {-3.0, -1e-300, 0.0, 0.1, 1.0 / 3.0, 7.125};
  return c;
}

TEST(CardCalibration, RoundTripsBitForBit) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> z(0, 1);
  DetectorCard c = SomeCard();
  c.calibration.clear();
  for (int i = 0; i < 500; ++i) c.calibration.push_back(z(rng) * std::pow(10.0, i % 40 - 20));
  c.calibration.push_back(std::numeric_limits<double>::denorm_min());
  c.calibration.push_back(std::numeric_limits<double>::max());
  std::sort(c.calibration.begin(), c.calibration.end());
  const std::string text = DumpJson(CardJson(c));
  EXPECT_NE(text.find("\"axis\": \"oriented, higher = ID\""), std::string::npos);
  const DetectorCard back = ParseCard(text, "card.json");
  ASSERT_EQ(back.calibration.size(), c.calibration.size());
  EXPECT_EQ(std::memcmp(back.calibration.data(), c.calibration.data(),
                        c.calibration.size() * sizeof(double)),
            0);
  EXPECT_EQ(nlohmann::json::parse(text)["calibration"]["n"], c.calibration.size());
}

TEST(CardCalibration, OldCardsWithoutItStillLoad) {
  nlohmann::json j = CardJson(SomeCard());
  j.erase("calibration");
  EXPECT_TRUE(ParseCard(j.dump(), "old.json").calibration.empty());
}

std::string CardError(const nlohmann::json& j) {
  try {
    ParseCard(j.dump(), "card.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "(read without error)";
}

TEST(CardCalibration, MalformedFieldsAreRefusedNamingThePointer) {
  const nlohmann::json good = CardJson(SomeCard());
  nlohmann::json j = good;
  std::swap(j["calibration"]["scores"][2], j["calibration"]["scores"][3]);
  EXPECT_NE(CardError(j).find("/calibration/scores/3"), std::string::npos) << CardError(j);
  EXPECT_NE(CardError(j).find("sorted ascending"), std::string::npos) << CardError(j);
  j = good;
  j["calibration"]["scores"][1] = nullptr;  // what a NaN is written as
  EXPECT_NE(CardError(j).find("/calibration/scores/1 must be a finite number"), std::string::npos)
      << CardError(j);
  j = good;
  j["calibration"]["scores"][1] = "nan";
  EXPECT_NE(CardError(j).find("/calibration/scores/1 must be a finite number"), std::string::npos)
      << CardError(j);
  j = good;
  j["calibration"]["n"] = 7;
  EXPECT_NE(CardError(j).find("/calibration/n is 7"), std::string::npos) << CardError(j);
  j = good;
  j["calibration"]["n"] = -1;
  EXPECT_NE(CardError(j).find("/calibration/n must be a count"), std::string::npos) << CardError(j);
  j = good;
  j["calibration"].erase("n");
  EXPECT_NE(CardError(j).find("missing /calibration/n"), std::string::npos) << CardError(j);
  j = good;
  j["calibration"]["axis"] = "raw";
  EXPECT_NE(CardError(j).find("/calibration/axis"), std::string::npos) << CardError(j);
  j = good;
  j["calibration"]["scores"] = 3;
  EXPECT_NE(CardError(j).find("/calibration/scores must be an array"), std::string::npos)
      << CardError(j);
  j = good;
  j["calibration"] = {{"n", 0}, {"axis", kCalibrationAxis}, {"scores", nlohmann::json::array()}};
  EXPECT_NE(CardError(j).find("/calibration/n must be at least 1"), std::string::npos)
      << CardError(j);
  j = good;
  j["calibration"] = 1;
  EXPECT_NE(CardError(j).find("/calibration must be an object"), std::string::npos) << CardError(j);
  j = good;
  j["calibration"]["split"] = {{"fraction", 1.5}, {"seed", 0}, {"n_threshold", j["n"]}};
  EXPECT_NE(CardError(j).find("/calibration/split/fraction must be in (0, 1)"), std::string::npos)
      << CardError(j);
  j["calibration"]["split"]["fraction"] = 0.5;
  j["calibration"]["split"]["n_threshold"] = 1;
  EXPECT_NE(CardError(j).find("/calibration/split/n_threshold is 1"), std::string::npos)
      << CardError(j);
  j["calibration"]["split"]["n_threshold"] = j["n"];
  EXPECT_EQ(CardError(j), "(read without error)");
}

// The guarantee: calibration and test sets drawn from one distribution, P(p <= alpha) <=
// alpha. With n = 99 it is exactly floor(alpha * 100) / 100 = alpha, so the mean share over
// draws must lie within Monte-Carlo error of alpha, and not above it.
TEST(ConformalPValue, FalseAlarmRateIsAtMostAlphaOnExchangeableData) {
  constexpr int kDraws = 200, kCal = 99, kTest = 500;
  for (const double alpha : {0.05, 0.1}) {
    std::vector<double> shares;
    for (int draw = 0; draw < kDraws; ++draw) {
      std::mt19937_64 rng(1000 + draw);
      // A heavy-tailed score, rounded to a grid so that ties occur.
      std::student_t_distribution<double> t(3);
      auto score = [&] { return std::round(t(rng) * 20) / 20; };
      std::vector<double> cal(kCal);
      for (double& v : cal) v = score();
      std::sort(cal.begin(), cal.end());
      int alarms = 0;
      for (int i = 0; i < kTest; ++i) alarms += ConformalPValue(cal, score()) <= alpha;
      shares.push_back(static_cast<double>(alarms) / kTest);
    }
    double mean = 0, var = 0;
    for (double s : shares) mean += s / kDraws;
    for (double s : shares) var += (s - mean) * (s - mean) / (kDraws - 1);
    const double se = std::sqrt(var / kDraws);
    std::printf("alpha %.2f: mean false-alarm rate %.5f (standard error %.5f) over %d draws\n",
                alpha, mean, se, kDraws);
    EXPECT_LE(mean, alpha + 3 * se) << "alpha " << alpha;
    // Ties count as extreme, so a grid can only lower the rate; it stays near alpha here.
    EXPECT_GE(mean, alpha / 2) << "alpha " << alpha;
  }
}

// The FDR guarantee (Bates et al. 2023, Theorem 3: BH on marginal conformal p-values controls
// the FDR at q * n_id / n): over 200 seeded splits of a mixture (900 ID, 100 OOD test samples,
// 1000 calibration samples, ID and OOD overlapping, scores on a grid so that ties occur), the
// mean false discovery proportion stays within Monte-Carlo error of q * 0.9.
TEST(BenjaminiHochberg, ConformalFalseDiscoveryRateStaysAtMostQ) {
  constexpr int kDraws = 200, kCal = 1000, kId = 900, kOod = 100;
  for (const double q : {0.1, 0.2}) {
    std::vector<double> fdp;
    double discoveries = 0;
    for (int draw = 0; draw < kDraws; ++draw) {
      std::mt19937_64 rng(5000 + draw);
      std::normal_distribution<double> z(0, 1);
      auto id_score = [&] { return std::round(z(rng) * 10) / 10; };
      auto ood_score = [&] { return std::round((z(rng) - 3) * 10) / 10; };
      std::vector<double> cal(kCal);
      for (double& v : cal) v = id_score();
      std::sort(cal.begin(), cal.end());
      std::vector<double> p;
      for (int i = 0; i < kId; ++i) p.push_back(ConformalPValue(cal, id_score()));
      for (int i = 0; i < kOod; ++i) p.push_back(ConformalPValue(cal, ood_score()));
      const double cut = BenjaminiHochbergCutoff(p, q);
      int flagged = 0, false_alarms = 0;
      for (int i = 0; i < kId + kOod; ++i) {
        if (cut > 0 && p[i] <= cut) {
          ++flagged;
          false_alarms += i < kId;
        }
      }
      fdp.push_back(flagged ? static_cast<double>(false_alarms) / flagged : 0.0);
      discoveries += flagged;
    }
    double mean = 0, var = 0;
    for (double v : fdp) mean += v / kDraws;
    for (double v : fdp) var += (v - mean) * (v - mean) / (kDraws - 1);
    const double se = std::sqrt(var / kDraws);
    std::printf(
        "q %.2f: mean false discovery proportion %.5f (standard error %.5f), %.1f "
        "flagged a draw\n",
        q, mean, se, discoveries / kDraws);
    EXPECT_LE(mean, q * kId / (kId + kOod) + 3 * se) << "q " << q;
    EXPECT_GT(discoveries / kDraws, 10.0) << "q " << q;  // the test has power: not vacuous
  }
}

TEST(BenjaminiHochberg, CutoffIsTheLargestPValueUnderItsLine) {
  std::mt19937_64 rng(99);
  for (int draw = 0; draw < 200; ++draw) {
    const int m = 1 + static_cast<int>(rng() % 40);
    std::vector<double> p(m);
    for (double& v : p) v = (1 + rng() % 30) / 31.0;  // ties
    const double q = 0.1 + 0.1 * (draw % 4);
    std::vector<double> sorted = p;
    std::sort(sorted.begin(), sorted.end());
    double want = 0;
    for (int k = 1; k <= m; ++k) {
      if (sorted[k - 1] <= k * q / m) want = sorted[k - 1];
    }
    EXPECT_EQ(BenjaminiHochbergCutoff(p, q), want) << "draw " << draw;
  }
  EXPECT_EQ(BenjaminiHochbergCutoff({0.01, 0.02, 0.9}, 0.1), 0.02);
  EXPECT_EQ(BenjaminiHochbergCutoff({0.5, 0.9}, 0.1), 0.0);
  EXPECT_EQ(BenjaminiHochbergCutoff({}, 0.1), 0.0);
}

}  // namespace

namespace testing {
namespace {

class ConformalCliTest : public CliTest {
 protected:
  void Calibrate() {
    auto r = Cli("calibrate -q " + Common() + "--id '" + (tmp_ / "id") + "' -o '" +
                 (tmp_ / "card.json") + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  RunResult Score(const std::string& card, const std::string& extra) {
    return Cli("score " + Common() + "--card '" + (tmp_ / card) + "' -i id='" + (tmp_ / "id") +
               "' -i far='" + (tmp_ / "far") + "' -o '" + (tmp_ / "s.csv") + "' " + extra);
  }
};

TEST_F(ConformalCliTest, ScoreWritesPValuesFromTheCardsCalibrationScores) {
  Calibrate();
  const auto card = nlohmann::json::parse(ReadText(tmp_ / "card.json"));
  ASSERT_EQ(card["calibration"]["n"], 12);
  const std::vector<double> cal = card["calibration"]["scores"].get<std::vector<double>>();
  ASSERT_TRUE(std::is_sorted(cal.begin(), cal.end()));
  auto r = Score("card.json", "-q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(ReadText(tmp_ / "s.csv").find(",is_ood,pvalue\n"), std::string::npos);
  ScoreTable t = ReadScoreFiles({tmp_ / "s.csv"});
  const int p = t.ColumnIndex("pvalue"), energy = t.ColumnIndex("energy");
  ASSERT_GE(p, 0);
  ASSERT_EQ(t.values(p).size(), 24u);
  int ones = 0;
  for (std::size_t i = 0; i < t.values(p).size(); ++i) {
    const double v = t.values(p)[i];
    EXPECT_GT(v, 0.0);
    EXPECT_LE(v, 1.0);
    // energy is lower = ID: the card's axis is -energy.
    EXPECT_EQ(v, BruteForcePValue(cal, -t.values(energy)[i])) << "row " << i;
    ones += v == 1.0;
    // The id set's rows (first) were the calibration set: each counts at least itself.
    if (i < 12) EXPECT_GE(v, 2.0 / 13) << "row " << i;
  }
  EXPECT_GT(ones, 0);  // the most ID-like calibration sample
}

TEST_F(ConformalCliTest, SplitFractionHoldsOutThePValuesSamplesFromTheThreshold) {
  Calibrate();  // every sample for both: the reference
  const auto all = nlohmann::json::parse(ReadText(tmp_ / "card.json"));
  std::vector<double> rest = all["calibration"]["scores"].get<std::vector<double>>();
  auto split = [&](const std::string& out, const std::string& seed) {
    return Cli("calibrate " + Common() + "--id '" + (tmp_ / "id") + "' -o '" + (tmp_ / out) +
               "' --split-fraction 0.25 --seed " + seed);
  };
  auto r = split("split.json", "3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // 3 held-out scores: 1/4 is above 1 - tpr = 0.05.
  EXPECT_NE(r.err.find("only 3 calibration scores"), std::string::npos) << r.err;
  const auto card = nlohmann::json::parse(ReadText(tmp_ / "split.json"));
  ASSERT_EQ(card["calibration"]["n"], 3);  // round(0.25 * 12)
  EXPECT_EQ(card["n"], 9);
  EXPECT_EQ(card["calibration"]["split"]["fraction"], 0.25);
  EXPECT_EQ(card["calibration"]["split"]["seed"], 3);
  EXPECT_EQ(card["calibration"]["split"]["n_threshold"], 9);
  // The held-out scores are 3 of the 12; the threshold is the ceil(0.95 * 9) = 9th best of the
  // other 9 (oriented: -energy), so the smallest of them.
  for (double v : card["calibration"]["scores"].get<std::vector<double>>()) {
    const auto it = std::find(rest.begin(), rest.end(), v);
    ASSERT_NE(it, rest.end()) << v;
    rest.erase(it);
  }
  ASSERT_EQ(rest.size(), 9u);
  EXPECT_EQ(card["threshold"].get<double>(), -*std::min_element(rest.begin(), rest.end()));
  // The same seed gives the same card; another seed another split.
  ASSERT_EQ(split("again.json", "3").exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(ReadText(tmp_ / "again.json"))["calibration"],
            card["calibration"]);
  ASSERT_EQ(split("other.json", "4").exit_code, 0);
  EXPECT_NE(nlohmann::json::parse(ReadText(tmp_ / "other.json"))["calibration"]["scores"],
            card["calibration"]["scores"]);
  // score reads the split card and makes p-values from the held-out scores only.
  r = Score("split.json", "-q --alpha 0.25");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ScoreTable t = ReadScoreFiles({tmp_ / "s.csv"});
  const int p = t.ColumnIndex("pvalue");
  ASSERT_GE(p, 0);
  for (double v : t.values(p)) EXPECT_EQ(std::fmod(v * 4, 1.0), 0.0) << v;  // k / (3 + 1)
}

TEST_F(ConformalCliTest, AlphaFlagsExactlyTheRowsWithPAtMostAlpha) {
  Calibrate();
  auto r = Score("card.json", "--alpha 0.2 --flagged '" + (tmp_ / "flagged") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("flagged at p <= 0.2"), std::string::npos) << r.err;
  ScoreTable t = ReadScoreFiles({tmp_ / "s.csv"});
  const int p = t.ColumnIndex("pvalue"), ood = t.ColumnIndex("is_ood");
  ASSERT_GE(p, 0);
  int flagged = 0;
  for (std::size_t i = 0; i < t.values(p).size(); ++i) {
    EXPECT_EQ(t.values(ood)[i], t.values(p)[i] <= 0.2 ? 1.0 : 0.0) << "row " << i;
    flagged += t.values(ood)[i] == 1.0;
  }
  EXPECT_GT(flagged, 0);
  EXPECT_LT(flagged, 24);
  const std::string list = ReadText(tmp_ / "flagged");
  EXPECT_EQ(std::count(list.begin(), list.end(), '\0'), flagged);
  // The stamp records the rule is_ood applied, so a resume or merge with another is refused.
  const auto stamp = nlohmann::json::parse(ReadText(tmp_ / "s.csv.json"));
  EXPECT_EQ(stamp["card"]["alpha"], 0.2);
}

TEST_F(ConformalCliTest, AlphaNeedsACardWithCalibrationScores) {
  Calibrate();
  auto card = nlohmann::json::parse(ReadText(tmp_ / "card.json"));
  card.erase("calibration");
  WriteText(tmp_ / "old.json", card.dump(2));
  auto r = Score("old.json", "-q");  // an older card still applies, without p-values
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadText(tmp_ / "s.csv").find("pvalue"), std::string::npos);
  r = Score("old.json", "--alpha 0.1");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("re-run calibrate"), std::string::npos) << r.err;
  r = Score("card.json", "--alpha 1");
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST_F(ConformalCliTest, AlphaBelowTheSmallestReachablePValueWarns) {
  Calibrate();  // 12 ID samples: the smallest p-value is 1/13
  auto r = Score("card.json", "--alpha 0.01");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("smallest p-value is 1/13"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing can be flagged"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("0 flagged at p <= 0.01"), std::string::npos) << r.err;
}

TEST_F(ConformalCliTest, FdrDecidesWhenTheRunEndsAndWritesNoIsOod) {
  Calibrate();
  auto r = Score("card.json", "--fdr 0.5 --flagged '" + (tmp_ / "flagged") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string csv = ReadText(tmp_ / "s.csv");
  EXPECT_EQ(csv.find("is_ood"), std::string::npos);
  EXPECT_NE(csv.find(",pvalue\n"), std::string::npos);
  ScoreTable t = ReadScoreFiles({tmp_ / "s.csv"});
  const std::vector<double>& p = t.values(t.ColumnIndex("pvalue"));
  const double cutoff = BenjaminiHochbergCutoff(p, 0.5);
  const auto flagged =
      cutoff > 0 ? std::count_if(p.begin(), p.end(), [&](double v) { return v <= cutoff; }) : 0;
  const std::string list = ReadText(tmp_ / "flagged");
  EXPECT_EQ(std::count(list.begin(), list.end(), '\0'), flagged);
  EXPECT_NE(r.err.find(std::to_string(flagged) + " of 24 flagged at FDR 50%"), std::string::npos)
      << r.err;
  r = Score("card.json", "--fdr 0.1 --alpha 0.1");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = Score("card.json", "--fdr 0.1 --copy-flagged '" + (tmp_ / "q") + "'");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("cannot go with --fdr"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace testing
}  // namespace oodscore
