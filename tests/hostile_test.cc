// Hostile and odd inputs, one case per class of defect, made at test time: the real binary
// must not hang or crash, must name the file and the reason, and must keep every good row.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "base/sha256.h"
#include "cli_fixture.h"
#include "oodscore/detectors.h"
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

// No output may destroy an input: every command knows what it reads and writes, and refuses an
// overlap (exit 2, both flags named) before it writes anything.
TEST_F(HostileTest, NoOutputOverwritesAnInput) {
  const std::string model = ReadText(tmp_ / "m.pt");
  const std::string image = ReadText(tmp_ / "far/0.ppm");
  ASSERT_EQ(::symlink((tmp_ / "m.pt").c_str(), (tmp_ / "link.pt").c_str()), 0);
  std::filesystem::create_directories(tmp_ / "t.pt.ckpt");
  std::filesystem::copy_file(tmp_ / "m.pt", tmp_ / "t.pt.ckpt/epoch-1.pt");
  WriteText(tmp_ / "list.txt", (tmp_ / "far/0.ppm") + "\n");
  ASSERT_EQ(Cli("calibrate -q " + Common() + "--id '" + (tmp_ / "id") + "' -o '" +
                (tmp_ / "card.json") + "'")
                .exit_code,
            0);
  const std::string card = ReadText(tmp_ / "card.json");
  const std::string far = " -i '" + (tmp_ / "far") + "' ";
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      {"score -q " + Common() + far + "-o '" + (tmp_ / "m.pt") + "'",
       "-o '" + (tmp_ / "m.pt") + "' would overwrite --model"},
      {"score -q " + Common() + far + "-o '" + (tmp_ / "link.pt") + "'",
       "would overwrite --model '" + (tmp_ / "m.pt") + "' (the same file)"},
      {"score -q " + Common() + far + "-o '" + (tmp_ / "far/0.ppm") + "'",
       "would overwrite --input '" + (tmp_ / "far/0.ppm") + "'"},
      {"score -q " + Common() + "-i '" + (tmp_ / "list.txt") + "' -o '" + (tmp_ / "list.txt") + "'",
       "would overwrite --input '" + (tmp_ / "list.txt") + "'"},
      // The stamp of -o X is X.json: it must not replace the card of that name.
      {"score -q " + Common() + far + "--card '" + (tmp_ / "card.json") + "' -o '" +
           (tmp_ / "card") + "'",
       "-o's stamp '" + (tmp_ / "card.json") + "' would overwrite --card"},
      {"score -q " + Common() + far + "--card '" + (tmp_ / "card.json") + "' -o '" +
           (tmp_ / "s.csv") + "' --flagged '" + (tmp_ / "s.csv") + "'",
       "are one file: one output would overwrite the other"},
      {"calibrate -q " + Common() + "--id '" + (tmp_ / "far") + "' -o '" + (tmp_ / "far/1.ppm") +
           "'",
       "-o '" + (tmp_ / "far/1.ppm") + "' would overwrite --id"},
      {"fit -q " + Common() + "--train '" + (tmp_ / "id") + "' -o '" + (tmp_ / "link.pt") + "'",
       "would overwrite --model"},
      {"eval -q " + Common() + "--id '" + (tmp_ / "id") + "' --ood '" + (tmp_ / "far") +
           "' --out-dir '" + (tmp_ / "r") + "' --junit '" + (tmp_ / "r/report.json") + "'",
       "--junit '" + (tmp_ / "r/report.json") + "' is the report file"},
      {"eval -q " + Common() + "--id '" + (tmp_ / "id") + "' --ood '" + (tmp_ / "far") +
           "' --out-dir '" + (tmp_ / "r") + "' --junit '" + (tmp_ / "m.pt") + "'",
       "--junit '" + (tmp_ / "m.pt") + "' would overwrite --model"},
      {"finetune -q " + Common() + "--train '" + (tmp_ / "id") + "' --aux '" + (tmp_ / "far") +
           "' --epochs 1 -o '" + (tmp_ / "m.pt") + "'",
       "-o '" + (tmp_ / "m.pt") + "' would overwrite --model"},
      {"finetune -q --model '" + (tmp_ / "t.pt.ckpt/epoch-1.pt") + "' --preset '" +
           (tmp_ / "grey8.json") + "' --train '" + (tmp_ / "id") + "' --aux '" + (tmp_ / "far") +
           "' --epochs 1 -o '" + (tmp_ / "t.pt") + "'",
       "-o's checkpoints '" + (tmp_ / "t.pt.ckpt") + "' would overwrite --model"},
      // A report folder that does not exist yet, spelled with a trailing '/'.
      {"eval -q " + Common() + "--id '" + (tmp_ / "id") + "' --ood '" + (tmp_ / "far") +
           "' --out-dir '" + (tmp_ / "new") + "/' --junit '" + (tmp_ / "new/scores.csv") + "'",
       "is the report file"},
  };
  for (const Case& c : cases) {
    auto r = Cli(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_EQ(ReadText(tmp_ / "m.pt"), model);
    EXPECT_EQ(ReadText(tmp_ / "far/0.ppm"), image);
    EXPECT_EQ(ReadText(tmp_ / "card.json"), card);
  }
  EXPECT_FALSE(std::filesystem::exists(tmp_ / "s.csv"));
  // A report's score file read back into a report over the same folder: the commit would
  // remove or replace it.
  ASSERT_EQ(Cli("eval -q " + Common() + "--id '" + (tmp_ / "id") + "' --ood '" + (tmp_ / "far") +
                "' --out-dir '" + (tmp_ / "r") + "'")
                .exit_code,
            0);
  auto r =
      Cli("metrics '" + (tmp_ / "r/scores.csv") + "' --id id --out-dir '" + (tmp_ / "r") + "'");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--out-dir '" + (tmp_ / "r") + "' would overwrite a score file"),
            std::string::npos)
      << r.err;
  // Writing beside the inputs, or to /dev/null twice, is fine.
  r = Cli("score -q " + Common() + far + "--card '" + (tmp_ / "card.json") + "' -o /dev/null " +
          "--flagged /dev/null");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// Every number a flag or a card gives is finite and in range: one check, exit 2 naming the
