// ODIN: the perturbed score against OpenOOD v1.5's ODINPostprocessor (fixture made by
// scripts/fixtures/make_odin_fixtures.py), and the --odin column, report and card end to end.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_fixture.h"
#include "oodscore/card.h"
#include "oodscore/model.h"
#include "oodscore/npy.h"
#include "oodscore/score_table.h"
#include "oodscore/scores.h"

namespace oodscore {
namespace {

using testing::CliTest;
using testing::ReadText;
using testing::TempDir;

TEST(OdinTest, EqualsTheReferenceCode) {
  std::ifstream in(std::string(OODSCORE_FIXTURE_DIR) + "/odin_scores.json");
  ASSERT_TRUE(in.good());
  const nlohmann::json f = nlohmann::json::parse(in);
  TempDir tmp;
  testing::WriteLinearModel(tmp / "m.pt", f.at("features"), f.at("classes"), f.at("scale"));
  ModelOptions opt;
  opt.odin = true;
  auto model = Model::Load(tmp / "m.pt", opt);
  const std::vector<float> x = f.at("inputs").get<std::vector<float>>();
  const int n = 6, k = f.at("classes");
  ASSERT_EQ(x.size(), static_cast<std::size_t>(n * f.at("features").get<int>()));
  const nlohmann::json& cases = f.at("cases");
  std::size_t checked = 0;
  for (const auto& c : cases) {
    std::copy(x.begin(), x.end(), model->InputBuffer(x.size()));
    OdinOptions odin{c.at("temperature"), c.at("epsilon"), c.at("std").get<std::vector<float>>()};
    std::vector<float> logits;
    model->ForwardOdin(n, 3, 2, 2, odin, &logits);
    ASSERT_EQ(logits.size(), static_cast<std::size_t>(n * k));
    ASSERT_EQ(c.at("odin").size(), static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      EXPECT_NEAR(TemperedMsp(logits.data() + i * k, k, odin.temperature),
                  c.at("odin").at(i).get<double>(), 2e-6)
          << "T = " << odin.temperature << ", sample " << i;
    }
    ++checked;
  }
  // Every case of the fixture was checked, and there were some.
  EXPECT_GT(checked, 0u);
  EXPECT_EQ(checked, cases.size());
  // A model loaded without --odin refuses (it keeps no unfrozen copy).
  auto plain = Model::Load(tmp / "m.pt", {});
  std::copy(x.begin(), x.end(), plain->InputBuffer(x.size()));
  std::vector<float> logits;
  EXPECT_THROW(plain->ForwardOdin(n, 3, 2, 2, OdinOptions{}, &logits), Error);
}

TEST_F(CliTest, OdinColumnReportAndCard) {
  auto s = Cli("score -q " + Common() + "--odin --odin-temperature 10 --odin-epsilon 0.01 -i '" +
               (tmp_ / "far") + "' -o '" + (tmp_ / "s.csv") + "'");
  ASSERT_EQ(s.exit_code, 0) << s.err;
  const ScoreTable t = ReadScoreFiles({tmp_ / "s.csv"});
  const int col = t.ColumnIndex("odin");
  ASSERT_GE(col, 0);
  for (double v : t.values(col)) EXPECT_TRUE(v > 1.0 / 3 - 1e-12 && v <= 1.0) << v;
  auto e = Cli("eval -q " + Common() + "--odin --id '" + (tmp_ / "id") + "' --ood '" +
               (tmp_ / "far") + "' --out-dir '" + (tmp_ / "rep") + "'");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(ReadText(tmp_ / "rep/report.md").find("| odin |"), std::string::npos);
  const DetectorCard card = ReadCard(tmp_ / "rep/card-odin.json");
  EXPECT_EQ(card.temperature, 1000);
  ASSERT_TRUE(card.odin_epsilon.has_value());
  EXPECT_EQ(*card.odin_epsilon, 0.0014);
  // The card brings its ODIN settings to score.
  auto applied = Cli("score -q " + Common() + "--card '" + (tmp_ / "rep/card-odin.json") +
                     "' -i '" + (tmp_ / "far") + "'");
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  EXPECT_NE(applied.out.find(",odin,is_ood"), std::string::npos);
  // Shards scored with --odin: eval --from-scores reports odin, and its card keeps their T.
  for (const char* spec : {"0/2", "1/2"}) {
    auto r = ScoreShard(Common() + "--odin --odin-temperature 10 ", spec, "sh");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  auto merged =
      Cli("eval -q --from-scores '" + (tmp_ / "sh") + "' --out-dir '" + (tmp_ / "mrep") + "'");
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  EXPECT_EQ(ReadCard(tmp_ / "mrep/card-odin.json").temperature, 10);
  // Logits cannot be perturbed.
  const float v[6] = {1, 2, 3, 4, 5, 6};
  WriteNpy(tmp_ / "l.npy", {2, 3}, v);
  EXPECT_EQ(Cli("score -q --odin -i '" + (tmp_ / "l.npy") + "'").exit_code, 2);
}

}  // namespace
}  // namespace oodscore
