// Logits in: a 2-D .npy [N, K] (float32 or float64) is scored as it is, with no model and no
// preset, labels from FILE.labels.npy.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_fixture.h"
#include "oodscore/npy.h"
#include "oodscore/score_table.h"
#include "oodscore/scores.h"

namespace oodscore {
namespace {

using testing::CliTest;
using testing::ReadText;

// A .npy of the given dtype ('<f8', '<i8', ...) and shape.
void WriteRawNpy(const std::string& path, const std::string& descr,
                 const std::vector<std::int64_t>& shape, const void* data, std::size_t bytes) {
  std::string dims;
  for (auto d : shape) dims += std::to_string(d) + ", ";
  if (shape.size() > 1) dims.resize(dims.size() - 2);
  testing::WriteNpyBytes(path, descr, "(" + dims + ")", data, bytes);
}

class LogitsInputTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    // ID: 6 confident rows of 3 classes (float64), with labels; OOD: 4 flat rows (float32).
    id_ = {5, 0, 0, 0, 4, 1, 0.5, 0, 6, 7, 1, 0, 0.2, 3.5, 0, 1, 1, 4.5};
    WriteRawNpy(tmp_ / "id.npy", "<f8", {6, 3}, id_.data(), id_.size() * 8);
    const std::int64_t labels[6] = {0, 1, 2, 0, 1, 2};
    WriteRawNpy(tmp_ / "id.labels.npy", "<i8", {6}, labels, sizeof(labels));
    const float ood[12] = {1, 1, 1, 0.5, 0.2, 0.4, 0, 0.1, 0, 2, 1.8, 1.9};
    WriteNpy(tmp_ / "ood.npy", {4, 3}, ood);
  }
  std::vector<double> id_;
};

TEST_F(LogitsInputTest, ScoreNeedsNoModelAndKeepsEveryScore) {
  auto r = Cli("score -q -i '" + (tmp_ / "id.npy") + "' -i '" + (tmp_ / "ood.npy") + "' -o '" +
               (tmp_ / "s.csv") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const ScoreTable t = ReadScoreFiles({tmp_ / "s.csv"}, {/*keep_paths=*/true});
  ASSERT_EQ(t.size(), 10u);
  EXPECT_EQ(t.Row(0).path, tmp_ / "id.npy" + "#0");
  EXPECT_EQ(t.Row(2).label, "2");
  EXPECT_EQ(t.Row(7).label, "");
  // Every column equals the scores of the logits, computed in double from float64 input.
  LogitScores want;
  ComputeLogitScores(id_.data() + 3 * 4, 3, {1.0}, &want);
  const ScoreRow row = t.Row(4);
  EXPECT_EQ(row.pred, std::to_string(want.pred));
  EXPECT_EQ(row.values[t.ColumnIndex("energy")], want.energy[0]);
  EXPECT_EQ(row.values[t.ColumnIndex("gen")], want.gen);
  EXPECT_EQ(row.values[t.ColumnIndex("entropy")], want.entropy);
}

TEST_F(LogitsInputTest, EvalAndCalibrateFromLogits) {
  auto e = Cli("eval -q --id id='" + (tmp_ / "id.npy") + "' --ood far='" + (tmp_ / "ood.npy") +
               "' --out-dir '" + (tmp_ / "rep") + "'");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  const auto report = nlohmann::json::parse(ReadText(tmp_ / "rep/report.json"));
  EXPECT_EQ(report["run"]["input"], "logits");
  EXPECT_EQ(report["ood"][0]["name"], "far");
  EXPECT_DOUBLE_EQ(report["id"]["accuracy"].get<double>(), 1.0);
  // Logits rows have no image: the gallery lists them and says so, with no warning.
  EXPECT_EQ(
      report["gallery"]["lists"][0]["items"][0]["path"].get<std::string>().find(tmp_ / "id.npy#"),
      0u);
  EXPECT_NE(report["gallery"]["note"].get<std::string>().find("no image to show"),
            std::string::npos);
  EXPECT_EQ(e.err.find("could not be read"), std::string::npos) << e.err;
  auto c = Cli("calibrate -q --id '" + (tmp_ / "id.npy") + "' --score gen -o '" +
               (tmp_ / "card.json") + "'");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  auto s = Cli("score -q --card '" + (tmp_ / "card.json") + "' -i '" + (tmp_ / "ood.npy") + "'");
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_NE(s.out.find(",is_ood"), std::string::npos);
}

TEST_F(LogitsInputTest, MixedOrMismatchedInputsAreRefused) {
  auto mixed =
      Cli("score -q -i '" + (tmp_ / "id.npy") + "' -i '" + (tmp_ / "far") + "' " + Common());
  EXPECT_EQ(mixed.exit_code, 2);
  EXPECT_NE(mixed.err.find("mix logits"), std::string::npos) << mixed.err;
  auto model = Cli("score -q " + Common() + "-i '" + (tmp_ / "id.npy") + "'");
  EXPECT_EQ(model.exit_code, 2);
  EXPECT_NE(model.err.find("give no --model"), std::string::npos) << model.err;
  auto no_model = Cli("score -q -i '" + (tmp_ / "far") + "'");
  EXPECT_EQ(no_model.exit_code, 2);
  EXPECT_NE(no_model.err.find("--model is required for image inputs"), std::string::npos);
  const float four[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  WriteNpy(tmp_ / "k4.npy", {2, 4}, four);
  auto k = Cli("score -q -i '" + (tmp_ / "id.npy") + "' -i '" + (tmp_ / "k4.npy") + "'");
  EXPECT_EQ(k.exit_code, 3);
  EXPECT_NE(k.err.find("holds logits of 4 classes, expected 3"), std::string::npos) << k.err;
  const std::int64_t short_labels[2] = {0, 1};
  WriteRawNpy(tmp_ / "ood.labels.npy", "<i8", {2}, short_labels, sizeof(short_labels));
  auto labels = Cli("score -q -i '" + (tmp_ / "ood.npy") + "'");
  EXPECT_EQ(labels.exit_code, 3);
  EXPECT_NE(labels.err.find("holds 2 labels, but"), std::string::npos) << labels.err;
}

}  // namespace
}  // namespace oodscore