// flag (or the card's field) and the value.
TEST_F(HostileTest, NumbersMustBeFiniteAndInRange) {
  const std::string out = " -i '" + (tmp_ / "far") + "' -o '" + (tmp_ / "s.csv") + "'";
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      {"score -q " + Common() + "--odin --odin-temperature nan" + out,
       "--odin-temperature: must be a finite number > 0, got nan"},
      {"score -q " + Common() + "--odin --odin-epsilon nan" + out,
       "--odin-epsilon: must be a finite number >= 0, got nan"},
      {"score -q " + Common() + "--odin --odin-epsilon -inf" + out,
       "--odin-epsilon: must be a finite number >= 0, got -inf"},
      {"score -q " + Common() + "-T nan" + out, "--temperature: must be a finite number > 0"},
      {"fit -q " + Common() + "--train '" + (tmp_ / "id") + "' --react-percentile nan -o '" +
           (tmp_ / "x.fit") + "'",
       "--react-percentile: must be a finite number >= 0 and <= 100, got nan"},
      {"fit -q " + Common() + "--train '" + (tmp_ / "id") + "' --ash-percentile nan -o '" +
           (tmp_ / "x.fit") + "'",
       "--ash-percentile: must be a finite number >= 0 and < 100, got nan"},
      {"metrics '" + (tmp_ / "none.csv") + "' --id id --bootstrap 10 --seed -1",
       "--seed: must be a whole number from 0 to 18446744073709551615, got '-1'"},
      {"metrics '" + (tmp_ / "none.csv") + "' --id id --tpr nan",
       "--tpr: must be a finite number > 0 and <= 1, got nan"},
      {"score -q " + Common() + "--shard ''" + out, "--shard '': expected I/N"},
      // Flags that would be silently ignored.
      {"score -q " + Common() + "--odin-epsilon 0.001" + out,
       "--odin-temperature and --odin-epsilon set ODIN's score, which this run does not compute"},
  };
  for (const Case& c : cases) {
    auto r = Cli(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\n" << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(tmp_ / "s.csv"));
  EXPECT_FALSE(std::filesystem::exists(tmp_ / "x.fit"));
  // An ODIN card with a negative epsilon, or a negative temperature.
  ASSERT_EQ(Cli("calibrate -q " + Common() + "--score odin --id '" + (tmp_ / "id") + "' -o '" +
                (tmp_ / "card.json") + "'")
                .exit_code,
            0);
  auto card = nlohmann::json::parse(ReadText(tmp_ / "card.json"));
  card["odin_epsilon"] = -0.001;
  WriteText(tmp_ / "neg.json", card.dump());
  card["odin_epsilon"] = 0.001;
  card["temperature"] = -2;
  WriteText(tmp_ / "inf.json", card.dump());
  for (const auto& [file, message] : std::vector<std::pair<std::string, std::string>>{
           {"neg.json", "neg.json': /odin_epsilon must be a finite number >= 0, got -0.001"},
           {"inf.json", "inf.json': /temperature must be a finite number > 0, got -2"}}) {
    auto r = Cli("score -q " + Common() + "--card '" + (tmp_ / file) + "'" + out);
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
  }
  // Flags that contradict the card's ODIN settings.
  auto r = Cli("score -q " + Common() + "--card '" + (tmp_ / "card.json") +
               "' --odin-temperature 5" + out);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("contradict the card's ODIN settings"), std::string::npos) << r.err;
}

// Labels must name one of the logits' classes, as they must not be negative.
TEST_F(HostileTest, LogitLabelsOutsideTheClassesAreRefused) {
  const float logits[6] = {1, 0, 0, 0, 1, 0};
  testing::WriteNpyBytes(tmp_ / "x.npy", "<f4", "(2, 3)", logits, sizeof(logits));
  const std::int64_t labels[2] = {0, 3};
  testing::WriteNpyBytes(tmp_ / "x.labels.npy", "<i8", "(2,)", labels, sizeof(labels));
  auto r = Cli("score -q -i '" + (tmp_ / "x.npy") + "' -o -");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("x.labels.npy': label 3 at index 1 is not a class of '" + (tmp_ / "x.npy") +
                       "', which holds 3 logits per row"),
            std::string::npos)
      << r.err;
}

// Logits saved after a softmax: warned as a model that ends in one is, in the log and the
// report; real logits are not.
TEST_F(HostileTest, LogitsThatAreProbabilitiesWarn) {
  const float probs[6] = {0.7f, 0.2f, 0.1f, 0.1f, 0.1f, 0.8f};
  testing::WriteNpyBytes(tmp_ / "p.npy", "<f4", "(2, 3)", probs, sizeof(probs));
  const double log_probs[3] = {std::log(0.5), std::log(0.25), std::log(0.25)};
  testing::WriteNpyBytes(tmp_ / "q.npy", "<f8", "(1, 3)", log_probs, sizeof(log_probs));
  const float logits[6] = {3, 0, 1, 0, 2, 5};
  testing::WriteNpyBytes(tmp_ / "l.npy", "<f4", "(2, 3)", logits, sizeof(logits));
  auto r = Cli("eval -q --id id='" + (tmp_ / "p.npy") + "' --ood far='" + (tmp_ / "q.npy") +
               "' --out-dir '" + (tmp_ / "r") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string warning = "the logits .npy rows look like probabilities";
  EXPECT_NE(r.err.find(warning), std::string::npos) << r.err;
  const std::string json = testing::ReadText(tmp_ / "r/report.json");
  EXPECT_NE(json.find(warning), std::string::npos);
  r = Cli("score -q -i '" + (tmp_ / "l.npy") + "' -o -");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find(warning), std::string::npos) << r.err;
}

