// Hostile and odd inputs, one case per class of defect, made at test time: the real binary
// must not hang or crash, must name the file and the reason, and must keep every good row.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_fixture.h"
#include "oodscore/score_table.h"

namespace oodscore {
namespace {

using testing::CliTest;
using testing::ReadText;
using testing::WriteText;

class HostileTest : public CliTest {
 protected:
  // `timeout` turns a hang into exit 124 instead of a stuck test run.
  testing::RunResult Run(const std::string& args) { return Cli(args); }
  std::size_t Rows(const std::string& csv) { return ReadScoreFiles({csv}).size(); }
};

TEST_F(HostileTest, FifosAndOtherSpecialFilesAreSkippedNotRead) {
  ASSERT_EQ(::mkfifo((tmp_ / "far/pipe.ppm").c_str(), 0600), 0);
  ASSERT_EQ(::mkfifo((tmp_ / "id/0_cls/pipe.pgm").c_str(), 0600), 0);
  std::filesystem::create_directories(tmp_ / "far/dir.ppm");
  auto r = Cli("score -q " + Common() + "--layout flat -i '" + (tmp_ / "id") + "' -i '" +
               (tmp_ / "far") + "' -o '" + (tmp_ / "s.csv") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Rows(tmp_ / "s.csv"), 24u);  // every regular image, none lost
  EXPECT_NE(r.err.find("pipe.ppm': not a regular file (a FIFO)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("pipe.pgm': not a regular file (a FIFO)"), std::string::npos) << r.err;
  r = Cli("score -q --strict " + Common() + "-i '" + (tmp_ / "id") + "' -o '" + (tmp_ / "t.csv") +
          "'");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("pipe.pgm': not a regular file (a FIFO) (--strict)"), std::string::npos)
      << r.err;
}

TEST_F(HostileTest, ListEntriesThatAreFoldersOrDevicesAreSkipped) {
  WriteText(tmp_ / "list.txt", (tmp_ / "far/0.ppm") + "\n" + (tmp_ / "far") + "\n/dev/zero\n" +
                                   (tmp_ / "far/1.ppm") + "\n");
  auto r = Cli("score -q " + Common() + "-i '" + (tmp_ / "list.txt") + "' -o '" + (tmp_ / "s.csv") +
               "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Rows(tmp_ / "s.csv"), 2u);
  EXPECT_NE(r.err.find("far': not a regular file (a directory)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'/dev/zero': not a regular file (a character device)"), std::string::npos)
      << r.err;
}

void WriteNpyHeader(const std::string& path, const std::string& shape, std::size_t data_bytes) {
  testing::WriteNpyBytes(path, "<f4", shape, nullptr, data_bytes);
}

TEST_F(HostileTest, NpyShapesAreCheckedAgainstTheFileBeforeAnyAllocation) {
  WriteNpyHeader(tmp_ / "huge.npy", "(4611686018427387904, 4, 4, 4)", 64);
  auto r = Cli("score -q --model '" + (tmp_ / "m.pt") + "' -i '" + (tmp_ / "huge.npy") + "' -o -");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("huge.npy': shape (4611686018427387904, 4, 4, 4) is too large for any "
                       "file"),
            std::string::npos)
      << r.err;
  WriteNpyHeader(tmp_ / "big.npy", "(1000000, 1, 8, 8)", 64);
  r = Cli("score -q --model '" + (tmp_ / "m.pt") + "' -i '" + (tmp_ / "big.npy") + "' -o -");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("big.npy': holds 64 data bytes, expected 256000000"), std::string::npos)
      << r.err;
  WriteNpyHeader(tmp_ / "zero.npy", "(3, 0, 8, 8)", 0);
  r = Cli("score -q --model '" + (tmp_ / "m.pt") + "' -i '" + (tmp_ / "zero.npy") + "' -o -");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("zero.npy': shape (3, 0, 8, 8) has a zero-sized dimension"),
            std::string::npos)
      << r.err;
  ASSERT_EQ(::mkfifo((tmp_ / "fifo.npy").c_str(), 0600), 0);
  r = Cli("score -q --model '" + (tmp_ / "m.pt") + "' -i '" + (tmp_ / "fifo.npy") + "' -o -");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("fifo.npy': not a regular file"), std::string::npos) << r.err;
}

