// The tool as shell users and CI jobs drive it (issue 18): numbers that must not be silently
// wrong, and the inputs the shell produces. Each case runs the real binary.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "base/format.h"
#include "cli_fixture.h"
#include "oodscore/score_table.h"

namespace oodscore {
namespace {

namespace fs = std::filesystem;
using testing::CliTest;
using testing::ReadText;
using testing::WriteText;

// The binary with a pipe for its stdin, as `inotifywait -m DIR | oodscore score -i -` runs it;
// stdout and stderr go to files in `dir`.
class PipedRun {
 public:
  PipedRun(const std::string& args, const std::string& dir) : err_path_(dir + "/stderr.txt") {
    ::signal(SIGPIPE, SIG_IGN);  // a run that died must fail the test, not kill it
    const std::string cmd = "exec '" + std::string(OODSCORE_BINARY) + "' " + args + " >'" + dir +
                            "/stdout.txt' 2>'" + err_path_ + "'";
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[0], STDIN_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[0]);
    in_ = fds[1];
  }
  ~PipedRun() {
    if (in_ >= 0) ::close(in_);
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool started() const { return pid_ > 0 && in_ >= 0; }
  void Write(const std::string& text) {
    ASSERT_EQ(::write(in_, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
  // Polls `holds` every 10 ms until it does (true), the run ends or 60 s pass (false).
  bool WaitFor(const std::function<bool()>& holds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      if (holds()) return true;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return holds();
      }
      ::usleep(10000);
    }
    return false;
  }
  // Closes stdin (the end of the list) and waits for the exit code (-1: killed, or already
  // reaped by WaitFor).
  int Close() {
    ::close(in_);
    in_ = -1;
    int status = 0;
    if (exited_ || ::waitpid(pid_, &status, 0) != pid_) return -1;
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string err() const { return ReadText(err_path_); }

 private:
  std::string err_path_;
  pid_t pid_ = -1;
  int in_ = -1;
  bool exited_ = false;
};

// The rows of a score CSV so far (its whole lines, less the header).
int Rows(const std::string& csv) {
  const std::string text = ReadText(csv);
  return std::max(0, static_cast<int>(std::count(text.begin(), text.end(), '\n')) - 1);
}

class ShellTest : public CliTest {
 protected:
  // Scores id and far into `csv` (a stamp beside it) with the model options `model`.
  void ScoreInto(const std::string& csv, const std::string& model) {
    auto r = Cli("score -q " + model + "-i id='" + (tmp_ / "id") + "' -i far='" + (tmp_ / "far") +
                 "' -o '" + (tmp_ / csv) + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
};

// `-i -` from a pipe is scored as the paths arrive: each row is in the CSV before the next path
// is written, an unreadable one is skipped, and the end of the input ends the run.
TEST_F(ShellTest, StdinFromAPipeIsScoredAsPathsArrive) {
  const std::string csv = tmp_ / "s.csv";
  PipedRun run("score " + Common() + "-i - -o '" + csv + "'", tmp_.path().string());
  ASSERT_TRUE(run.started());
  run.Write((tmp_ / "far/0.ppm") + "\n");
  ASSERT_TRUE(run.WaitFor([&] { return Rows(csv) == 1; })) << run.err();
  EXPECT_NE(ReadText(csv).find("\nstdin," + (tmp_ / "far/0.ppm") + ","), std::string::npos);
  // A path that cannot be read is skipped; the run goes on.
  run.Write((tmp_ / "far/missing.ppm") + "\n" + (tmp_ / "far/1.ppm") + "\n");
  ASSERT_TRUE(run.WaitFor([&] { return Rows(csv) == 2; })) << run.err();
  EXPECT_NE(ReadText(csv).find("\nstdin," + (tmp_ / "far/1.ppm") + ","), std::string::npos);
  ASSERT_EQ(run.Close(), 0) << run.err();
  EXPECT_EQ(Rows(csv), 2);
  EXPECT_NE(run.err().find("1 skipped"), std::string::npos) << run.err();
  // The stamp, written at the end, counts what arrived.
  const auto stamp = nlohmann::json::parse(ReadText(csv + ".json"));
  EXPECT_EQ(stamp["complete"], true);
  EXPECT_EQ(stamp["rows"], 2);
  EXPECT_EQ(stamp["inputs"][0]["found"], 3) << stamp.dump();
  EXPECT_EQ(stamp["sets"][0]["found"], 3) << stamp.dump();
  EXPECT_EQ(stamp["sets"][0]["skipped"], 1) << stamp.dump();
  // A pipe that closes naming no file is an empty list: no output, unless --allow-empty.
  const std::string empty = tmp_ / "e.csv";
  PipedRun none("score -q " + Common() + "-i - -o '" + empty + "'", tmp_.path().string());
  ASSERT_TRUE(none.started());
  EXPECT_EQ(none.Close(), 3) << none.err();
  EXPECT_NE(none.err().find("list '-' names no files"), std::string::npos) << none.err();
  EXPECT_FALSE(std::filesystem::exists(empty));
  EXPECT_FALSE(std::filesystem::exists(empty + ".json"));
  PipedRun quiet("score -q " + Common() + "-i - -o '" + empty + "' --allow-empty",
                 tmp_.path().string());
  ASSERT_TRUE(quiet.started());
  EXPECT_EQ(quiet.Close(), 0) << quiet.err();
  EXPECT_EQ(ReadText(empty), "set,path,label,pred,energy,msp,maxlogit,log_msp,entropy,gen\n");
}

// With a card, a flagged path is written to --flagged as soon as it is scored, while the input
// is still open; what needs the whole list first is refused.
TEST_F(ShellTest, StdinFromAPipeFlagsAtOnce) {
  ASSERT_EQ(Cli("calibrate -q " + Common() + "--id '" + (tmp_ / "id") + "' --tpr 0.5 -o '" +
                (tmp_ / "card.json") + "'")
                .exit_code,
            0);
  const std::string card = "--card '" + (tmp_ / "card.json") + "' ";
  auto r = Cli("score -q " + Common() + card + "-i '" + (tmp_ / "far") + "' -o - --flagged '" +
               (tmp_ / "all") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string all = ReadText(tmp_ / "all");
  ASSERT_FALSE(all.empty());
  const std::string flagged = all.substr(0, all.find('\0'));
  PipedRun run("score -q " + Common() + card + "-i - -o '" + (tmp_ / "s.csv") + "' --flagged '" +
                   (tmp_ / "flagged") + "'",
               tmp_.path().string());
  ASSERT_TRUE(run.started());
  run.Write(flagged + "\n");
  ASSERT_TRUE(run.WaitFor([&] { return ReadText(tmp_ / "flagged") == flagged + '\0'; }))
      << run.err();
  ASSERT_EQ(run.Close(), 0) << run.err();
  for (const char* refused : {"--shard 0/2", "--resume"}) {
    PipedRun again("score -q " + Common() + "-i - -o '" + (tmp_ / "t.csv") + "' " + refused,
                   tmp_.path().string());
    ASSERT_TRUE(again.started());
    EXPECT_EQ(again.Close(), 2) << again.err();
    EXPECT_NE(again.err().find("from a pipe is scored as the paths arrive"), std::string::npos)
        << again.err();
  }
}

// Two runs given to metrics are not shards of one: pooling them would report neither.
TEST_F(ShellTest, MetricsRefusesToPoolTwoRunsOrOneFileTwice) {
  ScoreInto("a.csv", Common());
  const std::string a = "'" + (tmp_ / "a.csv") + "'";
  auto r = Cli("metrics " + a + " " + a + " --id id --out-dir '" + (tmp_ / "r") + "'");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("a.csv' is given twice"), std::string::npos) << r.err;
  // The same rows under another name, without a stamp: every sample twice.
  std::filesystem::copy_file(tmp_ / "a.csv", tmp_ / "b.csv");
  std::filesystem::copy_file(tmp_ / "a.csv", tmp_ / "c.csv");
  r = Cli("metrics '" + (tmp_ / "b.csv") + "' '" + (tmp_ / "c.csv") + "' --id id --out-dir '" +
          (tmp_ / "r") + "'");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("is in both '" + (tmp_ / "b.csv") + "' and '" + (tmp_ / "c.csv") +
                       "': these look like two separate runs, not shards of one run"),
            std::string::npos)
      << r.err;
  // Two stamped runs of different models.
  testing::WriteLinearModel(tmp_ / "m2.pt", 64, 3, 0.3);
  ScoreInto("d.csv",
            "--model '" + (tmp_ / "m2.pt") + "' --preset '" + (tmp_ / "grey8.json") + "' ");
  r = Cli("metrics " + a + " '" + (tmp_ / "d.csv") + "' --id id --out-dir '" + (tmp_ / "r") + "'");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("two separate runs, not shards of one run"), std::string::npos) << r.err;
  r = Cli("eval --from-scores " + a + " --from-scores '" + (tmp_ / "d.csv") + "' --out-dir '" +
          (tmp_ / "r") + "'");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("two separate runs, not shards of one run"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp_ / "r/report.json"));
}

// `-i photo.png` is one image, not a list file; a list file holding NUL bytes says so.
TEST_F(ShellTest, AnImagePathIsASetOfOneAndBinaryListsAreRefused) {
  auto r = Cli("score -q " + Common() + "-i '" + (tmp_ / "far/3.ppm") + "' -o -");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find((tmp_ / "far/3.ppm") + ","), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;  // header and one row
  WriteText(tmp_ / "nul.txt", (tmp_ / "far/0.ppm") + std::string(1, '\0') + (tmp_ / "far/1.ppm"));
  r = Cli("score -q " + Common() + "-i '" + (tmp_ / "nul.txt") + "' -o -");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("nul.txt' line 1 holds a NUL byte"), std::string::npos) << r.err;
}

// --null reads what find -print0 and --flagged write: any file name, a newline in it too.
TEST_F(ShellTest, NullSeparatedListsReadAnyFileName) {
  std::filesystem::copy_file(tmp_ / "far/1.ppm", tmp_ / "far/new\nline, x.ppm");
  WriteText(tmp_ / "list0", (tmp_ / "far/0.ppm") + std::string(1, '\0') +
                                (tmp_ / "far/new\nline, x.ppm") + std::string(1, '\0'));
  auto r = Cli("score -q " + Common() + "--null -i '" + (tmp_ / "list0") + "' -o '" +
               (tmp_ / "s.csv") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto table = ReadScoreFiles({tmp_ / "s.csv"}, {/*keep_paths=*/true});
  ASSERT_EQ(table.size(), 2u);
  EXPECT_EQ(table.path(1), tmp_ / "far/new\nline, x.ppm");
  // Without --null the NUL byte is named, and the flag offered.
  r = Cli("score -q " + Common() + "-i '" + (tmp_ / "list0") + "' -o -");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("give --null"), std::string::npos) << r.err;
}

// A shell user sees what was skipped: --skipped lists it NUL-terminated, the log counts it.
TEST_F(ShellTest, SkippedFilesAreListedAndCounted) {
  WriteText(tmp_ / "far/broken.png", "not a png");
  auto r = Cli("score " + Common() + "-i '" + (tmp_ / "far") + "' -o '" + (tmp_ / "s.csv") +
               "' --skipped -");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, (tmp_ / "far/broken.png") + std::string(1, '\0'));
  EXPECT_NE(r.err.find("1 skipped"), std::string::npos) << r.err;
  r = Cli("score -q " + Common() + "-i '" + (tmp_ / "far") + "' -o - --skipped -");
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

// A quiet day is not an error: with --allow-empty, no images gives a header-only CSV, exit 0.
TEST_F(ShellTest, AllowEmptyWritesTheHeaderOnly) {
  std::filesystem::create_directories(tmp_ / "uploads/today");
  const std::string run =
      "score -q " + Common() + "-i '" + (tmp_ / "uploads") + "' -o '" + (tmp_ / "s.csv") + "'";
  auto r = Cli(run);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  r = Cli(run + " --allow-empty");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadText(tmp_ / "s.csv"),
            "set,path,label,pred,energy,msp,maxlogit,log_msp,entropy,gen\n");
  // Beside a set with images, the empty one adds no row.
  r = Cli(run + " --allow-empty -i '" + (tmp_ / "far") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string rows = ReadText(tmp_ / "s.csv");
  EXPECT_EQ(std::count(rows.begin(), rows.end(), '\n'), 13);
}

// A model that ends in softmax is scored, with a warning in the log and in report.json.
TEST_F(ShellTest, ProbabilityOutputsAreWarnedAbout) {
  testing::WriteOddModel(tmp_ / "soft.pt", "softmax", 64);
  const std::string model =
      "--model '" + (tmp_ / "soft.pt") + "' --preset '" + (tmp_ / "grey8.json") + "' ";
  auto r = Cli("eval -q " + model + "--id '" + (tmp_ / "id") + "' --ood '" + (tmp_ / "far") +
               "' --out-dir '" + (tmp_ / "r") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string warning = "the model's outputs look like probabilities";
  EXPECT_NE(r.err.find(warning), std::string::npos) << r.err;
  EXPECT_NE(ReadText(tmp_ / "r/report.json").find(warning), std::string::npos);
  // Logits do not trigger it.
  r = Cli("score -q " + Common() + "-i '" + (tmp_ / "far") + "' -o -");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find(warning), std::string::npos) << r.err;
}

// Batch buffers are sized to the run: one image with a --batch-size whose slots would need far
// more than half this machine's memory (65536 x 3x224x224 floats = 39 GB each) allocates one.
TEST_F(ShellTest, BatchBuffersAreSizedToTheRun) {
  auto r = Cli("score -q --model '" + (tmp_ / "m.pt") +
               "' --preset imagenet --batch-size 65536 -i '" + (tmp_ / "far/0.ppm") + "' -o -");
  EXPECT_EQ(r.err.find("batch buffers"), std::string::npos) << r.err;
  // The model takes 8x8 grey images: it refuses the batch, which was allocated.
  EXPECT_NE(r.err.find("failed on a batch of shape [1, 3, 224, 224]"), std::string::npos) << r.err;
}

// score --move-flagged / --copy-flagged (issue 18: files must never be lost). A card whose
// threshold flags every image makes each run's flagged files known.
class QuarantineTest : public ShellTest {
 protected:
  void SetUp() override {
    ShellTest::SetUp();
    auto r = Cli("calibrate -q " + Common() + "--id '" + (tmp_ / "id") +
                 "' --score energy --tpr 0.5 -o '" + (tmp_ / "card.json") + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto card = nlohmann::json::parse(ReadText(tmp_ / "card.json"));
    card["threshold"] = -1e300;  // energy above it is OOD: every image
    card.erase("accept_as_id");
    WriteText(tmp_ / "all.json", card.dump());
  }
  // An upload: the bytes of far/<seed>.ppm under `name`.
  void Upload(const std::string& name, int seed) {
    fs::create_directories(fs::path(tmp_ / name).parent_path());
    fs::copy_file(tmp_ / ("far/" + std::to_string(seed) + ".ppm"), tmp_ / name,
                  fs::copy_options::overwrite_existing);
  }
  std::string Far(int seed) { return ReadText(tmp_ / ("far/" + std::to_string(seed) + ".ppm")); }
  // score with the flag-everything card; `args` adds inputs, -o and the quarantine flags.
  testing::RunResult Score(const std::string& args) {
    return Cli("score -q " + Common() + "--card '" + (tmp_ / "all.json") + "' " + args);
  }
  // The manifest's lines after its header, each split at tabs.
  std::vector<std::vector<std::string>> Manifest(const std::string& dir) {
    std::istringstream in(ReadText(tmp_ / (dir + "/manifest.tsv")));
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, "from\tto\tscore\tvalue");
    std::vector<std::vector<std::string>> rows;
    while (std::getline(in, line)) {
      rows.emplace_back();
      std::istringstream fields(line);
      for (std::string f; std::getline(fields, f, '\t');) rows.back().push_back(f);
    }
    return rows;
  }
  int Images(const std::string& dir) {
    int n = 0;
    for (const auto& e : fs::recursive_directory_iterator(tmp_ / dir)) {
      n += e.path().extension() == ".ppm";
    }
    return n;
  }
};

// The same camera file name uploaded on two days: both are kept, the second numbered, and
// the manifest records both; the CSV keeps each file's original path.
TEST_F(QuarantineTest, SameNamedUploadsOnTwoDaysAreBothKept) {
  Upload("uploads/IMG_0001.ppm", 0);
  auto r = Score("-i '" + (tmp_ / "uploads") + "' -o '" + (tmp_ / "day1.csv") +
                 "' --move-flagged '" + (tmp_ / "q") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(ReadText(tmp_ / "day1.csv").find((tmp_ / "uploads/IMG_0001.ppm") + ","),
            std::string::npos);
  Upload("uploads/IMG_0001.ppm", 1);
  r = Cli("score " + Common() + "--card '" + (tmp_ / "all.json") + "' -i '" + (tmp_ / "uploads") +
          "' -o '" + (tmp_ / "day2.csv") + "' --move-flagged '" + (tmp_ / "q") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("1 flagged (1 moved to '" + (tmp_ / "q") + "'), 0 skipped"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("q/IMG_0001.1.ppm': '" + (tmp_ / "q/IMG_0001.ppm") + "' was taken"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(tmp_ / "uploads/IMG_0001.ppm"));
  EXPECT_EQ(ReadText(tmp_ / "q/IMG_0001.ppm"), Far(0));
  EXPECT_EQ(ReadText(tmp_ / "q/IMG_0001.1.ppm"), Far(1));
  const auto rows = Manifest("q");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][0], tmp_ / "uploads/IMG_0001.ppm");
  EXPECT_EQ(rows[0][1], tmp_ / "q/IMG_0001.ppm");
  EXPECT_EQ(rows[1][0], tmp_ / "uploads/IMG_0001.ppm");
  EXPECT_EQ(rows[1][1], tmp_ / "q/IMG_0001.1.ppm");
  EXPECT_EQ(rows[1][2], "energy");
  EXPECT_TRUE(ParseDouble(rows[1][3]).has_value()) << rows[1][3];
}

// A watch (inotify) streams paths: a re-upload under a moved file's name is moved too, a
// list naming one file twice moves it once, and a path inside the quarantine stays put.
TEST_F(QuarantineTest, AStreamedReuploadIsMovedAndTheQuarantineIsNotEntered) {
  Upload("uploads/a.ppm", 0);
  PipedRun run("score -q " + Common() + "--card '" + (tmp_ / "all.json") + "' -i - -o '" +
                   (tmp_ / "s.csv") + "' --move-flagged '" + (tmp_ / "q") + "'",
               tmp_.path().string());
  ASSERT_TRUE(run.started());
  run.Write((tmp_ / "uploads/a.ppm") + "\n");
  ASSERT_TRUE(run.WaitFor([&] { return fs::exists(tmp_ / "q/a.ppm"); })) << run.err();
  Upload("uploads/a.ppm", 1);  // the next upload, same name
  run.Write((tmp_ / "uploads/a.ppm") + "\n");
  ASSERT_TRUE(run.WaitFor([&] { return fs::exists(tmp_ / "q/a.1.ppm"); })) << run.err();
  run.Write((tmp_ / "q/a.ppm") + "\n");  // a watch on a tree that holds q
  ASSERT_EQ(run.Close(), 0) << run.err();
  EXPECT_NE(run.err().find("lies in '" + (tmp_ / "q") + "' already: left in place"),
            std::string::npos)
      << run.err();
  EXPECT_EQ(ReadText(tmp_ / "q/a.ppm"), Far(0));
  EXPECT_EQ(ReadText(tmp_ / "q/a.1.ppm"), Far(1));
  EXPECT_FALSE(fs::exists(tmp_ / "q/a.2.ppm"));
  EXPECT_EQ(Manifest("q").size(), 2u);
}

// Same file names in two subfolders keep their relative paths; a list's files, which have
// no folder to be relative to, keep their names, numbered on a collision.
TEST_F(QuarantineTest, RelativePathsAreKept) {
  Upload("uploads/a/x.ppm", 0);
  Upload("uploads/b/x.ppm", 1);
  auto r = Score("--layout flat -i '" + (tmp_ / "uploads/") + "' -o '" + (tmp_ / "s.csv") +
                 "' --move-flagged '" + (tmp_ / "q") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadText(tmp_ / "q/a/x.ppm"), Far(0));
  EXPECT_EQ(ReadText(tmp_ / "q/b/x.ppm"), Far(1));
  EXPECT_EQ(Images("uploads"), 0);
  Upload("c/y.ppm", 2);
  Upload("d/y.ppm", 3);
  WriteText(tmp_ / "list.txt", "c/y.ppm\nd/y.ppm\n");
  r = Score("-i '" + (tmp_ / "list.txt") + "' -o '" + (tmp_ / "l.csv") + "' --move-flagged '" +
            (tmp_ / "ql") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadText(tmp_ / "ql/y.ppm"), Far(2));
  EXPECT_EQ(ReadText(tmp_ / "ql/y.1.ppm"), Far(3));
  EXPECT_EQ(Manifest("ql").size(), 2u);
}

// A quarantine inside the upload folder is not scored again, in either layout.
TEST_F(QuarantineTest, AQuarantineInsideTheInputIsLeftOut) {
  Upload("uploads/x.ppm", 0);
  Upload("uploads/sub/y.ppm", 1);
  const std::string run = "--layout flat -i '" + (tmp_ / "uploads") + "' --move-flagged '" +
                          (tmp_ / "uploads/quarantine") + "' -o ";
  ASSERT_EQ(Score(run + "'" + (tmp_ / "1.csv") + "'").exit_code, 0);
  EXPECT_EQ(Images("uploads/quarantine"), 2);
  Upload("uploads/z.ppm", 2);
  auto r = Score(run + "'" + (tmp_ / "2.csv") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto table = ReadScoreFiles({tmp_ / "2.csv"}, {/*keep_paths=*/true});
  ASSERT_EQ(table.size(), 1u);  // z only, not the quarantined x and y
  EXPECT_EQ(table.path(0), tmp_ / "uploads/z.ppm");
  EXPECT_EQ(Images("uploads/quarantine"), 3);
  EXPECT_EQ(Manifest("uploads/quarantine").size(), 3u);
  // Class folders: the quarantine is no class.
  Upload("classes/cat/1.ppm", 3);
  Upload("classes/dog/2.ppm", 4);
  const std::string classes = "--layout classes -i '" + (tmp_ / "classes") + "' --move-flagged '" +
                              (tmp_ / "classes/q") + "' -o ";
  ASSERT_EQ(Score(classes + "'" + (tmp_ / "3.csv") + "'").exit_code, 0);
  EXPECT_EQ(ReadText(tmp_ / "classes/q/dog/2.ppm"), Far(4));
  Upload("classes/cat/5.ppm", 5);
  Upload("classes/dog/6.ppm", 6);
  r = Score(classes + "'" + (tmp_ / "4.csv") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string csv = ReadText(tmp_ / "4.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 3) << csv;
  EXPECT_EQ(csv.find("classes/q/"), std::string::npos) << csv;
  EXPECT_EQ(Images("classes/q"), 4);
}

TEST_F(QuarantineTest, CopiesLeaveTheSources) {
  Upload("uploads/a/x.ppm", 0);
  Upload("uploads/x.ppm", 1);
  auto r = Score("--layout flat -i '" + (tmp_ / "uploads") + "' -o '" + (tmp_ / "s.csv") +
                 "' --copy-flagged '" + (tmp_ / "q") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadText(tmp_ / "uploads/a/x.ppm"), Far(0));
  EXPECT_EQ(ReadText(tmp_ / "uploads/x.ppm"), Far(1));
  EXPECT_EQ(ReadText(tmp_ / "q/a/x.ppm"), Far(0));
  EXPECT_EQ(ReadText(tmp_ / "q/x.ppm"), Far(1));
  EXPECT_EQ(Manifest("q").size(), 2u);
}

// What a quarantine run refuses (exit 2), before any file is moved.
TEST_F(QuarantineTest, UsageErrors) {
  Upload("uploads/x.ppm", 0);
  const std::string in = "-i '" + (tmp_ / "uploads") + "' -o '" + (tmp_ / "s.csv") + "' ";
  auto r = Score(in + "--move-flagged '" + (tmp_ / "uploads/") + "'");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("is the input folder"), std::string::npos) << r.err;
  r = Score(in + "--copy-flagged '" + (tmp_ / "uploads/../uploads") + "'");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = Score(in + "--move-flagged '" + tmp_.path().string() + "'");  // holds the input
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = Cli("score -q " + Common() + in + "--move-flagged '" + (tmp_ / "q") + "'");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--move-flagged needs --card"), std::string::npos) << r.err;
  r = Score(in + "--move-flagged '" + (tmp_ / "q") + "' --copy-flagged '" + (tmp_ / "q2") + "'");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = Score(in + "--move-flagged '" + (tmp_ / "q") + "' --resume");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = Score(in + "--move-flagged '" + (tmp_ / "s.csv") + "'");  // the CSV itself
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = Score(in + "--move-flagged '" + (tmp_ / "q") + "' --shard 0/2");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--move-flagged cannot run in shards"), std::string::npos) << r.err;
  EXPECT_EQ(ReadText(tmp_ / "uploads/x.ppm"), Far(0));
  EXPECT_FALSE(fs::exists(tmp_ / "q"));
}

// The manifest undoes a run's moves with the shell: cut -f1,2, then mv back.
TEST_F(QuarantineTest, TheManifestUndoesTheMoves) {
  Upload("uploads/a/x.ppm", 0);
  Upload("uploads/b/x.ppm", 1);
  Upload("uploads/b/it's here.ppm", 2);
  WriteText(tmp_ / "q/a/x.ppm", "an earlier day's file");
  auto r = Score("--layout flat -i '" + (tmp_ / "uploads") + "' -o '" + (tmp_ / "s.csv") +
                 "' --move-flagged '" + (tmp_ / "q") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Images("uploads"), 0);
  EXPECT_EQ(ReadText(tmp_ / "q/a/x.1.ppm"), Far(0));
  WriteText(tmp_ / "undo.sh",
            "cut -f1,2 \"$1\" | tail -n +2 | while IFS=$'\\t' read -r from to; do\n"
            "  mv -n \"$to\" \"$from\"\ndone\n");
  ASSERT_EQ(std::system(
                ("bash '" + (tmp_ / "undo.sh") + "' '" + (tmp_ / "q/manifest.tsv") + "'").c_str()),
            0);
  EXPECT_EQ(ReadText(tmp_ / "uploads/a/x.ppm"), Far(0));
  EXPECT_EQ(ReadText(tmp_ / "uploads/b/x.ppm"), Far(1));
  EXPECT_EQ(ReadText(tmp_ / "uploads/b/it's here.ppm"), Far(2));
  EXPECT_EQ(ReadText(tmp_ / "q/a/x.ppm"), "an earlier day's file");
  EXPECT_EQ(Images("q"), 1);
}

// A path the manifest cannot hold (a line break in it) is flagged but left in place, named
// in the log, and the run exits 3; the other files are moved.
TEST_F(QuarantineTest, UnrecordablePathsAreLeftInPlace) {
  Upload("uploads/x.ppm", 0);
  Upload("uploads/new\nline.ppm", 1);
  auto r = Score("-i '" + (tmp_ / "uploads") + "' -o '" + (tmp_ / "s.csv") + "' --move-flagged '" +
                 (tmp_ / "q") + "'");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("holds a tab or a line break"), std::string::npos) << r.err;
  EXPECT_EQ(ReadText(tmp_ / "uploads/new\nline.ppm"), Far(1));
  EXPECT_EQ(ReadText(tmp_ / "q/x.ppm"), Far(0));
  EXPECT_EQ(Manifest("q").size(), 1u);
}

}  // namespace
}  // namespace oodscore
