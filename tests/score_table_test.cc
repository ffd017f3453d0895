#include "oodscore/score_table.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "oodscore/error.h"

namespace oodscore {
namespace {

class ScoreTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("oodscore_table_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    auto p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  std::string ErrorOf(const std::vector<std::filesystem::path>& files) {
    try {
      ReadScoreFiles(files);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  std::filesystem::path dir_;
};

TEST_F(ScoreTableTest, WrittenScoresReadBackBitForBit) {
  const std::string path = (dir_ / "s.csv").string();
  std::vector<ScoreRow> rows = {
      {"cifar10", "a,b.png", "3", "3", {-7.1234567890123456, 0.1, 1.0 / 3}},
      {"svhn", "x \"q\".png", "", "1", {-1e-300, 0.999999999999, -2.5}}};
  {
    ScoreWriter w(path, {"energy", "msp", "maxlogit"});
    for (const auto& r : rows) w.Write(r);
    w.Close();
  }
  ScoreTable t = ReadScoreFiles({path});
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.columns, (std::vector<std::string>{"energy", "msp", "maxlogit"}));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(t.rows[i].set, rows[i].set);
    EXPECT_EQ(t.rows[i].path, rows[i].path);
    EXPECT_EQ(t.rows[i].label, rows[i].label);
    EXPECT_EQ(t.rows[i].values, rows[i].values);  // exact
  }
  EXPECT_EQ(t.SetNames(), (std::vector<std::string>{"cifar10", "svhn"}));
}

TEST_F(ScoreTableTest, ShardsArePooled) {
  auto a = Write("a.csv", "set,path,label,pred,energy\nid,1,,,-3\n");
  auto b = Write("b.csv", "set,path,label,pred,energy\nood,2,,,-1\nid,3,,,-4\n");
  ScoreTable t = ReadScoreFiles({a, b});
  EXPECT_EQ(t.rows.size(), 3u);
  EXPECT_EQ(t.Column("id", 0), (std::vector<double>{-3, -4}));
}

TEST_F(ScoreTableTest, ErrorsNameFileLineAndColumn) {
  auto bad = Write("bad.csv", "set,path,label,pred,energy,msp\nid,a,,,-3,0.5\nid,b,,,abc,0.5\n");
  EXPECT_EQ(ErrorOf({bad}), "'" + bad + "' line 3 column 'energy': not a number: 'abc'");
  auto nan = Write("nan.csv", "set,path,label,pred,energy\nid,a,,,nan\n");
  EXPECT_EQ(ErrorOf({nan}), "'" + nan + "' line 2 column 'energy': score is NaN");
  auto empty = Write("empty.csv", "set,path,label,pred,energy\nid,a,,,\n");
  EXPECT_EQ(ErrorOf({empty}), "'" + empty + "' line 2 column 'energy': empty score");
  auto short_row = Write("short.csv", "set,path,label,pred,energy\nid,a,,\n");
  EXPECT_EQ(ErrorOf({short_row}), "'" + short_row + "' line 2: expected 5 fields, got 4");
  auto header = Write("header.csv", "path,set,label,pred,energy\n");
  EXPECT_EQ(ErrorOf({header}),
            "'" + header +
                "' line 1: header must start with set,path,label,pred (got 'path' "
                "as column 1)");
  auto other = Write("other.csv", "set,path,label,pred,msp\n");
  auto first = Write("first.csv", "set,path,label,pred,energy\n");
  EXPECT_EQ(ErrorOf({first, other}),
            "'" + other + "' line 1: header differs from the first score file's");
  EXPECT_NE(ErrorOf({(dir_ / "missing.csv").string()}).find("cannot open score file"),
            std::string::npos);
}

TEST_F(ScoreTableTest, PlainColumnsSkipHeaderCommentsAndBlankLines) {
  auto p = Write("col.txt", "score\n# comment\n1.5\n\n-2\r\ninf\n");
  EXPECT_EQ(ReadScoreColumn(p), (std::vector<double>{1.5, -2, INFINITY}));
  auto bad = Write("bad.txt", "1\nx\n");
  EXPECT_THROW(ReadScoreColumn(bad), Error);
}

}  // namespace
}  // namespace oodscore
