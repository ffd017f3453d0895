// Sharded scoring: the partition (src/cli/shards.h), and shard files merged back by `metrics` and
// `eval --from-scores` through the real binary.
#include "cli/shards.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <nlohmann/json.hpp>

#include "base/sha256.h"
#include "cli_fixture.h"
#include "oodscore/error.h"

namespace oodscore {
namespace {

using testing::CliTest;
using testing::ReadText;
using testing::RunResult;
using testing::WriteText;

TEST(ShardsTest, ParsesIndexOverCountAndTheSchedulersEnvironment) {
  EXPECT_EQ(ParseShard("2/4").index, 2u);
  EXPECT_EQ(ParseShard("2/4").count, 4u);
  for (const char* bad : {"4/4", "1", "a/b", "1/0", "-1/4", "1/4/2", "", "auto/x"}) {
    EXPECT_THROW(ParseShard(bad), UsageError) << bad;
  }
  ::setenv("SLURM_ARRAY_TASK_ID", "7", 1);
  ::setenv("SLURM_ARRAY_TASK_MIN", "5", 1);
  ::setenv("SLURM_ARRAY_TASK_COUNT", "3", 1);
  EXPECT_EQ(ParseShard("auto").index, 2u);
  EXPECT_EQ(ParseShard("auto").count, 3u);
  ::setenv("SLURM_ARRAY_TASK_COUNT", "2", 1);
  EXPECT_THROW(ParseShard("auto"), UsageError);  // index 2 of 2
  ::unsetenv("SLURM_ARRAY_TASK_ID");
  ::unsetenv("SLURM_ARRAY_TASK_MIN");
  ::unsetenv("SLURM_ARRAY_TASK_COUNT");
  ::setenv("JOB_COMPLETION_INDEX", "1", 1);
  EXPECT_EQ(ParseShard("auto/4").index, 1u);
  try {
    ParseShard("auto");
    ADD_FAILURE();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--shard auto/N"), std::string::npos) << e.what();
  }
  ::unsetenv("JOB_COMPLETION_INDEX");
  EXPECT_THROW(ParseShard("auto/4"), UsageError);
}

// A variable set to garbage is named with its value, never reported as "not set".
TEST(ShardsTest, SchedulerVariablesSetToGarbageAreNamedWithTheirValue) {
  struct Case {
    const char* name;
    const char* value;
    const char* spec;
    const char* expected;
  };
  for (const Case& c : {Case{"SLURM_ARRAY_TASK_ID", "abc", "auto/4",
                             "SLURM_ARRAY_TASK_ID='abc' is not an array task index"},
                        Case{"SLURM_ARRAY_TASK_ID", "-1", "auto/4",
                             "SLURM_ARRAY_TASK_ID='-1' is not an array task index"},
                        Case{"JOB_COMPLETION_INDEX", "x", "auto/4",
                             "JOB_COMPLETION_INDEX='x' is not a job completion index"},
                        Case{"SLURM_ARRAY_TASK_COUNT", "three", "auto",
                             "SLURM_ARRAY_TASK_COUNT='three' is not an array task count"}}) {
    if (std::string(c.name) == "SLURM_ARRAY_TASK_COUNT") ::setenv("SLURM_ARRAY_TASK_ID", "0", 1);
    ::setenv(c.name, c.value, 1);
    try {
      ParseShard(c.spec);
      ADD_FAILURE() << c.name;
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(c.expected), std::string::npos) << e.what();
    }
    ::unsetenv(c.name);
    ::unsetenv("SLURM_ARRAY_TASK_ID");
  }
}

TEST(ShardsTest, ShardsAreWholeBatchesThatTileTheSamples) {
  for (std::size_t total : {0, 1, 5, 63, 64, 65, 1000, 11000}) {
    for (std::size_t batch : {1, 7, 64}) {
      for (std::size_t count : {1, 2, 3, 4, 16, 200}) {
        std::size_t next = 0;
        for (std::size_t i = 0; i < count; ++i) {
          const ShardRange r = RangeOfShard(total, batch, {i, count});
          ASSERT_EQ(r.begin, next) << total << " " << batch << " " << count << " " << i;
          ASSERT_LE(r.begin, r.end);
          ASSERT_TRUE(r.begin % batch == 0);
          ASSERT_TRUE(r.end % batch == 0 || r.end == total);
          next = r.end;
        }
        ASSERT_EQ(next, total);
      }
    }
  }
  // Balanced to a batch: 10 batches over 4 shards give 2, 3, 2, 3.
  EXPECT_EQ(RangeOfShard(640, 64, {0, 4}).end, 128u);
  EXPECT_EQ(RangeOfShard(640, 64, {1, 4}).end, 320u);
}

TEST(ShardsTest, SlicesCrossSetBoundaries) {
  std::vector<SampleSet> sets(2);
  sets[0].name = "a";
  sets[1].name = "b";
  for (int i = 0; i < 5; ++i) sets[0].samples.push_back({"a" + std::to_string(i), "", {}, 0});
  for (int i = 0; i < 3; ++i) sets[1].samples.push_back({"b" + std::to_string(i), "", {}, 0});
  const auto slice = SliceSets(sets, {3, 7});
  ASSERT_EQ(slice.size(), 2u);
  ASSERT_EQ(slice[0].samples.size(), 2u);
  EXPECT_EQ(slice[0].samples[0].path, "a3");
  EXPECT_EQ(slice[0].offset, 3u);
  ASSERT_EQ(slice[1].samples.size(), 2u);
  EXPECT_EQ(slice[1].samples[1].path, "b1");
  EXPECT_EQ(slice[1].offset, 0u);
}

class ShardCliTest : public CliTest {
 protected:
  // Scores the fixture's two sets (24 samples, batches of 5) as shard I/N into dir/I.csv.
  RunResult Shard(const std::string& spec, const std::string& dir, const std::string& extra = "") {
    return ScoreShard(Common() + extra, spec, dir);
  }
  static nlohmann::json WithoutRun(const std::string& report_json) {
    nlohmann::json j = nlohmann::json::parse(report_json);
    j.erase("run");
    return j;
  }
};

TEST_F(ShardCliTest, MergedShardsGiveTheSingleRunsReportBitForBit) {
  auto single = Cli("eval -q " + Common() + "--batch-size 5 --id id='" + (tmp_ / "id") +
                    "' --ood far='" + (tmp_ / "far") + "' --out-dir '" + (tmp_ / "single") + "'");
  ASSERT_EQ(single.exit_code, 0) << single.err;
  for (int i = 0; i < 3; ++i) {
    auto r = Shard(std::to_string(i) + "/3", "shards");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  auto merged = Cli("eval -q --from-scores '" + (tmp_ / "shards") + "' --out-dir '" +
                    (tmp_ / "merged") + "'");
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  EXPECT_EQ(ReadText(tmp_ / "single/scores.csv"), ReadText(tmp_ / "merged/scores.csv"));
  EXPECT_EQ(WithoutRun(ReadText(tmp_ / "single/report.json")),
            WithoutRun(ReadText(tmp_ / "merged/report.json")));
  EXPECT_EQ(ReadText(tmp_ / "single/report.md"), ReadText(tmp_ / "merged/report.md"));
  EXPECT_EQ(ReadText(tmp_ / "single/card-energy.json"), ReadText(tmp_ / "merged/card-energy.json"));
  // metrics pools the same shards, in shard order whatever order they are given in.
  auto m = Cli("metrics -q '" + (tmp_ / "shards/2.csv") + "' '" + (tmp_ / "shards/0.csv") + "' '" +
               (tmp_ / "shards/1.csv") + "' --id id --out-dir '" + (tmp_ / "m") + "'");
  ASSERT_EQ(m.exit_code, 0) << m.err;
  const auto a = WithoutRun(ReadText(tmp_ / "single/report.json")),
             b = WithoutRun(ReadText(tmp_ / "m/report.json"));
  EXPECT_EQ(a["ood"], b["ood"]);
  EXPECT_EQ(a["sets"], b["sets"]);
  // The failure gallery (energy: 12 ID images, 12 of far) is the single run's, thumbnails
  // read back from the paths the shards hold.
  const nlohmann::json gallery =
      nlohmann::json::parse(ReadText(tmp_ / "merged/report.json"))["gallery"];
  ASSERT_EQ(gallery["lists"].size(), 2u) << gallery;
  EXPECT_EQ(gallery["lists"][1]["items"].size(), 12u);
  EXPECT_EQ(gallery["note"], "");
  const std::string html = ReadText(tmp_ / "merged/report.html");
  std::size_t thumbnails = 0;
  for (std::size_t at = html.find("data:image/png;base64,"); at != std::string::npos;
       at = html.find("data:image/png;base64,", at + 1)) {
    ++thumbnails;
  }
  EXPECT_EQ(thumbnails, 24u);
  // Images that moved away since: the report keeps their paths and says why it has no images.
  std::filesystem::rename(tmp_ / "far", tmp_ / "far-moved");
  auto moved =
      Cli("eval -q --from-scores '" + (tmp_ / "shards") + "' --out-dir '" + (tmp_ / "moved") + "'");
  std::filesystem::rename(tmp_ / "far-moved", tmp_ / "far");
  ASSERT_EQ(moved.exit_code, 0) << moved.err;
  const nlohmann::json note =
      nlohmann::json::parse(ReadText(tmp_ / "moved/report.json"))["gallery"]["note"];
  EXPECT_EQ(note.get<std::string>().rfind("12 of the gallery's 24 images could not be read, so it "
                                          "shows their paths and scores without thumbnails",
                                          0),
            0u)
      << note;
  EXPECT_NE(moved.err.find("warning gallery: 12 of the gallery's 24 images"), std::string::npos)
      << moved.err;
  EXPECT_NE(ReadText(tmp_ / "moved/report.html").find("could not be read"), std::string::npos);
}

TEST_F(ShardCliTest, MissingDuplicatedForeignAndIncompleteShardsAreRefused) {
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Shard(std::to_string(i) + "/3", "s").exit_code, 0);
  const std::string s0 = "'" + (tmp_ / "s/0.csv") + "' ", s1 = "'" + (tmp_ / "s/1.csv") + "' ",
                    s2 = "'" + (tmp_ / "s/2.csv") + "' ";
  auto merge = [&](const std::string& files) {
    return Cli("metrics -q " + files + "--id id --out-dir '" + (tmp_ / "rep") + "'");
  };
  auto missing = merge(s0 + s2);
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_NE(missing.err.find("shard(s) 1 of 3 missing"), std::string::npos) << missing.err;
  std::filesystem::copy_file(tmp_ / "s/1.csv", tmp_ / "dup.csv");
  std::filesystem::copy_file(tmp_ / "s/1.csv.json", tmp_ / "dup.csv.json");
  auto dup = merge(s0 + s1 + s2 + "'" + (tmp_ / "dup.csv") + "' ");
  EXPECT_EQ(dup.exit_code, 3);
  EXPECT_NE(dup.err.find("shard 1 is given twice"), std::string::npos) << dup.err;
  // A shard of a run with another model (here: another temperature list) is named.
  ASSERT_EQ(Shard("1/3", "other", "-T 2 ").exit_code, 0);
  auto foreign = merge(s0 + "'" + (tmp_ / "other/1.csv") + "' " + s2);
  EXPECT_EQ(foreign.exit_code, 3);
  EXPECT_NE(foreign.err.find("'" + (tmp_ / "other/1.csv") + "' (shard 1/3) is from another run"),
            std::string::npos)
      << foreign.err;
  // A shard of a run cut in 4 does not complete a run of 3.
  ASSERT_EQ(Shard("1/4", "four").exit_code, 0);
  auto count = merge(s0 + "'" + (tmp_ / "four/1.csv") + "' " + s2);
  EXPECT_EQ(count.exit_code, 3);
  EXPECT_NE(count.err.find("belongs to a run of 4 shards"), std::string::npos) << count.err;
  // A stopped shard (stamp not complete) and a shard whose rows were cut.
  nlohmann::json stamp = nlohmann::json::parse(ReadText(tmp_ / "s/1.csv.json"));
  stamp["complete"] = false;
  WriteText(tmp_ / "s/1.csv.json", stamp.dump());
  auto stopped = merge(s0 + s1 + s2);
  EXPECT_EQ(stopped.exit_code, 3);
  EXPECT_NE(stopped.err.find("is not complete"), std::string::npos) << stopped.err;
  stamp["complete"] = true;
  WriteText(tmp_ / "s/1.csv.json", stamp.dump());
  std::string rows = ReadText(tmp_ / "s/1.csv");
  rows.resize(rows.rfind('\n', rows.size() - 2) + 1);  // drop the last row
  WriteText(tmp_ / "s/1.csv", rows);
  auto cut = merge(s0 + s1 + s2);
  EXPECT_EQ(cut.exit_code, 3);
  EXPECT_NE(cut.err.find("'" + (tmp_ / "s/1.csv") + "' was changed after its run wrote it"),
            std::string::npos)
      << cut.err;
  // Files without stamps beside shard files.
  WriteText(tmp_ / "plain.csv", "set,path,label,pred,energy,msp,maxlogit,log_msp,entropy\n");
  auto mixed = merge(s0 + "'" + (tmp_ / "plain.csv") + "' ");
  EXPECT_EQ(mixed.exit_code, 3);
  EXPECT_NE(mixed.err.find("has no shard stamp"), std::string::npos) << mixed.err;
}

TEST_F(ShardCliTest, AKilledShardResumesToTheSameFile) {
  ASSERT_EQ(Shard("1/2", "whole").exit_code, 0);
  ASSERT_EQ(Shard("1/2", "part").exit_code, 0);
  // As a run killed mid-row leaves it: a torn last line and a stamp not yet complete.
  std::string text = ReadText(tmp_ / "part/1.csv");
  text.resize(text.size() * 2 / 3);
  WriteText(tmp_ / "part/1.csv", text);
  nlohmann::json stamp = nlohmann::json::parse(ReadText(tmp_ / "part/1.csv.json"));
  for (const char* k : {"complete", "rows", "sets", "num_classes"}) stamp.erase(k);
  stamp["complete"] = false;
  // The stamp vouches for the rows flushed before the kill, not for the torn line.
  const std::string flushed = text.substr(0, text.rfind('\n') + 1);
  stamp["csv_bytes"] = flushed.size();
  stamp["csv_sha256"] = Sha256Hex(flushed);
  WriteText(tmp_ / "part/1.csv.json", stamp.dump());
  auto r = Cli("score -q " + Common() + "--batch-size 5 -i id='" + (tmp_ / "id") + "' -i far='" +
               (tmp_ / "far") + "' --shard 1/2 --resume -o '" + (tmp_ / "part/1.csv") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadText(tmp_ / "part/1.csv"), ReadText(tmp_ / "whole/1.csv"));
  EXPECT_EQ(nlohmann::json::parse(ReadText(tmp_ / "part/1.csv.json"))["sets"],
            nlohmann::json::parse(ReadText(tmp_ / "whole/1.csv.json"))["sets"]);
}

TEST_F(ShardCliTest, ALonePlainRunIsOneShard) {
  testing::WriteText(tmp_ / "far/broken.ppm", "P6\n16 12\n255\nshort");
  auto s = Cli("score -q " + Common() + "-i id='" + (tmp_ / "id") + "' -i far='" + (tmp_ / "far") +
               "' -o '" + (tmp_ / "s.csv") + "'");
  ASSERT_EQ(s.exit_code, 0) << s.err;
  auto m = Cli("metrics -q '" + (tmp_ / "s.csv") + "' --id id --out-dir '" + (tmp_ / "m") + "'");
  ASSERT_EQ(m.exit_code, 0) << m.err;
  // The stamp's counts: the unreadable file is found and skipped, as in the scoring run.
  const auto sets = nlohmann::json::parse(ReadText(tmp_ / "m/report.json"))["sets"];
  EXPECT_EQ(sets[1]["found"], 13);
  EXPECT_EQ(sets[1]["skipped"], 1);
  // eval's --max-skipped (1%) judges the stamp's counts: 1 of 13 is too many.
  auto e = Cli("eval -q --from-scores '" + (tmp_ / "s.csv") + "' --out-dir '" + (tmp_ / "e") + "'");
  EXPECT_EQ(e.exit_code, 3) << e.err;
  e = Cli("eval -q --from-scores '" + (tmp_ / "s.csv") + "' --max-skipped 10% --out-dir '" +
          (tmp_ / "e") + "'");
  EXPECT_EQ(e.exit_code, 0) << e.err;
  // A stopped run's file is still read, with a warning, by its rows alone.
  auto stamp = nlohmann::json::parse(ReadText(tmp_ / "s.csv.json"));
  stamp["complete"] = false;
  testing::WriteText(tmp_ / "s.csv.json", stamp.dump());
  auto stopped =
      Cli("metrics '" + (tmp_ / "s.csv") + "' --id id --out-dir '" + (tmp_ / "m2") + "'");
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_NE(stopped.err.find("does not record a complete run"), std::string::npos) << stopped.err;
}

TEST_F(ShardCliTest, ShardUsageErrors) {
  EXPECT_EQ(Cli("score -q " + Common() + "-i '" + (tmp_ / "far") + "' --shard 1/2").exit_code, 2);
  EXPECT_EQ(
      Cli("score -q " + Common() + "-i '" + (tmp_ / "far") + "' --shard 2/2 -o x.csv").exit_code,
      2);
  // More shards than batches: the extra shards are empty and say so; the merge still works.
  for (int i = 0; i < 8; ++i) {
    auto r = Shard(std::to_string(i) + "/8", "many");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  auto m = Cli("metrics -q '" + (tmp_ / "many") + "' --id id --out-dir '" + (tmp_ / "rep") + "'");
  EXPECT_EQ(m.exit_code, 0) << m.err;
  auto e = Cli("eval -q --from-scores '" + (tmp_ / "many") + "' " + Common() + "--out-dir x");
  EXPECT_EQ(e.exit_code, 2);
}

}  // namespace
}  // namespace oodscore
