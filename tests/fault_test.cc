// Faults injected into real runs of the binary: outputs that are not plain files, a full disk,
// kill -9 in the middle of a run. Nothing may be torn, mixed or replaced.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "cli_fixture.h"
#include "oodscore/report_folder.h"
#include "oodscore/score_table.h"

namespace oodscore {
namespace {

using testing::CliTest;
using testing::ReadText;
using testing::WriteText;

class FaultTest : public CliTest {
 protected:
  // A list naming the same far image n times: a long run made in no time.
  std::string LongList(int n) {
    std::string list;
    for (int i = 0; i < n; ++i) list += (tmp_ / ("far/" + std::to_string(i % 12) + ".ppm")) + "\n";
    WriteText(tmp_ / "long.txt", list);
    return tmp_ / "long.txt";
  }
  // The same with one 700x700 image: each takes a while to decode and resize.
  std::string SlowList(int n) {
    testing::WritePnm(tmp_ / "big/big.pgm", 700, 700, 1, 3);
    std::string list;
    for (int i = 0; i < n; ++i) list += (tmp_ / "big/big.pgm") + "\n";
    WriteText(tmp_ / "slow.txt", list);
    return tmp_ / "slow.txt";
  }
  // Runs the binary in the background and kills it with SIGKILL as soon as `ready()` holds
  // (polled every 5 ms), or at a generous deadline. True when `ready()` held while the run was
  // still going; false when the run ended first or the deadline passed.
  bool KillWhen(const std::string& args, const std::function<bool()>& ready) {
    const std::string cmd =
        "exec '" + std::string(OODSCORE_BINARY) + "' " + args + " >/dev/null 2>&1 </dev/null";
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    if (pid < 0) return false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    bool held = false, ended = false;
    while (!held && !ended && std::chrono::steady_clock::now() < deadline) {
      held = ready();
      int status = 0;
      ended = !held && ::waitpid(pid, &status, WNOHANG) == pid;
      if (!held && !ended) ::usleep(5000);
    }
    if (!ended) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    return held;
  }
  // The number of whole lines (ending in '\n') in a file; 0 when it does not exist.
  static std::size_t WholeLines(const std::string& path) {
    const std::string text = ReadText(path);
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
  }
  // Whether a staging folder of a running eval in `dir` has a scores.csv with a row of `set`.
  static bool StagedRowOf(const std::string& dir, const std::string& set) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      if (e.path().filename().string().rfind(".oodscore-partial-", 0) != 0) continue;
      if (ReadText((e.path() / "scores.csv").string()).find("\n" + set + ",") !=
          std::string::npos) {
        return true;
      }
    }
    return false;
  }
};