// A step that overflows stops the run, naming where, and nothing of it is saved.
TEST_F(HostileTest, FinetuneStopsOnANonFiniteStepAndSavesNothing) {
  auto r = Cli("finetune -q " + Common() + "--train '" + (tmp_ / "id") + "' --aux '" +
               (tmp_ / "far") + "' --epochs 1 --batch-size 64 --aux-batch-size 4 --lr 1e38 " +
               "--threads 1 -o '" + (tmp_ / "t.pt") + "'");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  // One step: no later loss would show it, so the step's own logits are checked.
  EXPECT_NE(r.err.find("became NaN or Inf at epoch 1 step 1 (learning rate 1e+38): nothing of "
                       "this epoch was saved"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp_ / "t.pt"));
  EXPECT_FALSE(std::filesystem::exists(tmp_ / "t.pt.json"));
}

// LibTorch's and TorchScript's errors are translated into a message naming the file and the
// cause, never a traceback.
TEST_F(HostileTest, ModelFailuresNameTheFileAndTheCauseNotATraceback) {
  testing::WriteOddModel(tmp_ / "detached.pt", "detached", 64);
  auto r = Cli("score -q --model '" + (tmp_ / "detached.pt") + "' --preset '" +
               (tmp_ / "grey8.json") + "' --odin -i '" + (tmp_ / "far") + "' -o -");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("detached.pt' cannot be differentiated with respect to its input, which "
                       "ODIN's perturbation needs"),
            std::string::npos)
      << r.err;
  // finetune at a size the model does not take (16x16 for a model on 8x8).
  WriteText(tmp_ / "grey16.json",
            std::string(testing::kPreset)
                .replace(std::string(testing::kPreset).find("[8, 8]"), 6, "[16, 16]"));
  const std::string tune = "finetune -q --model '" + (tmp_ / "m.pt") + "' --train '" +
                           (tmp_ / "id") + "' --aux '" + (tmp_ / "far") +
                           "' --epochs 1 --threads 1 -o '" + (tmp_ / "t.pt") + "' --preset ";
  r = Cli(tune + "'" + (tmp_ / "grey16.json") + "' --margins auto");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("m.pt' failed on a batch of shape ["), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(", 1, 16, 16]"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("Traceback (most recent"), std::string::npos) << r.err;
  // An image whose logits are Inf is named; the head is not blamed.
  testing::WriteHeadModel(tmp_ / "inf.pt", "inf_white", 64, 3);
  WriteText(tmp_ / "id/1_cls/white.pgm", "P5\n8 8\n255\n" + std::string(64, '\xff'));
  r = Cli("fit -q --model '" + (tmp_ / "inf.pt") + "' --preset '" + (tmp_ / "grey8.json") +
          "' --train '" + (tmp_ / "id") + "' -o '" + (tmp_ / "x.fit") + "'");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("NaN or Inf logits for '" + (tmp_ / "id/1_cls/white.pgm") + "'"),
            std::string::npos)
      << r.err;
  for (const char* noise : {"Traceback (most recent", "frame #", "head '"}) {
    EXPECT_EQ(r.err.find(noise), std::string::npos) << noise << "\n" << r.err;
  }
}

// A zip archive holding `names` (stored, empty entries), as torch.save and torch.jit.save
// write them; CRCs are left 0 (nothing here checks them).
std::string ZipOf(const std::vector<std::string>& names) {
  const auto le = [](std::uint64_t v, int bytes) {
    std::string out;
    for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
    return out;
  };
  std::string local, central;
  for (const std::string& n : names) {
    central += le(0x02014b50, 4) + le(20, 2) + le(20, 2) + std::string(20, '\0') + le(n.size(), 2) +
               std::string(12, '\0') + le(local.size(), 4) + n;
    local += le(0x04034b50, 4) + le(20, 2) + std::string(20, '\0') + le(n.size(), 2) + le(0, 2) + n;
  }
  return local + central + le(0x06054b50, 4) + std::string(4, '\0') + le(names.size(), 2) +
         le(names.size(), 2) + le(central.size(), 4) + le(local.size(), 4) + le(0, 2);
}

// Files that are not TorchScript, given as --model, are named as what they are, with what to
// do instead of LibTorch's own words.
TEST_F(HostileTest, ANonTorchScriptModelFileIsNamedAsWhatItIs) {
  WriteText(tmp_ / "state_dict.pt",
            ZipOf({"archive/data.pkl", "archive/data/0", "archive/version", "archive/byteorder"}));
  WriteText(tmp_ / "legacy.pt", std::string("\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.", 15));
  WriteText(tmp_ / "card.json", R"({"kind": "oodscore-card", "score": "energy", "threshold": -3})");
  WriteText(tmp_ / "notes.csv", "path,score\na.png,1\n");
  WriteText(tmp_ / "empty.pt", "");
  WriteText(tmp_ / "m.fit", "OODSCORE-FIT 2\n{}\n");
  struct Case {
    std::string file, message;
  };
  const std::vector<Case> cases = {
      {"state_dict.pt",
       "is a torch.save() pickle (a state_dict or a whole nn.Module), not a TorchScript model: "
       "export it in Python with torch.jit.script(model).save(\"model.pt\")"},
      {"legacy.pt", "is a Python pickle (torch.save()'s legacy format"},
      {"card.json", "is a detector card (made by `calibrate` or `eval`): give it to --card"},
      {"notes.csv", "is a text file, not a TorchScript model"},
      {"empty.pt", "is empty"},
      {"m.fit", "is an oodscore fit file (made by `oodscore fit`): give it to --fit"},
  };
  for (const Case& c : cases) {
    auto r = Cli("score -q --model '" + (tmp_ / c.file) + "' --preset '" + (tmp_ / "grey8.json") +
                 "' -i '" + (tmp_ / "far") + "' -o -");
    EXPECT_EQ(r.exit_code, 3) << c.file << "\n" << r.err;
    EXPECT_NE(r.err.find("model file '" + (tmp_ / c.file) + "' " + c.message), std::string::npos)
        << c.file << "\n"
        << r.err;
    EXPECT_EQ(r.err.find("PytorchStreamReader"), std::string::npos) << r.err;
  }
  // A TorchScript archive's directory (code/, constants.pkl) passes the check.
  WriteText(tmp_ / "ts.pt", ZipOf({"ts/data.pkl", "ts/code/__torch__.py", "ts/constants.pkl"}));
  auto r = Cli("score -q --model '" + (tmp_ / "ts.pt") + "' --preset '" + (tmp_ / "grey8.json") +
               "' -i '" + (tmp_ / "far") + "' -o -");
  EXPECT_NE(r.err.find("cannot load TorchScript model"), std::string::npos) << r.err;
}

