// `oodscore compare`: pairing, the paired bootstrap of differences, the choice of paired or
// unpaired tests (CompareTest, library code only), and the command through the real binary on
// report folders of `metrics` and `eval` (CompareCliTest).
#include "oodscore/compare.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_fixture.h"
#include "oodscore/compare_report.h"
#include "oodscore/delong.h"
#include "oodscore/error.h"
#include "oodscore/metrics.h"
#include "test_util.h"

namespace oodscore {
namespace {

using Vec = std::vector<double>;
using testing::ReadText;
using testing::RunResult;
using testing::TempDir;
using testing::WriteText;

// Normal draws from a fully specified generator (LCG + Box-Muller), the same on every platform.
class Normals {
 public:
  explicit Normals(std::uint64_t seed) : state_(seed * 2862933555777941757ULL + 3037000493ULL) {}
  double Uniform() {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return (static_cast<double>(state_ >> 11) + 0.5) / 9007199254740992.0;
  }
  double Next() {
    return std::sqrt(-2 * std::log(Uniform())) * std::cos(6.283185307179586 * Uniform());
  }
  Vec Draw(std::size_t n, double mean, double sd) {
    Vec v(n);
    for (double& x : v) x = mean + sd * Next();
    return v;
  }

 private:
  std::uint64_t state_;
};

Vec Plus(const Vec& v, const Vec& noise, double scale) {
  Vec out(v);
  for (std::size_t i = 0; i < v.size(); ++i) out[i] += scale * noise[i];
  return out;
}

CompareOptions Options(int bootstrap = 200, std::uint64_t seed = 0) {
  CompareOptions o;
  o.bootstrap = bootstrap;
  o.seed = seed;
  return o;
}

TEST(CompareTest, PairByKeyMatchesSamplesWhateverTheirOrder) {
  const KeyedScores a{{"x", "y", "z", "only_a"}, {1, 2, 3, 4}};
  const KeyedScores b{{"z", "only_b", "x", "y", "only_b2"}, {30, 50, 10, 20, 60}};
  const Paired p = PairByKey(a, b, "ID set 'id'");
  EXPECT_EQ(p.a, (Vec{1, 2, 3}));
  EXPECT_EQ(p.b, (Vec{10, 20, 30}));
  EXPECT_EQ(p.only_a, 1u);
  EXPECT_EQ(p.only_b, 2u);
  const Paired none = PairByKey(a, {{"q"}, {1}}, "ID set 'id'");
  EXPECT_TRUE(none.a.empty());
  EXPECT_EQ(none.only_a, 4u);
  EXPECT_EQ(none.only_b, 1u);
}

TEST(CompareTest, PairByKeyRefusesASampleGivenTwice) {
  try {
    PairByKey({{"x", "y", "x"}, {1, 2, 3}}, {{"x"}, {1}}, "OOD set 'svhn'");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "OOD set 'svhn': sample 'x' appears twice in the first column, so its scores "
              "cannot be paired");
  }
}

TEST(CompareTest, WeightedMetricsEqualTheResampleWrittenOut) {
  Normals n(7);
  Vec id = n.Draw(40, 1, 1), ood = n.Draw(30, 0, 1);
  id[3] = id[5];  // a tie
  SortDescending(&id);
  SortDescending(&ood);
  std::vector<std::uint32_t> wi(id.size()), wo(ood.size());
  Vec id_out, ood_out;
  for (std::size_t i = 0; i < id.size(); ++i) {
    wi[i] = static_cast<std::uint32_t>(i % 3);
    id_out.insert(id_out.end(), wi[i], id[i]);
  }
  for (std::size_t i = 0; i < ood.size(); ++i) {
    wo[i] = static_cast<std::uint32_t>((i + 1) % 2);
    ood_out.insert(ood_out.end(), wo[i], ood[i]);
  }
  for (FprConvention c : {FprConvention::kExact, FprConvention::kOpenOod}) {
    MetricOptions o;
    o.convention = c;
    const Metrics w = WeightedMetrics(id, wi, ood, wo, o);
    const Metrics m = ComputeMetrics(id_out, ood_out, o);
    EXPECT_EQ(w.n_id, id_out.size());
    EXPECT_DOUBLE_EQ(w.auroc, m.auroc);
    EXPECT_DOUBLE_EQ(w.fpr_at_tpr, m.fpr_at_tpr);
    EXPECT_DOUBLE_EQ(w.aupr_in, m.aupr_in);
    EXPECT_DOUBLE_EQ(w.aupr_out, m.aupr_out);
  }
  EXPECT_THROW(WeightedMetrics(id, wi, ood, {1, 2}, MetricOptions()), Error);
  EXPECT_THROW(WeightedMetrics({1, 2}, {1, 1}, {0, 3}, {1, 1}, MetricOptions()),
               Error);  // unsorted
}

TEST(CompareTest, PairedComparisonIsDelongPairedOfBMinusA) {
  Normals n(1);
  const Vec id_a = n.Draw(60, 1, 1), ood_a = n.Draw(50, 0, 1);
  const Vec id_b = Plus(id_a, n.Draw(60, 0, 1), 0.5), ood_b = Plus(ood_a, n.Draw(50, 0, 1), 0.5);
  const PairComparison c = ComparePaired(id_a, ood_a, id_b, ood_b, Options(0));
  const DelongResult d = DelongPaired(id_a, ood_a, id_b, ood_b);
  EXPECT_TRUE(c.paired);
  EXPECT_TRUE(c.delong.paired);
  EXPECT_DOUBLE_EQ(c.delong.z, -d.z);  // the z of b - a
  EXPECT_DOUBLE_EQ(c.delong.p, d.p);
  EXPECT_DOUBLE_EQ(c.auroc_diff, d.auc_b - d.auc_a);
  EXPECT_DOUBLE_EQ(c.a.auroc, ComputeMetrics(id_a, ood_a, MetricOptions()).auroc);
  EXPECT_DOUBLE_EQ(c.fpr_diff, ComputeMetrics(id_b, ood_b, MetricOptions()).fpr_at_tpr -
                                   ComputeMetrics(id_a, ood_a, MetricOptions()).fpr_at_tpr);
  EXPECT_FALSE(c.has_ci);

  const PairComparison u = CompareUnpaired(id_a, ood_a, id_b, ood_b, Options(0));
  const DelongResult du = DelongUnpaired(id_a, ood_a, id_b, ood_b);
  EXPECT_FALSE(u.paired);
  EXPECT_DOUBLE_EQ(u.delong.z, -du.z);
  EXPECT_DOUBLE_EQ(u.delong.p, du.p);
  EXPECT_TRUE(std::isfinite(u.delong.df));
  EXPECT_THROW(ComparePaired(id_a, ood_a, n.Draw(59, 0, 1), ood_b, Options(0)), Error);
  EXPECT_THROW(ComparePaired({1}, ood_a, {1}, ood_b, Options(0)), Error);
}

TEST(CompareTest, BootstrapIsDeterministicAndHoldsTheObservedDifference) {
  Normals n(2);
  const Vec id_a = n.Draw(200, 1.5, 1), ood_a = n.Draw(150, 0, 1);
  const Vec id_b = Plus(id_a, n.Draw(200, 0, 1), 0.7), ood_b = Plus(ood_a, n.Draw(150, 0, 1), 0.7);
  const PairComparison c = ComparePaired(id_a, ood_a, id_b, ood_b, Options(300, 5));
  ASSERT_TRUE(c.has_ci);
  EXPECT_EQ(c.resamples, 300);
  EXPECT_LE(c.fpr_diff_ci.lo, c.fpr_diff);
  EXPECT_GE(c.fpr_diff_ci.hi, c.fpr_diff);
  EXPECT_LT(c.fpr_diff_ci.lo, c.fpr_diff_ci.hi);
  EXPECT_LE(c.aupr_in_diff_ci.lo, c.aupr_in_diff);
  EXPECT_GE(c.aupr_in_diff_ci.hi, c.aupr_in_diff);
  // The same seed gives the same interval, bit for bit; another seed another one.
  const PairComparison again = ComparePaired(id_a, ood_a, id_b, ood_b, Options(300, 5));
  EXPECT_EQ(again.fpr_diff_ci.lo, c.fpr_diff_ci.lo);
  EXPECT_EQ(again.fpr_diff_ci.hi, c.fpr_diff_ci.hi);
  EXPECT_EQ(again.aupr_in_diff_ci.lo, c.aupr_in_diff_ci.lo);
  const PairComparison other = ComparePaired(id_a, ood_a, id_b, ood_b, Options(300, 6));
  EXPECT_TRUE(other.fpr_diff_ci.lo != c.fpr_diff_ci.lo ||
              other.fpr_diff_ci.hi != c.fpr_diff_ci.hi ||
              other.aupr_in_diff_ci.lo != c.aupr_in_diff_ci.lo);
}

TEST(CompareTest, PairedResamplesCancelWhatBothColumnsShare) {
  // b is a with a little noise: the paired interval of the difference is much narrower than
  // the unpaired one, which resamples each column's samples on its own.
  Normals n(3);
  const Vec id_a = n.Draw(300, 1.5, 1), ood_a = n.Draw(300, 0, 1);
  const Vec id_b = Plus(id_a, n.Draw(300, 0, 1), 0.1), ood_b = Plus(ood_a, n.Draw(300, 0, 1), 0.1);
  const PairComparison p = ComparePaired(id_a, ood_a, id_b, ood_b, Options(300));
  const PairComparison u = CompareUnpaired(id_a, ood_a, id_b, ood_b, Options(300));
  EXPECT_LT(p.fpr_diff_ci.hi - p.fpr_diff_ci.lo, 0.5 * (u.fpr_diff_ci.hi - u.fpr_diff_ci.lo));
  // A column against itself: no difference in any resample.
  const PairComparison same = ComparePaired(id_a, ood_a, id_a, ood_a, Options(50));
  EXPECT_EQ(same.fpr_diff_ci.lo, 0.0);
  EXPECT_EQ(same.fpr_diff_ci.hi, 0.0);
  EXPECT_EQ(same.delong.p, 1.0);
}

// A run in memory: set "id" (paths id/<i>) and set "ood" (paths ood/<i>), one energy column.
CompareRun MemoryRun(const std::string& name, const Vec& id, const Vec& ood,
                     const std::string& id_prefix = "id/", const std::string& id_set = "id") {
  CompareRun run;
  run.name = name;
  run.dir = name;
  run.id_set = id_set;
  run.ood_sets = {"ood"};
  run.scores = {{"energy", Orientation::kLowerIsId, "energy"}};
  run.table.columns = {"energy"};
  for (std::size_t i = 0; i < id.size(); ++i) {
    run.table.AddRow(id_set, id_prefix + std::to_string(i), "", "", &id[i]);
  }
  for (std::size_t i = 0; i < ood.size(); ++i) {
    run.table.AddRow("ood", "ood/" + std::to_string(i), "", "", &ood[i]);
  }
  return run;
}

TEST(CompareTest, RunsArePairedOnTheSamplesTheyShare) {
  Normals n(4);
  const Vec id = n.Draw(40, -2, 1), ood = n.Draw(30, 0, 1);
  const Vec id_b = Plus(id, n.Draw(40, 0, 1), 0.5), ood_b = Plus(ood, n.Draw(30, 0, 1), 0.5);
  CompareSpec spec;
  spec.options.bootstrap = 20;
  // Every sample shared: paired on all, no note.
  CompareReport r = BuildCompare({MemoryRun("a", id, ood), MemoryRun("b", id_b, ood_b)}, spec);
  ASSERT_EQ(r.sets.size(), 1u);
  ASSERT_EQ(r.sets[0].pairs.size(), 1u);
  const CompareSet::Pair& p = r.sets[0].pairs[0];
  EXPECT_TRUE(p.stats.paired);
  EXPECT_EQ(*p.n_id, 40u);
  EXPECT_EQ(*p.n_ood, 30u);
  EXPECT_EQ(p.note, "");
  Vec neg_a, neg_b, neg_oa, neg_ob;  // energy is lower = ID: oriented, it is negated
  for (std::size_t i = 0; i < id.size(); ++i) neg_a.push_back(-id[i]), neg_b.push_back(-id_b[i]);
  for (std::size_t i = 0; i < ood.size(); ++i)
    neg_oa.push_back(-ood[i]), neg_ob.push_back(-ood_b[i]);
  EXPECT_DOUBLE_EQ(p.stats.delong.p, DelongPaired(neg_a, neg_oa, neg_b, neg_ob).p);

  // Half the ID paths differ: unpaired on all samples (a paired test on the shared half
  // would rest on a subset of each run), and said so.
  CompareRun half = MemoryRun("b", id_b, ood_b);
  half.table = ScoreTable();
  half.table.columns = {"energy"};
  for (std::size_t i = 0; i < id_b.size(); ++i) {
    half.table.AddRow("id", (i < 20 ? "id/" : "other/") + std::to_string(i), "", "", &id_b[i]);
  }
  for (std::size_t i = 0; i < ood_b.size(); ++i) {
    half.table.AddRow("ood", "ood/" + std::to_string(i), "", "", &ood_b[i]);
  }
  r = BuildCompare({MemoryRun("a", id, ood), std::move(half)}, spec);
  const CompareSet::Pair& q = r.sets[0].pairs[0];
  EXPECT_FALSE(q.stats.paired);
  EXPECT_FALSE(q.n_id.has_value());
  EXPECT_EQ(q.stats.a.n_id, 40u);
  EXPECT_NE(q.note.find("unpaired: the runs share 20 ID samples (of 40 and 40) and 30 OOD "
                        "samples (of 30 and 30) by (set, path); pairing needs the same samples"),
            std::string::npos)
      << q.note;

  // A path twice in one run's set: unpaired, naming it.
  CompareRun twice = MemoryRun("b", id_b, ood_b);
  twice.table = ScoreTable();
  twice.table.columns = {"energy"};
  for (std::size_t i = 0; i < id_b.size(); ++i) {
    twice.table.AddRow("id", "id/" + std::to_string(i == 1 ? 0 : i), "", "", &id_b[i]);
  }
  for (std::size_t i = 0; i < ood_b.size(); ++i) {
    twice.table.AddRow("ood", "ood/" + std::to_string(i), "", "", &ood_b[i]);
  }
  r = BuildCompare({MemoryRun("a", id, ood), std::move(twice)}, spec);
  const CompareSet::Pair& t = r.sets[0].pairs[0];
  EXPECT_FALSE(t.stats.paired);
  EXPECT_NE(t.note.find("unpaired: "), std::string::npos) << t.note;
  EXPECT_NE(t.note.find("id/0"), std::string::npos) << t.note;

  // No ID sample shared: unpaired on all samples, and said so.
  r = BuildCompare({MemoryRun("a", id, ood), MemoryRun("b", id_b, ood_b, "elsewhere/")}, spec);
  const CompareSet::Pair& u = r.sets[0].pairs[0];
  EXPECT_FALSE(u.stats.paired);
  EXPECT_FALSE(u.n_id.has_value());
  EXPECT_EQ(u.stats.a.n_id, 40u);
  EXPECT_NE(u.note.find("unpaired: the runs share 0 ID samples (of 40 and 40)"), std::string::npos)
      << u.note;
  EXPECT_DOUBLE_EQ(u.stats.delong.p, DelongUnpaired(neg_b, neg_ob, neg_a, neg_oa).p);
}

TEST(CompareTest, TheGateNeedsADropBeyondToleranceThatIsSignificant) {
  Normals n(5);
  const Vec id = n.Draw(200, -2, 1), ood = n.Draw(200, 0, 1);
  const Vec worse_id = Plus(id, n.Draw(200, 0, 1), 1.5),
            worse_ood = Plus(ood, n.Draw(200, 0, 1), 1.5);
  CompareSpec spec;
  spec.options.bootstrap = 0;
  spec.gate = true;
  spec.max_auroc_drop = 0.005;
  CompareReport r =
      BuildCompare({MemoryRun("a", id, ood), MemoryRun("b", worse_id, worse_ood)}, spec);
  const CompareSet::Pair& p = r.sets[0].pairs[0];
  ASSERT_TRUE(p.gated);
  EXPECT_LT(p.stats.auroc_diff, -0.05);
  EXPECT_LT(p.stats.delong.p, 0.05);
  EXPECT_FALSE(p.pass);
  EXPECT_FALSE(r.passed());
  EXPECT_EQ(r.gated(), 1u);
  EXPECT_EQ(CompareVerdict(r).rfind("FAIL: 1 of 1 gated comparisons", 0), 0u) << CompareVerdict(r);
  // A tolerance larger than the drop passes; so does a significance the p-value does not reach.
  spec.max_auroc_drop = 0.5;
  EXPECT_TRUE(
      BuildCompare({MemoryRun("a", id, ood), MemoryRun("b", worse_id, worse_ood)}, spec).passed());
  spec.max_auroc_drop = 0;
  spec.significance = p.stats.delong.p / 2;
  EXPECT_TRUE(
      BuildCompare({MemoryRun("a", id, ood), MemoryRun("b", worse_id, worse_ood)}, spec).passed());
  // b better than a: never a failure.
  spec.significance = 0.05;
  EXPECT_TRUE(
      BuildCompare({MemoryRun("b", worse_id, worse_ood), MemoryRun("a", id, ood)}, spec).passed());
}

TEST(CompareTest, ColumnsNeedTwoAndKnownScores) {
  const Vec id{-3, -2, -1}, ood{0, 1, -1.5};
  std::vector<std::string> notes;
  try {
    SelectColumns({MemoryRun("a", id, ood)}, {}, &notes);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("compare needs at least 2 columns"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("--scores A,B"), std::string::npos);
  }
  try {
    SelectColumns({MemoryRun("a", id, ood), MemoryRun("b", id, ood)}, {"enrgy"}, &notes);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'energy'?"), std::string::npos) << e.what();
  }
  try {
    SelectColumns({MemoryRun("a", id, ood), MemoryRun("b", id, ood)}, {"msp"}, &notes);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("run 'a' ('a/report.json') has no score 'msp'"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(SelectColumns({MemoryRun("a", id, ood), MemoryRun("b", id, ood)}, {}, &notes).size(),
            2u);
}

}  // namespace

namespace testing {
namespace {

// Report folders made by `metrics` from generated score files (with scores.csv beside
// report.json, as eval writes it), and by eval itself.
class CompareCliTest : public CliTest {
 protected:
  // A score file: set id (n_id rows) and set far (n_ood rows), columns energy (lower = ID)
  // and maxlogit (higher = ID), rows in the order given by `reverse`.
  void WriteScores(const std::string& path, const Vec& id_energy, const Vec& ood_energy,
                   const Vec& id_maxlogit, const Vec& ood_maxlogit, bool reverse = false) {
    std::vector<std::string> rows;
    auto num = [](double v) {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.17g", v);
      return std::string(buf);
    };
    for (std::size_t i = 0; i < id_energy.size(); ++i) {
      rows.push_back("id,img/id/" + std::to_string(i) + ".png,,," + num(id_energy[i]) + "," +
                     num(id_maxlogit[i]) + "\n");
    }
    for (std::size_t i = 0; i < ood_energy.size(); ++i) {
      rows.push_back("far,img/far/" + std::to_string(i) + ".png,,," + num(ood_energy[i]) + "," +
                     num(ood_maxlogit[i]) + "\n");
    }
    if (reverse) std::reverse(rows.begin(), rows.end());
    std::string text = "set,path,label,pred,energy,maxlogit\n";
    for (const auto& r : rows) text += r;
    WriteText(path, text);
  }
  // A report folder DIR from a score file: metrics' report.json, and the file as scores.csv.
  void MakeRun(const std::string& dir, const Vec& id_e, const Vec& ood_e, const Vec& id_m,
               const Vec& ood_m, bool reverse = false) {
    const std::string csv = tmp_ / (dir + ".csv");
    WriteScores(csv, id_e, ood_e, id_m, ood_m, reverse);
    const RunResult r =
        Cli("metrics -q '" + csv + "' --id id --score energy --score maxlogit --out-dir '" +
            (tmp_ / dir) + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::filesystem::copy_file(csv, tmp_ / (dir + "/scores.csv"));
  }
  nlohmann::json CompareJsonOf(const std::string& dir) {
    return nlohmann::json::parse(ReadText(tmp_ / (dir + "/compare.json")));
  }
  static Vec Neg(const Vec& v) {
    Vec out;
    for (double x : v) out.push_back(-x);
    return out;
  }
};

TEST_F(CompareCliTest, TwoRunsArePairedByPathAndGatedByDelong) {
  Normals n(11);
  const Vec id_e = n.Draw(300, -3, 1), ood_e = n.Draw(200, -1, 1);
  const Vec id_m = n.Draw(300, 3, 1), ood_m = n.Draw(200, 2, 1);
  // b: the energy much noisier (a real drop); maxlogit a hair noisier.
  const Vec id_e2 = Plus(id_e, n.Draw(300, 0, 1), 1.5),
            ood_e2 = Plus(ood_e, n.Draw(200, 0, 1), 1.5);
  const Vec id_m2 = Plus(id_m, n.Draw(300, 0, 1), 0.01),
            ood_m2 = Plus(ood_m, n.Draw(200, 0, 1), 0.01);
  MakeRun("main", id_e, ood_e, id_m, ood_m);
  MakeRun("new", id_e2, ood_e2, id_m2, ood_m2, /*reverse=*/true);  // rows in another order

  RunResult r = Cli("compare '" + (tmp_ / "main") + "' '" + (tmp_ / "new") +
                    "' --bootstrap 200 --out-dir '" + (tmp_ / "cmp") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = CompareJsonOf("cmp");
  EXPECT_EQ(j["kind"], "oodscore-compare");
  EXPECT_EQ(j["differences"], "b - a");
  ASSERT_EQ(j["sets"].size(), 1u);
  EXPECT_EQ(j["sets"][0]["columns"].size(), 4u);  // 2 runs x 2 scores
  ASSERT_EQ(j["comparisons"].size(), 6u);         // every pair of the 4 columns
  const nlohmann::json* energy = nullptr;
  for (const auto& c : j["comparisons"]) {
    EXPECT_EQ(c["ood_set"], "far");
    EXPECT_TRUE(c["paired"].get<bool>());
    EXPECT_EQ(c["n_id"], 300);
    EXPECT_EQ(c["n_ood"], 200);
    EXPECT_FALSE(c["gated"].get<bool>());  // no gate given
    for (const char* key : {"auroc_diff", "delong_z", "delong_p", "fpr_diff", "fpr_diff_ci"}) {
      EXPECT_TRUE(c.contains(key)) << key;
    }
    EXPECT_LE(c["fpr_diff_ci"][0].get<double>(), c["fpr_diff_ci"][1].get<double>());
    if (c["a"]["run"] == "main" && c["a"]["score"] == "energy" && c["b"]["run"] == "new" &&
        c["b"]["score"] == "energy") {
      energy = &c;
    }
  }
  ASSERT_NE(energy, nullptr);
  // The p-value is DelongPaired's on the same samples (energy: oriented = -energy).
  const DelongResult d = DelongPaired(Neg(id_e2), Neg(ood_e2), Neg(id_e), Neg(ood_e));
  EXPECT_DOUBLE_EQ((*energy)["delong_p"].get<double>(), d.p);
  EXPECT_DOUBLE_EQ((*energy)["delong_z"].get<double>(), d.z);
  EXPECT_DOUBLE_EQ((*energy)["auroc_diff"].get<double>(), d.auc_a - d.auc_b);
  EXPECT_DOUBLE_EQ((*energy)["a"]["auroc"].get<double>(), d.auc_b);
  EXPECT_LT((*energy)["auroc_diff"].get<double>(), -0.02);
  const std::string md = ReadText(tmp_ / "cmp/compare.md");
  EXPECT_NE(md.find("## far"), std::string::npos) << md;
  EXPECT_NE(md.find("| main.energy | new.energy |"), std::string::npos) << md;
  EXPECT_EQ(r.out, md);
  // compare.html: self-contained, one ROC curve per column.
  const std::string html = ReadText(tmp_ / "cmp/compare.html");
  std::size_t curves = 0;
  for (std::size_t at = html.find("class=\"roc\""); at != std::string::npos;
       at = html.find("class=\"roc\"", at + 1)) {
    ++curves;
  }
  EXPECT_EQ(curves, 4u);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("main.energy"), std::string::npos);

  // The gate: energy dropped significantly, so it fails (exit 1, reports still written) ...
  r = Cli("compare '" + (tmp_ / "main") + "' '" + (tmp_ / "new") +
          "' --bootstrap 0 --max-auroc-drop 0.005 --out-dir '" + (tmp_ / "gate") + "'");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("oodscore: FAIL: 1 of 2 gated comparisons"), std::string::npos) << r.err;
  const nlohmann::json g = CompareJsonOf("gate");
  EXPECT_FALSE(g["gate"]["passed"].get<bool>());
  EXPECT_EQ(g["gate"]["gated"], 2);
  // ... and maxlogit, whose AUROC moved within noise, passes on its own.
  r = Cli("compare '" + (tmp_ / "main") + "' '" + (tmp_ / "new") +
          "' --scores maxlogit --bootstrap 0 --max-auroc-drop 0.005 --significance 0.05 "
          "--out-dir '" +
          (tmp_ / "gate2") + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json g2 = CompareJsonOf("gate2");
  ASSERT_EQ(g2["comparisons"].size(), 1u);
  EXPECT_TRUE(g2["comparisons"][0]["pass"].get<bool>());
  EXPECT_GT(g2["comparisons"][0]["auroc_diff"].get<double>(), -0.005);
  EXPECT_NE(r.err.find("oodscore: PASS"), std::string::npos) << r.err;
}

TEST_F(CompareCliTest, ADropWithinNoiseDoesNotFailTheGate) {
  // 30 ID and 30 OOD samples scored by two independent noisy runs: b's AUROC is lower by more
  // than the tolerance, but DeLong's p is far above 0.05.
  Normals n(12);
  const Vec id = n.Draw(30, -1, 1), ood = n.Draw(30, 0, 1);
  const Vec id_b = Plus(id, n.Draw(30, 0, 1), 1), ood_b = Plus(ood, n.Draw(30, 0, 1), 1);
  MakeRun("a", id, ood, id, ood);
  MakeRun("b", id_b, ood_b, id_b, ood_b);
  const RunResult r =
      Cli("compare '" + (tmp_ / "a") + "' '" + (tmp_ / "b") +
          "' --scores energy --max-auroc-drop 0.005 --out-dir '" + (tmp_ / "c") + "'");
  const nlohmann::json j = CompareJsonOf("c");
  ASSERT_EQ(j["comparisons"].size(), 1u);
  const auto& c = j["comparisons"][0];
  EXPECT_LT(c["auroc_diff"].get<double>(), -0.005);
  EXPECT_GT(c["delong_p"].get<double>(), 0.05);
  EXPECT_TRUE(c["pass"].get<bool>());
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(CompareCliTest, OneRunComparesItsScoresOnTheSameSamples) {
  Normals n(13);
  const Vec id_e = n.Draw(50, -3, 1), ood_e = n.Draw(40, -1, 1);
  const Vec id_m = n.Draw(50, 3, 1), ood_m = n.Draw(40, 2, 1);
  MakeRun("run", id_e, ood_e, id_m, ood_m);
  const RunResult r =
      Cli("compare '" + (tmp_ / "run") + "' --scores energy,maxlogit --bootstrap 50 --out-dir '" +
          (tmp_ / "c") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = CompareJsonOf("c");
  ASSERT_EQ(j["comparisons"].size(), 1u);
  const auto& c = j["comparisons"][0];
  EXPECT_EQ(c["a"]["score"], "energy");
  EXPECT_EQ(c["b"]["score"], "maxlogit");
  EXPECT_TRUE(c["paired"].get<bool>());
  EXPECT_EQ(c["test"], "paired DeLong (normal)");
  const DelongResult d = DelongPaired(id_m, ood_m, Neg(id_e), Neg(ood_e));
  EXPECT_DOUBLE_EQ(c["delong_p"].get<double>(), d.p);
  EXPECT_EQ(j["bootstrap"]["resamples"], 50);
}

TEST_F(CompareCliTest, RunsWithoutSharedSamplesAreComparedUnpaired) {
  Normals n(14);
  const Vec id = n.Draw(20, -2, 1), ood = n.Draw(20, 0, 1);
  MakeRun("a", id, ood, id, ood);
  // b: the same numbers under other paths.
  WriteScores(tmp_ / "b.csv", id, ood, id, ood);
  std::string text = ReadText(tmp_ / "b.csv");
  for (std::size_t at = text.find("img/"); at != std::string::npos; at = text.find("img/", at)) {
    text.replace(at, 4, "pic/");
  }
  WriteText(tmp_ / "b.csv", text);
  ASSERT_EQ(Cli("metrics -q '" + (tmp_ / "b.csv") + "' --id id --score energy --out-dir '" +
                (tmp_ / "b") + "'")
                .exit_code,
            0);
  std::filesystem::copy_file(tmp_ / "b.csv", tmp_ / "b/scores.csv");
  const RunResult r = Cli("compare '" + (tmp_ / "a") + "' '" + (tmp_ / "b") +
                          "' --bootstrap 20 --out-dir '" + (tmp_ / "c") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = CompareJsonOf("c");
  ASSERT_EQ(j["comparisons"].size(), 1u);  // energy: the only score both runs report
  const auto& c = j["comparisons"][0];
  EXPECT_FALSE(c["paired"].get<bool>());
  EXPECT_TRUE(c["n_id"].is_null());
  EXPECT_NE(c["note"].get<std::string>().find("unpaired"), std::string::npos);
  EXPECT_EQ(c["delong_p"].get<double>(),
            DelongUnpaired(Neg(id), Neg(ood), Neg(id), Neg(ood)).p);  // NaN -> null, or equal
  EXPECT_NE(r.err.find("score 'maxlogit' is left out"), std::string::npos) << r.err;
}

TEST_F(CompareCliTest, BadRunsAndScoresAreUsageErrors) {
  Normals n(15);
  const Vec id = n.Draw(10, -2, 1), ood = n.Draw(10, 0, 1);
  MakeRun("a", id, ood, id, ood);
  std::filesystem::create_directories(tmp_ / "empty");
  RunResult r = Cli("compare '" + (tmp_ / "a") + "' '" + (tmp_ / "empty") + "' --out-dir '" +
                    (tmp_ / "c") + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("RUN '" + (tmp_ / "empty") + "' has no report.json"), std::string::npos)
      << r.err;
  WriteText(tmp_ / "noscores/report.json", ReadText(tmp_ / "a/report.json"));
  r = Cli("compare '" + (tmp_ / "a") + "' '" + (tmp_ / "noscores") + "' --out-dir '" +
          (tmp_ / "c") + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("has no scores.csv ('" + (tmp_ / "noscores/scores.csv") + "')"),
            std::string::npos)
      << r.err;
  r = Cli("compare '" + (tmp_ / "a") + "' --scores enrgy,maxlogit --out-dir '" + (tmp_ / "c") +
          "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown score 'enrgy', did you mean 'energy'?"), std::string::npos)
      << r.err;
  r = Cli("compare '" + (tmp_ / "a") + "' --scores energy --out-dir '" + (tmp_ / "c") + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("compare needs at least 2 columns"), std::string::npos) << r.err;
  // The output folder may not be a RUN: its report files would be replaced.
  r = Cli("compare '" + (tmp_ / "a") + "' --scores energy,maxlogit --out-dir '" + (tmp_ / "a") +
          "'");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(std::filesystem::exists(tmp_ / "a/report.json"));
  EXPECT_FALSE(std::filesystem::exists(tmp_ / "c"));
}

TEST_F(CompareCliTest, EvalReportFoldersCompare) {
  // Two evals of the fixture's model: the same scores, so a difference of 0 and p = 1.
  for (const char* dir : {"e1", "e2"}) {
    const RunResult e = Cli("eval -q " + Common() + "--id id='" + (tmp_ / "id") + "' --ood far='" +
                            (tmp_ / "far") + "' --out-dir '" + (tmp_ / dir) + "'");
    ASSERT_EQ(e.exit_code, 0) << e.err;
  }
  const RunResult r = Cli("compare '" + (tmp_ / "e1") + "' '" + (tmp_ / "e2") +
                          "' --scores energy,msp --bootstrap 20 --max-auroc-drop 0 --out-dir '" +
                          (tmp_ / "c") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = CompareJsonOf("c");
  ASSERT_EQ(j["comparisons"].size(), 6u);
  for (const auto& c : j["comparisons"]) {
    EXPECT_TRUE(c["paired"].get<bool>());
    EXPECT_EQ(c["n_id"], 12);
    if (c["a"]["score"] == c["b"]["score"]) {
      EXPECT_EQ(c["auroc_diff"], 0.0);
      EXPECT_EQ(c["delong_p"], 1.0);
      EXPECT_TRUE(c["gated"].get<bool>() == (c["a"]["run"] == "e1" && c["b"]["run"] == "e2"));
    }
  }
  EXPECT_TRUE(j["gate"]["passed"].get<bool>());
  // Each column's metrics are its run's own, bit for bit (msp ranked by log_msp, energy
  // negated), read back from the run's report.json.
  const nlohmann::json e1 = nlohmann::json::parse(ReadText(tmp_ / "e1/report.json"));
  std::size_t checked = 0;
  for (const auto& c : j["comparisons"]) {
    for (const char* side : {"a", "b"}) {
      const std::string score = c[side]["score"];
      const nlohmann::json& own = e1["ood"][0]["metrics"][score];
      EXPECT_EQ(c[side]["auroc"], own["auroc"]) << score;
      EXPECT_EQ(c[side]["fpr_at_tpr"], own["fpr_at_tpr"]) << score;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 12u);
}

}  // namespace
}  // namespace testing
}  // namespace oodscore
