// The real binary as a person meets it in the first hour: presets, layouts, shell pipelines,
// messages and help.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/version.h"
#include "cli_fixture.h"
#include "oodscore/score_table.h"

namespace oodscore {
namespace {

using testing::CliTest;
using testing::ReadText;
using testing::WriteText;

TEST_F(CliTest, PresetAliasesLoadAndTyposSuggestTheRightOne) {
  testing::WriteConvModel(tmp_ / "c1.pt", 1, 3);
  auto r = Cli("score -q --model '" + (tmp_ / "c1.pt") + "' --preset fmnist -i '" + (tmp_ / "id") +
               "' -o '" + (tmp_ / "s.csv") + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Cli("score -q --model '" + (tmp_ / "c1.pt") + "' --preset fashon-mnist -i '" + (tmp_ / "id") +
          "' -o '" + (tmp_ / "s.csv") + "'");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("unknown preset 'fashon-mnist', did you mean 'fashion-mnist'?"),
            std::string::npos)
      << r.err;
  // Too far to spell, but the only preset it begins.
  r = Cli("score -q --model '" + (tmp_ / "c1.pt") + "' --preset fashion -i '" + (tmp_ / "id") +
          "' -o '" + (tmp_ / "s.csv") + "'");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("unknown preset 'fashion', did you mean 'fashion-mnist'?"),
            std::string::npos)
      << r.err;
}

TEST_F(CliTest, AModelThatRejectsThePresetSaysWhatWouldFit) {
  testing::WriteConvModel(tmp_ / "c1.pt", 1, 3);  // a 1-channel CNN
  auto r = Cli("score --model '" + (tmp_ / "c1.pt") + "' --preset cifar10 -i '" + (tmp_ / "far") +
               "' -o '" + (tmp_ / "out/s.csv") + "'");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("first layer 'conv_weight' [8, 1, 3, 3] takes 1 input channel(s), the "
                       "batch has 3 channel(s). The preset 'cifar10' gives 3x32x32 per image; "
                       "shipped presets that fit: mnist, fashion-mnist"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp_ / "out/s.csv"));       // no header-only CSV
  EXPECT_FALSE(std::filesystem::exists(tmp_ / "out/s.csv.json"));  // nor the stamp it began
  // A list whose every sample fails: no header-only CSV and no stamp either.
  WriteText(tmp_ / "bad.png", "garbage");
  WriteText(tmp_ / "list.txt", (tmp_ / "missing.png") + "\n" + (tmp_ / "bad.png") + "\n");
  r = Cli("score " + Common() + "-i '" + (tmp_ / "list.txt") + "' -o '" + (tmp_ / "l.csv") + "'");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("no sample could be scored (2 skipped"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp_ / "l.csv"));
  EXPECT_FALSE(std::filesystem::exists(tmp_ / "l.csv.json"));
}

TEST_F(CliTest, ScoreTakesThePresetFromTheCard) {
  ASSERT_EQ(Cli("calibrate -q " + Common() + "--id '" + (tmp_ / "id") + "' -o '" +
                (tmp_ / "card.json") + "'")
                .exit_code,
            0);
  auto with = Cli("score -q " + Common() + "--card '" + (tmp_ / "card.json") + "' -i '" +
                  (tmp_ / "far") + "' -o '" + (tmp_ / "a.csv") + "'");
  ASSERT_EQ(with.exit_code, 0) << with.err;
  auto without = Cli("score --model '" + (tmp_ / "m.pt") + "' --card '" + (tmp_ / "card.json") +
                     "' -i '" + (tmp_ / "far") + "' -o '" + (tmp_ / "b.csv") + "'");
  ASSERT_EQ(without.exit_code, 0) << without.err;
  EXPECT_NE(without.err.find("preset from the detector card: 'grey8'"), std::string::npos);
  EXPECT_EQ(ReadText(tmp_ / "a.csv"), ReadText(tmp_ / "b.csv"));
}