// finetune's inputs: what is wrong is said as it is, and blamed on the flag that caused it.
// A preset without a fixed size (ToTensor + Normalize, as for MNIST): finetune trains at the
// first training image's size, and names an image of another size.
TEST_F(HostileTest, FinetuneWithoutAFixedSizeTakesTheFirstImagesSize) {
  WriteText(tmp_ / "plain.json", R"({"name": "plain", "mode": "L", "resize": null, "crop": null, )"
                                 R"("interpolation": "bilinear", "mean": [0.5], "std": [0.25]})");
  for (int i = 0; i < 6; ++i) {
    testing::WritePnm(tmp_ / ("aux8/" + std::to_string(i) + ".pgm"), 8, 8, 1, 500 + i);
  }
  const std::string tune = "finetune --model '" + (tmp_ / "m.pt") + "' --preset '" +
                           (tmp_ / "plain.json") + "' --train '" + (tmp_ / "id") +
                           "' --epochs 1 --threads 1 --m-in -10 --m-out -2 --aux ";
  auto r = Cli(tune + "'" + (tmp_ / "aux8") + "' -o '" + (tmp_ / "t.pt") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("preset 'plain' has no fixed output size (no resize to [h, w], no crop): "
                       "finetune trains at 1x8x8, the size of the first training image"),
            std::string::npos)
      << r.err;
  // The OOD images are 16x12: named, with the size they would need.
  r = Cli(tune + "'" + (tmp_ / "far") + "' -o '" + (tmp_ / "t2.pt") + "'");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find(".ppm' comes out of the preset at 1x12x16, not at 1x8x8 (the size of the "
                       "first training image '"),
            std::string::npos)
      << r.err;
}

TEST_F(HostileTest, FinetuneNamesWhatIsWrongWithItsInputs) {
  const std::string tune = "finetune " + Common() + "--aux '" + (tmp_ / "far") +
                           "' --epochs 1 --threads 1 --m-in -10 --m-out -2 -o '" + (tmp_ / "t.pt") +
                           "' --train ";
  // A flat folder has no classes, which is what is missing (not images).
  auto r = Cli(tune + "'" + (tmp_ / "far") + "'");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("far' has no class subfolders: its 12 images lie directly in it"),
            std::string::npos)
      << r.err;
  // One class folder for a 3-class model: a warning.
  std::filesystem::create_directories(tmp_ / "one/a");
  std::filesystem::copy_file(tmp_ / "id/0_cls/0.pgm", tmp_ / "one/a/0.pgm");
  r = Cli(tune + "'" + (tmp_ / "one") + "' --batch-size 1 --aux-batch-size 1");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("--train has 1 class folder(s), the model 3 classes"), std::string::npos)
      << r.err;
  // A batch too large for memory is blamed on the flag that makes it so.
  r = Cli(tune + "'" + (tmp_ / "id") + "' --aux-batch-size 2000000000");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("error --aux-batch-size 2000000000 needs "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--aux-batch-size "), std::string::npos) << r.err;
  // Numbers in messages are short: no 309-digit temperature.
  r = Cli("score -q " + Common() + "-T -1e308 -i '" + (tmp_ / "far") + "' -o -");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--temperature: must be a finite number > 0, got -1e+308"),
            std::string::npos)
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
  EXPECT_NE(r.err.find("bad.json': /threshold must be a finite number, got \"low\""),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("json.exception"), std::string::npos) << r.err;
}