TEST_F(HostileTest, BombsFromHeadersAndFromResizingAreSkipped) {
  // A 1 x 100000 strip: Resize(256) would make it 256 x 25,600,000.
  testing::WritePnm(tmp_ / "odd/strip.pgm", 100000, 1, 1, 1);
  testing::WritePnm(tmp_ / "odd/fine.pgm", 300, 260, 1, 2);
  testing::WriteConvModel(tmp_ / "c1.pt", 1, 3);  // takes any image size
  WriteText(tmp_ / "short.json", R"({"mode": "L", "resize": 256, "mean": [0.5], "std": [0.25]})");
  auto r = Cli("score -q --model '" + (tmp_ / "c1.pt") + "' --preset '" + (tmp_ / "short.json") +
               "' -i '" + (tmp_ / "odd") + "' -o '" + (tmp_ / "s.csv") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Rows(tmp_ / "s.csv"), 1u);
  EXPECT_NE(r.err.find("strip.pgm': resizing this 100000x1 image would make 6553600000 pixels, "
                       "over twice --max-image-pixels 89478485"),
            std::string::npos)
      << r.err;
  // Pillow's rule with a smaller limit: over it warns, over twice it skips.
  r = Cli("score -q --model '" + (tmp_ / "c1.pt") + "' --preset '" + (tmp_ / "short.json") +
          "' --max-image-pixels 60000 -i '" + (tmp_ / "odd") + "' -o '" + (tmp_ / "s.csv") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("fine.pgm': large image: 300x260 = 78000 pixels"), std::string::npos)
      << r.err;
  EXPECT_EQ(Rows(tmp_ / "s.csv"), 1u);
}

TEST_F(HostileTest, BatchesThatCannotFitAreRefusedWithWhatFits) {
  std::string list;
  for (int i = 0; i < 70000; ++i) list += (tmp_ / "far/0.ppm") + "\n";
  WriteText(tmp_ / "many.txt", list);
  auto r = Cli("score -q --model '" + (tmp_ / "m.pt") +
               "' --preset imagenet --batch-size 65536 "
               "-i '" +
               (tmp_ / "many.txt") + "' -o -");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--batch-size 65536 needs "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("or less fits"), std::string::npos) << r.err;
}

TEST_F(HostileTest, NamesThatAreNotUtf8KeepTheirBytesAndTheReport) {
  const std::string odd = std::string("n") + '\xff' + "ise";
  testing::WritePnm(tmp_ / ("far/" + odd + ".ppm"), 16, 12, 3, 77);
  WriteText(tmp_ / ("far/" + odd + "-broken.ppm"), "P6 junk");
  auto r = Cli("eval -q " + Common() + "--max-skipped 1 --id '" + (tmp_ / "id") + "' --ood '" +
               odd + "=" + (tmp_ / "far") + "' --out-dir '" + (tmp_ / "r") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The score CSV keeps the bytes exactly; metrics reads it back.
  const ScoreTable t = ReadScoreFiles({tmp_ / "r/scores.csv"});
  EXPECT_EQ(t.Row(t.size() - 1).set, odd);
  // report.json is valid JSON: the name shows U+FFFD, and name_hex / path_hex hold the bytes.
  const auto j = nlohmann::json::parse(ReadText(tmp_ / "r/report.json"));
  EXPECT_EQ(j["sets"][1]["name"], "n\xEF\xBF\xBDise");
  EXPECT_EQ(j["sets"][1]["name_hex"], "6eff697365");
  ASSERT_EQ(j["sets"][1]["skipped_files"].size(), 1u);
  EXPECT_TRUE(j["sets"][1]["skipped_files"][0].contains("path_hex"));
  EXPECT_TRUE(std::filesystem::exists(tmp_ / "r/report.html"));
  r = Cli("metrics '" + (tmp_ / "r/scores.csv") + "' --id id --out-dir '" + (tmp_ / "m") + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(HostileTest, DeeplyNestedJsonIsRefusedWithTheFileName) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  WriteText(tmp_ / "deep.json", deep);
  auto r = Cli("score -q --model '" + (tmp_ / "m.pt") + "' --preset '" + (tmp_ / "deep.json") +
               "' -i '" + (tmp_ / "far") + "' -o -");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("deep.json': too deeply nested (more than 64 levels) at line 1, column 65"),
            std::string::npos)
      << r.err;
  r = Cli("score -q " + Common() + "--card '" + (tmp_ / "deep.json") + "' -i '" + (tmp_ / "far") +
          "' -o -");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("deep.json': too deeply nested"), std::string::npos) << r.err;
  ASSERT_EQ(Cli("eval -q " + Common() + "--id '" + (tmp_ / "id") + "' --ood '" + (tmp_ / "far") +
                "' --out-dir '" + (tmp_ / "r") + "'")
                .exit_code,
            0);
  r = Cli("metrics '" + (tmp_ / "r/scores.csv") + "' --id id --out-dir '" + (tmp_ / "m") +
          "' --baseline '" + (tmp_ / "deep.json") + "' --max-drop auroc=0");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("deep.json': too deeply nested"), std::string::npos) << r.err;
}

TEST_F(HostileTest, CardFieldsOfTheWrongTypeNameTheField) {
  ASSERT_EQ(Cli("calibrate -q " + Common() + "--id '" + (tmp_ / "id") + "' -o '" +
                (tmp_ / "card.json") + "'")
                .exit_code,
            0);
  auto card = nlohmann::json::parse(ReadText(tmp_ / "card.json"));
  card["threshold"] = "low";
  WriteText(tmp_ / "bad.json", card.dump());
  auto r = Cli("score -q " + Common() + "--card '" + (tmp_ / "bad.json") + "' -i '" +
               (tmp_ / "far") + "' -o -");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("bad.json': /threshold must be a number, got \"low\""), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("json.exception"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace oodscore