TEST_F(CliTest, FoldersWithImagesAndSubfoldersNeedALayout) {
  testing::WritePnm(tmp_ / "far/flagged/x.ppm", 16, 12, 3, 5);
  auto r = Cli("score -q " + Common() + "-i '" + (tmp_ / "far") + "' -o -");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("holds 12 images directly and 1 image in 1 subfolder"), std::string::npos)
      << r.err;
  r = Cli("score -q " + Common() + "--layout flat -i '" + (tmp_ / "far") + "' -o -");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("flagged/x.ppm"), std::string::npos);
  r = Cli("score -q " + Common() + "--layout classes -i '" + (tmp_ / "far") + "' -o -");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("far/0.ppm"), std::string::npos);
}

TEST_F(CliTest, FlaggedPathsAreNulTerminated) {
  testing::WritePnm(tmp_ / "odd/a,b \"c\".ppm", 16, 12, 3, 3);
  ASSERT_EQ(Cli("calibrate -q " + Common() + "--id '" + (tmp_ / "id") + "' --tpr 0.5 -o '" +
                (tmp_ / "card.json") + "'")
                .exit_code,
            0);
  auto r = Cli("score -q " + Common() + "--card '" + (tmp_ / "card.json") + "' -i '" +
               (tmp_ / "far") + "' -i '" + (tmp_ / "odd") + "' -o '" + (tmp_ / "s.csv") +
               "' --flagged '" + (tmp_ / "flagged") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const ScoreTable t = ReadScoreFiles({tmp_ / "s.csv"}, {/*keep_paths=*/true});
  std::string want;
  const int col = t.ColumnIndex("is_ood");
  for (std::size_t i = 0; i < t.size(); ++i) {
    const ScoreRow row = t.Row(i);
    if (row.values[col] == 1.0) want += row.path + std::string(1, '\0');
  }
  EXPECT_FALSE(want.empty());
  EXPECT_EQ(ReadText(tmp_ / "flagged"), want);
  EXPECT_EQ(Cli("score -q " + Common() + "-i '" + (tmp_ / "far") + "' --flagged x").exit_code, 2);
  EXPECT_EQ(Cli("score -q " + Common() + "--card '" + (tmp_ / "card.json") + "' -i '" +
                (tmp_ / "far") + "' --flagged -")
                .exit_code,
            2);  // CSV and paths would share stdout
}

TEST_F(CliTest, ScoreCreatesOutputFoldersAndNamesStdin) {
  auto r =
      Cli("score -q " + Common() + "-i '" + (tmp_ / "far") + "' -o '" + (tmp_ / "a/b/c.csv") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(tmp_ / "a/b/c.csv"));
  WriteText(tmp_ / "list.txt", tmp_ / "far/0.ppm");
  r = testing::RunOodscore("score -q " + Common() + "-i - -o -", tmp_.path(), tmp_ / "list.txt");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\nstdin,"), std::string::npos) << r.out;
}

TEST_F(CliTest, CommandTyposAndHelp) {
  auto r = Cli("scor --model x");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown command 'scor', did you mean 'score'?"), std::string::npos)
      << r.err;
  r = Cli("help score");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("--input"), std::string::npos);
  EXPECT_EQ(r.out, Cli("score --help").out);
  EXPECT_EQ(Cli("help scroe").exit_code, 2);
  r = Cli("--version");  // what a bug report needs: version, commit, LibTorch, CUDA
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("oodscore ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("(commit "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nLibTorch "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(", CUDA "), std::string::npos) << r.out;
  for (const char* cmd : {"score", "eval", "calibrate", "metrics"}) {
    r = Cli(std::string(cmd) + " --help");
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.out.find("Examples:\n  oodscore "), std::string::npos) << cmd;
  }
  // Required options first, in their own group; `help` lists every command.
  r = Cli("fit --help");
  const std::size_t required = r.out.find("\nRequired:\n  --train"),
                    options = r.out.find("\nOptions:\n");
  ASSERT_NE(required, std::string::npos) << r.out;
  EXPECT_LT(required, options) << r.out;
  EXPECT_LT(r.out.find("-o,--output TEXT REQUIRED"), options) << r.out;
  r = Cli("help");
  for (const char* cmd : {"score", "eval", "calibrate", "metrics", "finetune", "fit", "compare"}) {
    EXPECT_NE(r.out.find(std::string("\n  ") + cmd + " "), std::string::npos) << cmd;
  }
}