// Fit files are untrusted input (issue 17): each test damages a fit that `oodscore fit` made
// for the fixture's headed model (its head "fc": 3 classes x 16 features).
class HostileFitTest : public HostileTest {
 protected:
  void SetUp() override {
    HostileTest::SetUp();
    testing::WriteHeadModel(tmp_ / "h.pt", "mlp", 64, 3);
    const auto r = Cli("fit -q " + Headed() + "--train '" + (tmp_ / "id") +
                       "' --knn-k 3 --nnguide-k 3 -o '" + (tmp_ / "h.fit") + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string text = ReadText(tmp_ / "h.fit");
    const std::size_t a = text.find('\n'), b = text.find('\n', a + 1);
    header_ = nlohmann::json::parse(text.substr(a + 1, b - a - 1));
    data_ = text.substr(b + 1);
  }
  std::string Headed() {
    return "--model '" + (tmp_ / "h.pt") + "' --preset '" + (tmp_ / "grey8.json") + "' ";
  }
  // Writes the fit tmp_/name from a header line and the data; returns its path.
  std::string Write(const std::string& name, const std::string& header, const std::string& data) {
    WriteText(tmp_ / name, "OODSCORE-FIT 2\n" + header + "\n" + data);
    return tmp_ / name;
  }
  // `score` of the far images with `--fit fit`, under `timeout` so that a hang fails the test
  // instead of stopping the suite.
  testing::RunResult ScoreWith(const std::string& fit) {
    const std::string out = tmp_ / "stdout.txt", err = tmp_ / "stderr.txt";
    const std::string cmd = std::string("timeout 120 '") + OODSCORE_BINARY + "' score -q " +
                            Headed() + "--fit '" + fit + "' -i '" + (tmp_ / "far") + "' -o '" +
                            (tmp_ / "s.csv") + "' >'" + out + "' 2>'" + err + "' </dev/null";
    const int status = std::system(cmd.c_str());
    testing::RunResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = ReadText(out);
    r.err = ReadText(err);
    return r;
  }
  // The index of array `name` in the header's /arrays.
  std::size_t Index(const std::string& name) const {
    for (std::size_t i = 0; i < header_["arrays"].size(); ++i) {
      if (header_["arrays"][i]["name"] == name) return i;
    }
    ADD_FAILURE() << "no array " << name;
    return 0;
  }
  std::uint64_t Offset(const std::string& name) const {
    return header_["arrays"][Index(name)]["offset"].get<std::uint64_t>();
  }
  nlohmann::json header_;
  std::string data_;
};

TEST_F(HostileFitTest, FitThatIsAFifoOrAFolderIsRefusedWithoutBlocking) {
  ASSERT_EQ(::mkfifo((tmp_ / "pipe.fit").c_str(), 0600), 0);
  std::filesystem::create_directories(tmp_ / "dir.fit");
  for (const auto& [name, kind] : std::vector<std::pair<std::string, std::string>>{
           {"pipe.fit", "a FIFO"}, {"dir.fit", "a directory"}}) {
    const auto r = ScoreWith(tmp_ / name);
    EXPECT_EQ(r.exit_code, 3) << name << ": " << r.err;
    EXPECT_NE(r.err.find("fit file '" + (tmp_ / name) + "': not a regular file (" + kind + ")"),
              std::string::npos)
        << r.err;
  }
}

TEST_F(HostileFitTest, DeeplyNestedPresetIsRefusedNotACrash) {
  nlohmann::json h = header_;
  h["preset"] = "@deep@";
  std::string text = h.dump();
  text.replace(text.find("\"@deep@\""), 8, std::string(200000, '[') + std::string(200000, ']'));
  const auto r = ScoreWith(Write("deep.fit", text, data_));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("deep.fit' has a damaged header (line 2): too deeply nested (more than 64 "
                       "levels) at line 2, column "),
            std::string::npos)
      << r.err;
}

TEST_F(HostileFitTest, HeaderFieldsOfTheWrongTypeNameTheField) {
  struct Case {
    std::string pointer;
    nlohmann::json value;  // null: the field is removed
    std::string says;
  };
  const std::string bank = "/arrays/" + std::to_string(Index("knn_bank"));
  const std::vector<Case> cases = {
      {"/model_sha256", 3, "/model_sha256 must be a SHA-256 in hex, got 3"},
      {"/head/dim", "wide", "/head/dim must be a count, got \"wide\""},
      {"/vim_alpha", nullptr, "missing /vim_alpha (a number)"},
      {bank + "/offset", -1, bank + "/offset must be a byte offset, got -1"},
      {bank + "/shape", {12, 17}, bank + "/shape must be [12,16]"},
  };
  for (const Case& c : cases) {
    nlohmann::json h = header_;
    const nlohmann::json::json_pointer ptr(c.pointer);
    if (c.value.is_null()) {
      h[ptr.parent_pointer()].erase(ptr.back());
    } else {
      h[ptr] = c.value;
    }
    const auto r = ScoreWith(Write("bad.fit", h.dump(), data_));
    EXPECT_EQ(r.exit_code, 3) << c.pointer << ": " << r.err;
    EXPECT_NE(r.err.find("bad.fit' has a damaged header (line 2): " + c.says), std::string::npos)
        << r.err;
    EXPECT_EQ(r.err.find("json.exception"), std::string::npos) << r.err;
  }
}

TEST_F(HostileFitTest, ArraysThatOverlapOrLieBeyondTheDataAreRefused) {
  // The header claims a 13th bank row: the bank would run into the next array.
  nlohmann::json h = header_;
  const std::size_t bank = Index("knn_bank");
  h["train_samples"] = 13;
  h["bank_rows"] = 13;  // the bank's rows, recorded beside the training images'
  h["arrays"][bank]["shape"] = {13, 16};
  h["arrays"][bank]["bytes"] = 13 * 16 * 4;
  const std::size_t probs = Index("relation_probs");  // [bank_rows, classes]: 13 rows too
  h["arrays"][probs]["shape"] = {13, 3};
  h["arrays"][probs]["bytes"] = 13 * 3 * 4;
  auto r = ScoreWith(Write("rows.fit", h.dump(), data_));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  const std::uint64_t from = Offset("knn_bank");
  EXPECT_NE(r.err.find("rows.fit': array 'knn_bank' (bytes " + std::to_string(from) + " to " +
                       std::to_string(from + 13 * 16 * 4) +
                       " of the data) runs into array 'vim_origin' (from byte " +
                       std::to_string(Offset("vim_origin")) + ")"),
            std::string::npos)
      << r.err;
  // An offset near 2^64 is named as given, not wrapped.
  h = header_;
  h["arrays"][Index("vim_origin")]["offset"] = std::numeric_limits<std::uint64_t>::max();
  r = ScoreWith(Write("far.fit", h.dump(), data_));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("far.fit' has a damaged header (line 2): /arrays/" +
                       std::to_string(Index("vim_origin")) +
                       "/offset 18446744073709551615 (array 'vim_origin') is past the end of "
                       "the data, which holds " +
                       std::to_string(data_.size()) + " bytes"),
            std::string::npos)
      << r.err;
}

