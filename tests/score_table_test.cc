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
  ScoreTable t = ReadScoreFiles({path}, {/*keep_paths=*/true});
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t.columns, (std::vector<std::string>{"energy", "msp", "maxlogit"}));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(t.Row(i).set, rows[i].set);
    EXPECT_EQ(t.Row(i).path, rows[i].path);
    EXPECT_EQ(t.Row(i).label, rows[i].label);
    EXPECT_EQ(t.Row(i).values, rows[i].values);  // exact
  }
  // Without keep_paths, no path is kept.
  EXPECT_EQ(ReadScoreFiles({path}).path(0), "");
  EXPECT_EQ(t.SetNames(), (std::vector<std::string>{"cifar10", "svhn"}));
}

TEST_F(ScoreTableTest, ShardsArePooled) {
  auto a = Write("a.csv", "set,path,label,pred,energy\nid,1,,,-3\n");
  auto b = Write("b.csv", "set,path,label,pred,energy\nood,2,,,-1\nid,3,,,-4\n");
  ScoreTable t = ReadScoreFiles({a, b});
  EXPECT_EQ(t.size(), 3u);
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
                "as column 1); another tool's scores go in as plain columns (metrics "
                "--id-file/--ood-file), and its logits as a .npy [N, K] (eval --id "
                "NAME=logits.npy)");
  auto other = Write("other.csv", "set,path,label,pred,msp\n");
  auto first = Write("first.csv", "set,path,label,pred,energy\n");
  EXPECT_EQ(ErrorOf({first, other}),
            "'" + other + "' line 1: header differs from the first score file's");
  EXPECT_NE(ErrorOf({(dir_ / "missing.csv").string()}).find("cannot open score file"),
            std::string::npos);
}

// The block reader: whatever the block size and thread count, the same table, and errors
// on the same line. Tiny blocks put block edges inside quoted fields, CRLF pairs and numbers.
std::string Generated(std::size_t rows, bool quotes, bool crlf) {
  std::string text = "\xEF\xBB\xBFset,path,label,pred,energy,msp\n";
  for (std::size_t i = 0; i < rows; ++i) {
    text += i % 3 ? "id" : "far";
    text += ",";
    text += quotes && i % 7 == 0 ? "\"img " + std::to_string(i) + ",\"\"q\"\"\nx.png\""
                                 : "img" + std::to_string(i) + ".png";
    text += "," + (i % 5 ? std::to_string(i % 10) : std::string()) + "," +
            std::to_string((i * 7) % 10) + "," + std::to_string(-1.0 - i / 3.0) + "," +
            std::to_string(1.0 / (i + 1));
    text += crlf ? "\r\n" : "\n";
    if (i % 50 == 0) text += crlf ? "\r\n" : "\n";  // blank lines are skipped
  }
  return text;
}

TEST_F(ScoreTableTest, BlockSizeAndThreadsDoNotChangeTheTable) {
  for (bool quotes : {false, true}) {
    for (bool crlf : {false, true}) {
      const std::string text = Generated(3000, quotes, crlf);
      const ScoreTable one = ParseScoreCsv(text, "g.csv", {true, 1, 0});
      ASSERT_EQ(one.size(), 3000u);
      EXPECT_EQ(one.SetNames(), (std::vector<std::string>{"far", "id"}));
      EXPECT_EQ(one.Row(0).label, "");
      EXPECT_EQ(one.Row(1).label, "1");
      if (quotes) EXPECT_EQ(one.Row(7).path, "img 7,\"q\"\nx.png");
      for (std::size_t block : {7, 64, 1000, 40000}) {
        for (int threads : {1, 2, 3, 8}) {
          const ScoreTable t = ParseScoreCsv(text, "g.csv", {true, threads, block});
          ASSERT_EQ(t.size(), one.size()) << block << " " << threads;
          for (std::size_t r = 0; r < t.size(); ++r) {
            const ScoreRow a = one.Row(r), b = t.Row(r);
            ASSERT_TRUE(a.set == b.set && a.path == b.path && a.label == b.label &&
                        a.pred == b.pred && a.values == b.values)
                << "row " << r << " block " << block << " threads " << threads;
          }
        }
      }
      // An error late in the file names its line, whatever the blocks.
      std::string bad = text;
      bad += "id,late.png,1,1,oops,0.5\n";
      const std::size_t line = 1 + 3000 + 60 + (quotes ? 429 : 0) + 1;  // rows, blanks, quoted
      for (std::size_t block : {0, 64, 40000}) {
        try {
          ParseScoreCsv(bad, "g.csv", {false, 2, block});
          ADD_FAILURE() << "no error";
        } catch (const Error& e) {
          EXPECT_EQ(std::string(e.what()), "'g.csv' line " + std::to_string(line) +
                                               " column 'energy': not a number: 'oops'")
              << block;
        }
      }
    }
  }
}

TEST_F(ScoreTableTest, QuotingErrorsNameTheirLine) {
  auto open = Write("open.csv", "set,path,label,pred,energy\nid,a,,,1\nid,\"b\n,,,2\n");
  EXPECT_EQ(ErrorOf({open}),
            "'" + open + "' line 3: unterminated quoted field (expected a closing '\"')");
  auto after = Write("after.csv", "set,path,label,pred,energy\nid,\"a\"x,,,1\n");
  EXPECT_EQ(ErrorOf({after}),
            "'" + after + "' line 2: unexpected character 'x' after a closing quote");
  auto empty = Write("none.csv", "");
  EXPECT_EQ(ErrorOf({empty}), "'" + empty + "' is empty (expected a header)");
}

TEST_F(ScoreTableTest, ClassesCompareAsIntegersAndNamesAreKept) {
  const ScoreTable t = ParseScoreCsv(
      "set,path,label,pred,energy\nid,a,007,7,1\nid,b,cat,cat,2\nid,c,dog,cat,3\nid,d,,2,4\n",
      "c.csv");
  EXPECT_EQ(t.Row(0).label, "7");
  EXPECT_EQ(t.Row(1).label, "cat");
  EXPECT_EQ(t.Row(3).label, "");
  EXPECT_DOUBLE_EQ(*LabelAccuracy(t, {"id"}), 2.0 / 3);
  EXPECT_EQ(ClassCount(t, "id"), 8);
}

TEST_F(ScoreTableTest, PlainColumnsSkipHeaderCommentsAndBlankLines) {
  auto p = Write("col.txt", "score\n# comment\n1.5\n\n-2\r\ninf\n");
  EXPECT_EQ(ReadScoreColumn(p), (std::vector<double>{1.5, -2, INFINITY}));
  auto bad = Write("bad.txt", "1\nx\n");
  EXPECT_THROW(ReadScoreColumn(bad), Error);
}

}  // namespace
}  // namespace oodscore