// Every file says how it was made: the score stamp and report.json keep the command line as
// given, and report.html shows it quoted for a shell.
TEST_F(CliTest, FilesRecordTheCommandLine) {
  const std::string csv = tmp_ / "it's here.csv";
  auto r = Cli("score -q " + Common() + "-i '" + (tmp_ / "far") + "' -o \"" + csv + "\"");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto stamp = nlohmann::json::parse(ReadText(csv + ".json"));
  ASSERT_TRUE(stamp.contains("argv")) << stamp.dump();
  const auto argv = stamp["argv"].get<std::vector<std::string>>();
  ASSERT_GE(argv.size(), 4u);
  EXPECT_EQ(argv[1], "score");
  EXPECT_EQ(argv.back(), csv);
  r = Cli("eval -q " + Common() + "--id '" + (tmp_ / "id") + "' --ood far='" + (tmp_ / "far") +
          "' --out-dir '" + (tmp_ / "r") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = nlohmann::json::parse(ReadText(tmp_ / "r/report.json"));
  const auto eval_argv = report["run"]["argv"].get<std::vector<std::string>>();
  EXPECT_EQ(eval_argv[1], "eval");
  EXPECT_EQ(eval_argv.back(), tmp_ / "r");
  EXPECT_NE(ReadText(tmp_ / "r/report.html").find("--out-dir " + tmp_ / "r"), std::string::npos);
  EXPECT_EQ(ShellQuoted({"a", "it's", "x y", "--k=v", ""}), "a 'it'\\''s' 'x y' --k=v ''");
}

// What an installation adds besides the binaries, made from the command table: a man page
// per command (the --help text) and bash completion of commands, flags, presets and scores.
TEST_F(CliTest, InstallFilesAreTheHelpAndCompleteTheCommandLine) {
  auto r = Cli("install-files '" + (tmp_ / "share") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string man = ReadText(tmp_ / "share/man/man1/oodscore-fit.1");
  EXPECT_EQ(man.rfind(".TH oodscore-fit 1 ", 0), 0u) << man.substr(0, 80);
  EXPECT_NE(man.find("\\-\\-val\\-ood"), std::string::npos);  // every flag of --help
  EXPECT_TRUE(std::filesystem::exists(tmp_ / "share/man/man1/oodscore.1"));
  EXPECT_TRUE(std::filesystem::exists(tmp_ / "share/zsh/vendor-completions/_oodscore"));
  EXPECT_EQ(Cli("help").out.find("install-files"), std::string::npos);  // hidden
  const auto complete = [&](const std::string& line) {
    const std::string script = tmp_ / "complete.sh";
    WriteText(script, ". '" + (tmp_ / "share/bash-completion/completions/oodscore") +
                          "'\nCOMP_WORDS=(" + line + ")\nCOMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n" +
                          "_oodscore\necho \"${COMPREPLY[*]}\"\n");
    return testing::RunShell("bash '" + script + "'", tmp_.path()).out;
  };
  EXPECT_EQ(complete("oodscore fi"), "finetune fit\n");
  EXPECT_EQ(complete("oodscore fit --val"), "--val --val-ood\n");
  EXPECT_EQ(complete("oodscore eval --preset cifar"), "cifar10 cifar100\n");
  EXPECT_EQ(complete("oodscore eval --score kn"), "knn\n");
  EXPECT_EQ(complete("oodscore help sc"), "score\n");
}

// The zsh completion, run by zsh with the completion system's functions replaced by ones that
// print what they were given: which candidates each position gets.
TEST_F(CliTest, ZshCompletionOffersWhatBashOffers) {
  if (testing::RunShell("command -v zsh", tmp_.path()).exit_code != 0) {
    GTEST_SKIP() << "no zsh (scripts/test.sh installs it)";
  }
  auto r = Cli("install-files '" + (tmp_ / "share") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto complete = [&](const std::string& line) {
    const std::string script = tmp_ / "complete.zsh";
    WriteText(script,
              "_describe() { local -a c; c=(\"${(@P)2}\"); print -r -- \"describe: ${(j: "
              ":)${(@)c%%:*}}\" }\n"
              "compadd() { [[ $1 == -- ]] && shift; print -r -- \"compadd: $*\" }\n"
              "_files() { print -r -- files }\n"
              "_alternative() { print -r -- \"alternative: $*\" }\n"
              "words=(" +
                  line + ")\nCURRENT=${#words}\n_oodscore() { source '" +
                  (tmp_ / "share/zsh/vendor-completions/_oodscore") + "' }\n_oodscore\n");
    const auto run = testing::RunShell("zsh -f '" + script + "'", tmp_.path());
    EXPECT_EQ(run.err, "") << line;
    return run.out;
  };
  const std::string commands = "describe: score eval calibrate metrics finetune fit compare help\n";
  EXPECT_EQ(complete("oodscore sc"), commands);
  EXPECT_EQ(complete("oodscore help sc"), commands);
  EXPECT_EQ(complete("oodscore --v"), "compadd: --help --version --verbose --quiet\n");
  EXPECT_EQ(complete("oodscore eval data/x"), "files\n");
  // The command after a tool flag; its own flags.
  const std::string eval_flags = complete("oodscore --verbose eval --gal");
  EXPECT_EQ(eval_flags.rfind("compadd: -h --help --model", 0), 0u) << eval_flags;
  EXPECT_NE(eval_flags.find(" --gallery "), std::string::npos) << eval_flags;
  EXPECT_EQ(complete("oodscore metrics --fpr-convention o"),
            "compadd: exact hendrycks openood pytorch-ood\n");
  EXPECT_EQ(complete("oodscore eval --device c"), "compadd: cpu cuda auto\n");
  EXPECT_NE(complete("oodscore eval --score kn").find(" knn "), std::string::npos);
  EXPECT_EQ(
      complete("oodscore eval --preset cif").rfind("alternative: presets:preset:(cifar10 ", 0), 0u);
}

// A mistyped option is named, with the option meant, before any "required" error it causes,
// in the tool's own words; values that begin with '-' are not options.
TEST_F(CliTest, UnknownOptionsGetDidYouMean) {
  struct Case {
    std::string args, message;
  };
  for (const Case& c : std::vector<Case>{
           {"score --ouput x.csv",
            "oodscore score: unknown option '--ouput', did you mean "
            "'--output'?"},
           {"eval --temprature 2", "unknown option '--temprature', did you mean '--temperature'?"},
           {"eval --gates 'energy.auroc>=0.9'", "did you mean '--gate'?"},
           {"score -model m.pt", "unknown option '-model', did you mean '--model'?"},
           {"eval --out r", "unknown option '--out', did you mean '--out-dir'?"},
           {"eval -i x", "eval takes its sets as --id [NAME=]PATH and --ood [NAME=]PATH"},
           {"eval --input=x", "eval takes its sets as --id"},
           {"eval --id a b --ood c",
            "oodscore eval: unexpected argument(s) b: each option takes "
            "one value"}}) {
    const auto r = Cli(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << ": " << r.err;
    EXPECT_EQ(r.err.find("were not expected"), std::string::npos) << c.args << ": " << r.err;
    EXPECT_EQ(r.err.find("is required"), std::string::npos) << c.args << ": " << r.err;
  }
  // "-" and negative numbers are values; -qv is two short flags: CLI11 then says what is
  // missing.
  const auto r = Cli("finetune -qv --m-in -25 -o -");
  EXPECT_EQ(r.err.find("unknown option"), std::string::npos) << r.err;
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

}  // namespace
}  // namespace oodscore