TEST_F(HostileFitTest, NanOrInfInAnyArrayIsRefusedWithTheArrayAndElement) {
  struct Case {
    std::string array;
    std::size_t element;
    double value;
    std::string says;
  };
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  const std::vector<Case> cases = {
      {"precision", 17, nan, "NaN"},     {"class_means", 5, inf, "Inf"},
      {"knn_bank", 7, nan, "NaN"},       {"head_weight", 3, -inf, "-Inf"},
      {"head_bias", 1, nan, "NaN"},      {"vim_origin", 2, inf, "Inf"},
      {"vim_complement", 9, nan, "NaN"},
  };
  for (const Case& c : cases) {
    std::string data = data_;
    const auto& rec = header_["arrays"][Index(c.array)];
    const std::size_t at = Offset(c.array) + c.element * (rec["dtype"] == "f4" ? 4 : 8);
    if (rec["dtype"] == "f4") {
      const float v = static_cast<float>(c.value);
      std::memcpy(&data[at], &v, 4);
    } else {
      std::memcpy(&data[at], &c.value, 8);
    }
    const auto r = ScoreWith(Write("bad.fit", header_.dump(), data));
    EXPECT_EQ(r.exit_code, 3) << c.array << ": " << r.err;
    EXPECT_NE(r.err.find("fit file '" + (tmp_ / "bad.fit") + "': array '" + c.array + "' holds " +
                         c.says + " at element " + std::to_string(c.element)),
              std::string::npos)
        << r.err;
  }
}

// A fit for another head, consistent in itself and claiming this model: scored at the
// model's width it would be read wrongly (past its end, for the wider one).
DetectorFit ForHead(DetectorFit f, int classes, int dim) {
  f.head.classes = classes;
  f.head.dim = dim;
  f.vim_dim = f.settings.vim_dim = dim / 2;
  const std::size_t k = classes, d = dim, n = f.train_samples;
  f.head.weight.assign(k * d, 0.01f);
  f.head.bias.assign(k, 0.0f);
  f.class_means.assign(k * d, 0.0);
  f.class_counts.assign(k, 4);
  f.precision.assign(d * d, 0.0);
  f.bank.assign(n * d, 0.1f);
  f.vim_origin.assign(d, 0.0);
  f.vim_complement.assign(d * (d - f.vim_dim), 0.0);
  f.train_mean.assign(d, 0.0);
  f.rmds_precision.assign(d * d, 0.0);
  f.she_means.assign(k * d, 0.0);
  f.she_counts.assign(k, 4);
  f.klm_templates.assign(k * k, 1.0 / classes);
  f.relation_probs.assign(n * k, 1.0f / classes);
  f.nnguide_bank.assign(static_cast<std::size_t>(f.nnguide_rows) * d, 0.1f);
  return f;
}

TEST_F(HostileFitTest, FitForAnotherFeatureWidthOrClassCountIsRefused) {
  const DetectorFit fit = ReadFit(tmp_ / "h.fit");
  ASSERT_EQ(fit.head.dim, 16);
  ASSERT_EQ(fit.head.classes, 3);
  struct Case {
    std::string name;
    int classes, dim;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"wide.fit", 3, 32, "was made for features of width 32, but the model's head takes 16"},
      {"narrow.fit", 3, 8, "was made for features of width 8, but the model's head takes 16"},
      {"five.fit", 5, 16, "was made for 5 classes, but the model returns 3"},
  };
  for (const Case& c : cases) {
    WriteFit(tmp_ / c.name, ForHead(fit, c.classes, c.dim));
    const auto r = ScoreWith(tmp_ / c.name);
    EXPECT_EQ(r.exit_code, 3) << c.name << ": " << r.err;
    EXPECT_NE(r.err.find("fit file '" + (tmp_ / c.name) + "' " + c.says +
                         ": run `oodscore fit` on this model"),
              std::string::npos)
        << r.err;
  }
}

// Issue 17: score files and stamps must prove they belong together.

// The CSV's lines, and the text of lines [0, n).
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  for (std::size_t b = 0; b < text.size();) {
    const std::size_t e = text.find('\n', b);
    lines.push_back(text.substr(b, e - b + 1));
    b = e + 1;
  }
  return lines;
}
std::string FirstLines(const std::string& text, std::size_t n) {
  std::string out;
  const auto lines = Lines(text);
  for (std::size_t i = 0; i < n && i < lines.size(); ++i) out += lines[i];
  return out;
}

TEST_F(HostileTest, ScoreFilesEditedAfterTheirRunAreNamedByTheirDigest) {
  // A complete single run of the fixture's two sets (24 rows, batches of 5) into tmp_/NAME.
  auto score = [&](const std::string& name, const std::string& extra = "") {
    return Cli("score -q " + Common() + "--batch-size 5 -i id='" + (tmp_ / "id") + "' -i far='" +
               (tmp_ / "far") + "' -o '" + (tmp_ / name) + "' " + extra);
  };
  ASSERT_EQ(score("s.csv").exit_code, 0);
  const std::string csv = tmp_ / "s.csv", text = ReadText(csv);
  const auto stamp = nlohmann::json::parse(ReadText(csv + ".json"));
  ASSERT_EQ(stamp["csv_bytes"], text.size());
  ASSERT_EQ(stamp["csv_sha256"], Sha256Hex(text));
  auto metrics = [&] {
    return Cli("metrics -q '" + csv + "' --id id --out-dir '" + (tmp_ / "m") + "'");
  };
  auto eval = [&] {
    return Cli("eval -q --from-scores '" + csv + "' --out-dir '" + (tmp_ / "e") + "'");
  };
  ASSERT_EQ(metrics().exit_code, 0);
  ASSERT_EQ(eval().exit_code, 0);
  const std::string changed = "'" + csv + "' was changed after its run wrote it: ";
  auto lines = Lines(text);
  // A value, a path, a set name: the length may stay the same, the SHA-256 does not.
  std::string value = lines[3];
  value[value.size() - 2] = value[value.size() - 2] == '1' ? '2' : '1';
  std::string path = lines[3];
  path[path.find(".pgm") - 1] = 'x';
  ASSERT_EQ(lines[20].rfind("far,", 0), 0u);
  std::string set = lines[20];
  set.replace(0, 3, "fax");
  for (const std::string& edited : {value, path, set}) {
    std::string t = text;
    const std::string& original = edited == set ? lines[20] : lines[3];
    t.replace(t.find(original), original.size(), edited);
    WriteText(csv, t);
    for (const auto& r : {metrics(), eval()}) {
      EXPECT_EQ(r.exit_code, 3) << r.err;
      EXPECT_NE(r.err.find(changed + "its SHA-256 is " + Sha256Hex(t) + ", but its stamp '" + csv +
                           ".json' records " + Sha256Hex(text)),
                std::string::npos)
          << r.err;
    }
  }
  // A row given twice: the length tells.
  WriteText(csv, text + lines.back());
  auto r = metrics();
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(
      r.err.find(changed + "it holds " + std::to_string(text.size() + lines.back().size()) +
                 " bytes, but its stamp '" + csv + ".json' records " + std::to_string(text.size())),
      std::string::npos)
      << r.err;
  WriteText(csv, text);
  EXPECT_EQ(metrics().exit_code, 0);
}