TEST_F(FaultTest, OutputsThatAreNotPlainFilesAreWrittenThrough) {
  // /dev/stdout: the CSV arrives on stdout, nothing replaces the device.
  auto r = Cli("score -q " + Common() + "-i '" + (tmp_ / "far") + "' -o /dev/stdout");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("set,path,label,pred,", 0), 0u);
  // A report file that is a link stays a link; the file it points to gets the report.
  ASSERT_EQ(Cli("eval -q " + Common() + "--id '" + (tmp_ / "id") + "' --ood '" + (tmp_ / "far") +
                "' --out-dir '" + (tmp_ / "r") + "'")
                .exit_code,
            0);
  std::filesystem::remove(tmp_ / "r/report.md");
  ASSERT_EQ(::symlink((tmp_ / "elsewhere.md").c_str(), (tmp_ / "r/report.md").c_str()), 0);
  r = Cli("eval -q " + Common() + "--id '" + (tmp_ / "id") + "' --ood '" + (tmp_ / "far") +
          "' --out-dir '" + (tmp_ / "r") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::is_symlink(tmp_ / "r/report.md"));
  EXPECT_TRUE(ReadText(tmp_ / "elsewhere.md") == r.out);
  // A FIFO (as process substitution makes) is written into, not replaced.
  ASSERT_EQ(::mkfifo((tmp_ / "card.fifo").c_str(), 0600), 0);
  const std::string reader = "cat '" + (tmp_ / "card.fifo") + "' > '" + (tmp_ / "card.txt") + "' &";
  ASSERT_EQ(std::system(reader.c_str()), 0);
  r = Cli("calibrate -q " + Common() + "--id '" + (tmp_ / "id") + "' -o '" + (tmp_ / "card.fifo") +
          "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::system("wait");
  for (int i = 0; i < 50 && ReadText(tmp_ / "card.txt").find("}\n") == std::string::npos; ++i) {
    ::usleep(100000);
  }
  EXPECT_NE(ReadText(tmp_ / "card.txt").find("\"kind\": \"oodscore-detector-card\""),
            std::string::npos);
  struct stat st;
  ASSERT_EQ(::stat((tmp_ / "card.fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
}

TEST_F(FaultTest, KilledRunsKeepWholeRowsAndTheEarlierReport) {
  const std::string list = SlowList(40000);
  ASSERT_TRUE(KillWhen("score -q " + Common() + "--workers 1 --batch-size 4 -i '" + list +
                           "' -o '" + (tmp_ / "s.csv") + "'",
                       [&] { return WholeLines(tmp_ / "s.csv") >= 2; }))
      << "no first row before the run ended (or 120 s passed)";
  const std::string csv = ReadText(tmp_ / "s.csv");
  ASSERT_FALSE(csv.empty());
  EXPECT_EQ(csv.back(), '\n');  // every flushed row is whole
  const std::size_t rows = ReadScoreFiles({tmp_ / "s.csv"}).size();
  EXPECT_GT(rows, 0u);
  EXPECT_LT(rows, 40000u) << "the run finished before it was killed: make it longer";

  // eval into a folder that holds an earlier report: killed, the earlier set stays whole.
  const std::string out = tmp_ / "r";
  ASSERT_EQ(Cli("eval -q " + Common() + "--id '" + (tmp_ / "id") + "' --ood '" + (tmp_ / "far") +
                "' --out-dir '" + out + "'")
                .exit_code,
            0);
  const std::string report = ReadText(out + "/report.json"), scores = ReadText(out + "/scores.csv"),
                    manifest = ReadText(out + "/" + kManifestName);
  // Killed once it has scored the ID set and begun the long one.
  ASSERT_TRUE(KillWhen("eval -q " + Common() + "--workers 1 --batch-size 4 --id '" + (tmp_ / "id") +
                           "' --ood long='" + list + "' --out-dir '" + out + "'",
                       [&] { return StagedRowOf(out, "long"); }))
      << "no row of the long set before the run ended (or 120 s passed)";
  EXPECT_TRUE(ReadText(out + "/report.json") == report);
  EXPECT_TRUE(ReadText(out + "/scores.csv") == scores);
  EXPECT_TRUE(ReadText(out + "/" + kManifestName) == manifest);
  // The next run clears the dead run's staging folder and replaces the set as a whole.
  ASSERT_EQ(Cli("eval -q " + Common() + "--id '" + (tmp_ / "id") + "' --ood far2='" +
                (tmp_ / "far") + "' --out-dir '" + out + "' --score energy")
                .exit_code,
            0);
  int staging = 0, cards = 0;
  for (const auto& e : std::filesystem::directory_iterator(out)) {
    const std::string n = e.path().filename().string();
    staging += n.rfind(".oodscore-partial-", 0) == 0;
    cards += n.rfind("card-", 0) == 0;
  }
  EXPECT_EQ(staging, 0);
  EXPECT_EQ(cards, 1);  // the earlier run's card-msp.json etc. are gone: one run per folder
  auto m = nlohmann::json::parse(ReadText(out + "/" + kManifestName));
  EXPECT_EQ(m["files"].size(), 5u);  // scores.csv, card-energy.json, report.{json,md,html}
}

TEST_F(FaultTest, ResumeFinishesAKilledRunWithTheSameFile) {
  const std::string list = SlowList(3000);
  const std::string args = "score -q " + Common() + "--workers 1 --batch-size 8 -i '" + list +
                           "' -i '" + (tmp_ / "far") + "' -o ";
  ASSERT_EQ(Cli(args + "'" + (tmp_ / "whole.csv") + "'").exit_code, 0);
  ASSERT_TRUE(KillWhen(args + "'" + (tmp_ / "part.csv") + "'", [&] {
    return WholeLines(tmp_ / "part.csv") >= 2;
  })) << "no first row before the run ended (or 120 s passed)";
  auto stamp = nlohmann::json::parse(ReadText(tmp_ / "part.csv.json"));
  ASSERT_EQ(stamp["complete"], false) << "the run finished before it was killed";
  // A torn last line, as a full disk or a crash mid-write would leave.
  { std::ofstream(tmp_ / "part.csv", std::ios::app) << "slow,/half/a/ro"; }
  auto r = Cli(args + "'" + (tmp_ / "part.csv") + "' --resume");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(ReadText(tmp_ / "part.csv") == ReadText(tmp_ / "whole.csv"));
  EXPECT_EQ(nlohmann::json::parse(ReadText(tmp_ / "part.csv.json"))["complete"], true);
  // Resuming a complete file changes nothing; a file of another run is refused.
  EXPECT_EQ(Cli(args + "'" + (tmp_ / "part.csv") + "' --resume").exit_code, 0);
  EXPECT_TRUE(ReadText(tmp_ / "part.csv") == ReadText(tmp_ / "whole.csv"));
  r = Cli(args + "'" + (tmp_ / "part.csv") + "' --resume -T 2");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("was written by another run: its columns is "), std::string::npos) << r.err;
  EXPECT_EQ(Cli("score -q " + Common() + "-i '" + list + "' --resume").exit_code, 2);
}

// A small tmpfs, where the test runs as root and may mount; else skipped.
class DiskFullTest : public FaultTest {
 protected:
  void SetUp() override {
    FaultTest::SetUp();
    disk_ = tmp_ / "disk";
    std::filesystem::create_directories(disk_);
    if (::geteuid() != 0 || ::mount("tmpfs", disk_.c_str(), "tmpfs", 0, "size=192k") != 0) {
      GTEST_SKIP() << "needs root and a tmpfs mount to fill a disk";
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) ::umount(disk_.c_str());
  }
  std::string disk_;
  bool mounted_ = false;
};

TEST_F(DiskFullTest, ScoreCutsBackToTheLastWholeRow) {
  const std::string list = LongList(4000);  // about 700 KB of rows: more than the disk holds
  auto r =
      Cli("score -q " + Common() + "--batch-size 7 -i '" + list + "' -o '" + disk_ + "/s.csv'");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
  const std::string csv = ReadText(disk_ + "/s.csv");
  ASSERT_FALSE(csv.empty());
  EXPECT_EQ(csv.back(), '\n');
  const std::size_t rows = ReadScoreFiles({disk_ + "/s.csv"}).size();
  EXPECT_NE(r.err.find("keeps its first " + std::to_string(rows) + " complete rows"),
            std::string::npos)
      << r.err;
}

TEST_F(DiskFullTest, EvalLeavesTheEarlierSetWhole) {
  const std::string out = disk_ + "/r";
  ASSERT_EQ(Cli("eval -q " + Common() + "--id '" + (tmp_ / "id") + "' --ood '" + (tmp_ / "far") +
                "' --out-dir '" + out + "' --score energy")
                .exit_code,
            0);
  const std::string report = ReadText(out + "/report.json");
  auto r = Cli("eval -q " + Common() + "--id '" + (tmp_ / "id") + "' --ood long='" +
               LongList(4000) + "' --out-dir '" + out + "' --score energy");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
  EXPECT_TRUE(ReadText(out + "/report.json") == report);
  EXPECT_TRUE(std::filesystem::exists(out + "/" + kManifestName));
}

}  // namespace
}  // namespace oodscore