TEST_F(HostileTest, SwappedShardsOfEqualSizeAreRefused) {
  // 24 samples in 5 batches over 4 shards: shards 0, 1 and 2 hold 5 rows each.
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(ScoreShard(Common(), std::to_string(i) + "/4", "s").exit_code, 0);
  }
  const std::string a = tmp_ / "s/0.csv", b = tmp_ / "s/1.csv";
  const std::string ta = ReadText(a), tb = ReadText(b);
  ASSERT_EQ(Lines(ta).size(), Lines(tb).size());
  WriteText(a, tb);
  WriteText(b, ta);
  auto r = Cli("metrics -q '" + (tmp_ / "s") + "' --id id --out-dir '" + (tmp_ / "m") + "'");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("'" + a + "' was changed after its run wrote it"), std::string::npos)
      << r.err;
  r = Cli("eval -q --from-scores '" + (tmp_ / "s") + "' --out-dir '" + (tmp_ / "e") + "'");
  EXPECT_EQ(r.exit_code, 3) << r.err;
}

TEST_F(HostileTest, ResumeChecksTheRowsItKeepsAgainstTheDigest) {
  // A complete single run of the fixture's two sets (24 rows, batches of 5) into tmp_/NAME.
  auto score = [&](const std::string& name, const std::string& extra = "") {
    return Cli("score -q " + Common() + "--batch-size 5 -i id='" + (tmp_ / "id") + "' -i far='" +
               (tmp_ / "far") + "' -o '" + (tmp_ / name) + "' " + extra);
  };
  ASSERT_EQ(score("whole.csv").exit_code, 0);
  const std::string whole = ReadText(tmp_ / "whole.csv");
  const auto complete = nlohmann::json::parse(ReadText(tmp_ / "whole.csv.json"));
  const std::string csv = tmp_ / "p.csv";
  auto resume = [&] { return score("p.csv", "--resume"); };
  // A complete file with a row edited is not "already complete".
  std::string t = whole;
  t[t.size() - 2] = t[t.size() - 2] == '1' ? '2' : '1';
  WriteText(csv, t);
  WriteText(csv + ".json", complete.dump());
  auto r = resume();
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("--resume: '" + csv +
                       "' was changed after its run wrote it: its SHA-256 is " + Sha256Hex(t)),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("remove it to start over"), std::string::npos) << r.err;
  // A complete stamp over a file cut to 13 rows: refused, with a digest or (an earlier
  // release's stamp) by the row count.
  WriteText(csv, FirstLines(whole, 14));
  r = resume();
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("was changed after its run wrote it: it holds"), std::string::npos) << r.err;
  nlohmann::json old = complete;
  old.erase("csv_bytes");
  old.erase("csv_sha256");
  WriteText(csv + ".json", old.dump());
  r = resume();
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("--resume: '" + csv + "' holds 13 rows, but its stamp '" + csv +
                       ".json' says the complete run wrote 24"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("records no SHA-256 of the rows"), std::string::npos) << r.err;
  // A stopped run's stamp vouches for the rows it flushed (here 2 batches, 10 rows): an edit
  // there is refused; rows after them are scored again, so the edited row 12 is not kept.
  nlohmann::json stopped = complete;
  for (const char* k : {"rows", "sets", "num_classes"}) stopped.erase(k);
  stopped["complete"] = false;
  const std::string flushed = FirstLines(whole, 11);
  stopped["csv_bytes"] = flushed.size();
  stopped["csv_sha256"] = Sha256Hex(flushed);
  std::string later = FirstLines(whole, 14);
  const std::string row12 = Lines(whole)[12];
  std::string edited12 = row12;
  edited12[edited12.size() - 2] = edited12[edited12.size() - 2] == '1' ? '2' : '1';
  later.replace(later.find(row12), row12.size(), edited12);
  WriteText(csv, later);
  WriteText(csv + ".json", stopped.dump());
  r = resume();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(ReadText(csv) == whole);
  // The same stamp but for the command line that wrote it (this one had --resume).
  nlohmann::json resumed = nlohmann::json::parse(ReadText(csv + ".json")), whole_stamp = complete;
  EXPECT_NE(resumed.at("argv"), whole_stamp.at("argv"));
  resumed.erase("argv");
  whole_stamp.erase("argv");
  EXPECT_EQ(resumed, whole_stamp);
  EXPECT_EQ(Cli("metrics -q '" + csv + "' --id id --out-dir '" + (tmp_ / "m") + "'").exit_code, 0);
  std::string early = FirstLines(whole, 14);
  const std::string row5 = Lines(whole)[5];
  std::string edited5 = row5;
  edited5[edited5.size() - 2] = edited5[edited5.size() - 2] == '1' ? '2' : '1';
  early.replace(early.find(row5), row5.size(), edited5);
  WriteText(csv, early);
  WriteText(csv + ".json", stopped.dump());
  r = resume();
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("--resume: '" + csv +
                       "' was changed after its run wrote it: the SHA-256 of its first " +
                       std::to_string(flushed.size()) + " bytes"),
            std::string::npos)
      << r.err;
}

TEST_F(HostileTest, StampCountsThatContradictTheRowsAreRefused) {
  // A complete single run of the fixture's two sets (24 rows, batches of 5) into tmp_/NAME.
  auto score = [&](const std::string& name, const std::string& extra = "") {
    return Cli("score -q " + Common() + "--batch-size 5 -i id='" + (tmp_ / "id") + "' -i far='" +
               (tmp_ / "far") + "' -o '" + (tmp_ / name) + "' " + extra);
  };
  ASSERT_EQ(score("s.csv").exit_code, 0);
  const std::string csv = tmp_ / "s.csv";
  const auto stamp = nlohmann::json::parse(ReadText(csv + ".json"));
  ASSERT_EQ(stamp["sets"][1]["name"], "far");
  ASSERT_EQ(stamp["sets"][1]["scored"], 12);
  auto metrics = [&] {
    return Cli("metrics -q '" + csv + "' --id id --out-dir '" + (tmp_ / "m") + "'");
  };
  // More scored than found.
  nlohmann::json j = stamp;
  j["sets"][1]["scored"] = 13;
  j["rows"] = 25;
  WriteText(csv + ".json", j.dump());
  auto r = metrics();
  EXPECT_EQ(r.exit_code, 3) << r.err;
  j["rows"] = 24;
  WriteText(csv + ".json", j.dump());
  r = metrics();
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("stamp '" + csv +
                       ".json' records set 'far' with 13 scored and 0 skipped of 12 found"),
            std::string::npos)
      << r.err;
  // Counts that add up, but not to the file's rows.
  j = stamp;
  j["sets"][1]["scored"] = 11;
  j["sets"][1]["skipped"] = 1;
  WriteText(csv + ".json", j.dump());
  r = metrics();
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("'" + csv + "' holds 12 rows of set 'far', but its stamp '" + csv +
                       ".json' records 11 scored"),
            std::string::npos)
      << r.err;
  r = Cli("eval -q --from-scores '" + csv + "' --out-dir '" + (tmp_ / "e") + "'");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("holds 12 rows of set 'far'"), std::string::npos) << r.err;
}

TEST_F(HostileTest, AStoppedRunSaysHowToFinishIt) {
  // A complete single run of the fixture's two sets (24 rows, batches of 5) into tmp_/NAME.
  auto score = [&](const std::string& name, const std::string& extra = "") {
    return Cli("score -q " + Common() + "--batch-size 5 -i id='" + (tmp_ / "id") + "' -i far='" +
               (tmp_ / "far") + "' -o '" + (tmp_ / name) + "' " + extra);
  };
  ASSERT_EQ(score("s.csv").exit_code, 0);
  const std::string csv = tmp_ / "s.csv";
  nlohmann::json stamp = nlohmann::json::parse(ReadText(csv + ".json"));
  for (const char* k : {"rows", "sets", "num_classes"}) stamp.erase(k);
  stamp["complete"] = false;
  WriteText(csv + ".json", stamp.dump());
  auto r = Cli("eval -q --from-scores '" + csv + "' --out-dir '" + (tmp_ / "e") + "'");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("'" + csv + "' is from a stopped run: its stamp '" + csv +
                       ".json' marks it incomplete"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("`oodscore score --resume -o '" + csv + "'`"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("needs the stamps"), std::string::npos) << r.err;
  r = Cli("metrics -q '" + csv + "' --id id --out-dir '" + (tmp_ / "m") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = nlohmann::json::parse(ReadText(tmp_ / "m/report.json"));
  bool said = false;
  for (const auto& w : report["warnings"]) {
    said = said || w.get<std::string>().find("'" + csv + "' is from a stopped run") == 0;
  }
  EXPECT_TRUE(said) << report["warnings"];
}

TEST_F(HostileTest, StampFieldsOfTheWrongTypeNameTheStampAndTheField) {
  // A complete single run of the fixture's two sets (24 rows, batches of 5) into tmp_/NAME.
  auto score = [&](const std::string& name, const std::string& extra = "") {
    return Cli("score -q " + Common() + "--batch-size 5 -i id='" + (tmp_ / "id") + "' -i far='" +
               (tmp_ / "far") + "' -o '" + (tmp_ / name) + "' " + extra);
  };
  ASSERT_EQ(score("s.csv", "--odin").exit_code, 0);
  const std::string csv = tmp_ / "s.csv";
  const auto stamp = nlohmann::json::parse(ReadText(csv + ".json"));
  nlohmann::json j = stamp;
  j["odin"]["temperature"] = "hot";
  WriteText(csv + ".json", j.dump());
  auto r = Cli("eval -q --from-scores '" + csv + "' --out-dir '" + (tmp_ / "e") + "'");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("stamp '" + csv + ".json': /odin/temperature must be a number, got \"hot\""),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("unexpected JSON content"), std::string::npos) << r.err;
  // A negative shard index is refused as such, not reported as a missing shard.
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(ScoreShard(Common(), std::to_string(i) + "/2", "sh").exit_code, 0);
  }
  j = nlohmann::json::parse(ReadText(tmp_ / "sh/1.csv.json"));
  j["shard"]["index"] = -1;
  WriteText(tmp_ / "sh/1.csv.json", j.dump());
  r = Cli("metrics -q '" + (tmp_ / "sh") + "' --id id --out-dir '" + (tmp_ / "m") + "'");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("stamp '" + (tmp_ / "sh/1.csv.json") +
                       "': /shard/index must be a shard index (0 or more), got -1"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("missing"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace oodscore
