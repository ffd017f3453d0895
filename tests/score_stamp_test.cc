// The score-file stamp as a typed record: stamps written by the previous release
// (tests/fixtures/stamps/, written by its `score -o`; stopped.csv.json is its plain stamp as
// written before the first row) read through the fields and write back byte for byte; wrong
// fields are named; FirstDifference; JsonField's checks.
#include "cli/score_stamp.h"

#include <gtest/gtest.h>

#include <string>

#include "base/atomic_file.h"
#include "base/json_text.h"
#include "base/sha256.h"
#include "oodscore/error.h"
#include "test_util.h"

namespace oodscore {
namespace {

std::string Fixture(const std::string& name) {
  return std::string(OODSCORE_FIXTURE_DIR) + "/stamps/" + name;
}

// The error message of reading `j` as a stamp ("" when it reads).
std::string StampError(const nlohmann::json& j) {
  try {
    ScoreStamp::FromJson(j, "x.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ScoreStampTest, StampsOfThePreviousReleaseReadAndWriteBackByteForByte) {
  int checked = 0;
  for (const char* name :
       {"plain_with_card.csv.json", "shard_skipped_non_utf8.csv.json", "stopped.csv.json"}) {
    const std::string text = ReadFile(Fixture(name));
    const ScoreStamp stamp = ReadStamp(Fixture(name));
    EXPECT_EQ(DumpJson(stamp.ToJson()) + "\n", text) << name;
    ++checked;
  }
  EXPECT_EQ(checked, 3);
}

TEST(ScoreStampTest, FieldsOfAShardWithASkippedFileAndNonUtf8Names) {
  const ScoreStamp s = ReadStamp(Fixture("shard_skipped_non_utf8.csv.json"));
  ASSERT_TRUE(s.shard);
  EXPECT_EQ(s.shard->index, 0u);
  EXPECT_EQ(s.shard->count, 1u);
  EXPECT_EQ(s.shard->end, 3u);
  EXPECT_EQ(s.temperatures, (std::vector<double>{1.0, 2.0}));
  ASSERT_EQ(s.inputs.size(), 1u);
  EXPECT_EQ(s.inputs[0].name, "odd");
  EXPECT_EQ(s.inputs[0].last, "in/\xfe_bad.png");  // the exact bytes, from last_hex
  EXPECT_EQ(s.TotalFound(), 3u);
  EXPECT_TRUE(s.complete);
  ASSERT_TRUE(s.has_counts);
  EXPECT_EQ(s.rows, 2u);
  EXPECT_EQ(s.num_classes, 5);
  ASSERT_EQ(s.sets.size(), 1u);
  EXPECT_EQ(s.sets[0].counts.scored, 2u);
  EXPECT_EQ(s.sets[0].counts.skipped, 1u);
  ASSERT_EQ(s.sets[0].skipped.size(), 1u);
  EXPECT_EQ(s.sets[0].skipped[0].path, "in/\xfe_bad.png");
  EXPECT_EQ(s.sets[0].skipped[0].set, "odd");
  EXPECT_EQ(s.sets[0].last_index, std::optional<std::size_t>(2));
}

TEST(ScoreStampTest, AStoppedRunHasNoCounts) {
  const ScoreStamp s = ReadStamp(Fixture("stopped.csv.json"));
  EXPECT_FALSE(s.complete);
  EXPECT_FALSE(s.has_counts);
  EXPECT_FALSE(s.shard);
  EXPECT_TRUE(s.card.is_object());
  EXPECT_EQ(s.ToJson().count("sets"), 0u);
  // The run's fields alone: what --resume compares.
  const nlohmann::json run = s.ToJson(/*run_only=*/true);
  EXPECT_EQ(run.count("model_path"), 0u);
  EXPECT_EQ(run.count("complete"), 0u);
  EXPECT_EQ(run.at("columns"), s.ToJson().at("columns"));
}

TEST(ScoreStampTest, WrongFieldsAreNamedWithTheStamp) {
  const nlohmann::json good =
      ParseJsonText(ReadFile(Fixture("shard_skipped_non_utf8.csv.json")), "good");
  EXPECT_EQ(StampError(good), "");
  auto with = [&](const std::string& pointer, const nlohmann::json& value) {
    nlohmann::json j = good;
    j[nlohmann::json::json_pointer(pointer)] = value;
    return StampError(j);
  };
  EXPECT_EQ(with("/shard/index", -1),
            "stamp 'x.json': /shard/index must be a shard index (0 or more), got -1");
  EXPECT_EQ(with("/rows", "2"), "stamp 'x.json': /rows must be a row count, got \"2\"");
  EXPECT_EQ(with("/inputs", nlohmann::json::object()),
            "stamp 'x.json': /inputs must be an array, got {}");
  EXPECT_EQ(with("/sets/0/scored", 2.5), "stamp 'x.json': /sets/0/scored must be a count, got 2.5");
  EXPECT_EQ(with("/complete", "yes"),
            "stamp 'x.json': /complete must be true or false, got \"yes\"");
  EXPECT_EQ(with("/fit", 3), "stamp 'x.json': /fit must be an object or null, got 3");
  EXPECT_EQ(with("/kind", "oodscore-detector-card"),
            "stamp 'x.json': missing \"kind\": \"oodscore-score-stamp\" (is it a score stamp?)");
  nlohmann::json no_index = good;
  no_index["shard"].erase("index");
  EXPECT_EQ(StampError(no_index),
            "stamp 'x.json': missing /shard/index (a shard index (0 or more))");
}

TEST(ScoreStampTest, SubFieldsThatRunsReadAreCheckedToo) {
  nlohmann::json j = ParseJsonText(ReadFile(Fixture("plain_with_card.csv.json")), "good");
  j["odin"] = {{"temperature", "hot"}, {"epsilon", 0.001}};
  EXPECT_EQ(StampError(j), "stamp 'x.json': /odin/temperature must be a number, got \"hot\"");
  j["odin"] = nullptr;
  j["fit"] = {{"path", 7}};
  EXPECT_EQ(StampError(j), "stamp 'x.json': /fit/path must be a path, got 7");
}

TEST(ScoreStampTest, TheDigestOfTheCsvReadsBackAndIsChecked) {
  testing::TempDir tmp;
  const std::string csv = tmp / "s.csv";
  const std::string text = "set,path,label,pred,energy\nid,a.png,0,0,1.5\nid,b.png,0,1,2.5\n";
  testing::WriteText(csv, text);
  ScoreStamp stamp = ReadStamp(Fixture("plain_with_card.csv.json"));
  EXPECT_FALSE(stamp.has_digest);  // an earlier release's stamp: nothing to check
  EXPECT_FALSE(VerifyCsvDigest(csv, stamp));
  EXPECT_EQ(UnverifiedWarning(csv), "'" + csv + "': its stamp '" + csv +
                                        ".json' records no SHA-256 of the rows (an earlier "
                                        "release wrote it), so they are unverified");
  stamp.has_digest = true;
  stamp.csv_bytes = text.size();
  stamp.csv_sha256 = Sha256Hex(text);
  const ScoreStamp back = ScoreStamp::FromJson(stamp.ToJson(), "x.json");
  EXPECT_TRUE(back.has_digest);
  EXPECT_EQ(back.csv_bytes, text.size());
  EXPECT_EQ(back.csv_sha256, stamp.csv_sha256);
  EXPECT_EQ(stamp.ToJson(/*run_only=*/true).count("csv_sha256"), 0u);  // not the run's
  ASSERT_TRUE(stamp.complete);
  EXPECT_TRUE(VerifyCsvDigest(csv, stamp));
  auto error = [&](const ScoreStamp& st) {
    try {
      VerifyCsvDigest(csv, st);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  // A value edited, the length kept.
  testing::WriteText(csv, "set,path,label,pred,energy\nid,a.png,0,0,1.6\nid,b.png,0,1,2.5\n");
  EXPECT_EQ(error(stamp), "'" + csv + "' was changed after its run wrote it: its SHA-256 is " +
                              Sha256Hex(ReadFile(csv)) + ", but its stamp '" + csv +
                              ".json' records " + stamp.csv_sha256);
  // A row more.
  testing::WriteText(csv, text + "id,b.png,0,1,2.5\n");
  EXPECT_EQ(error(stamp), "'" + csv + "' was changed after its run wrote it: it holds " +
                              std::to_string(text.size() + 17) + " bytes, but its stamp '" + csv +
                              ".json' records " + std::to_string(text.size()));
  // A stopped run vouches for the bytes it flushed; rows after them are not covered.
  ScoreStamp stopped = stamp;
  stopped.complete = false;
  const std::size_t first = text.find('\n') + 1;
  stopped.csv_bytes = first;
  stopped.csv_sha256 = Sha256Hex(text.substr(0, first));
  EXPECT_TRUE(VerifyCsvDigest(csv, stopped));
  testing::WriteText(csv, "set,path,label,pred,scorez\n");
  EXPECT_EQ(error(stopped),
            "'" + csv + "' was changed after its run wrote it: the SHA-256 of its first " +
                std::to_string(first) + " bytes (the rows flushed before the run stopped) is " +
                Sha256Hex("set,path,label,pred,scorez\n") + ", but its stamp '" + csv +
                ".json' records " + stopped.csv_sha256);
  testing::WriteText(csv, "set");
  EXPECT_NE(error(stopped).find("it holds 3 bytes, but its stamp '" + csv + ".json' records " +
                                std::to_string(first) + " written before the run stopped"),
            std::string::npos);
  // The digest's fields are checked like the others.
  nlohmann::json j = stamp.ToJson();
  j["csv_sha256"] = "abc";
  EXPECT_EQ(StampError(j),
            "stamp 'x.json': /csv_sha256 must be a SHA-256 in hex (64 of 0-9a-f), got \"abc\"");
  j = stamp.ToJson();
  j["csv_bytes"] = -5;
  EXPECT_EQ(StampError(j), "stamp 'x.json': /csv_bytes must be a byte count, got -5");
  j.erase("csv_bytes");
  EXPECT_EQ(StampError(j), "stamp 'x.json': missing /csv_bytes (a byte count)");
}

TEST(ScoreStampTest, FirstDifferenceNamesTheFieldAndBothValues) {
  const nlohmann::json mine = {{"a", 1}, {"b", {1, 2}}, {"c", "x"}};
  EXPECT_FALSE(FirstDifference(mine, mine));
  const auto d = FirstDifference(mine, {{"a", 1}, {"b", {1, 3}}, {"c", "y"}});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->key, "b");
  EXPECT_EQ(d->mine, "[1,2]");
  EXPECT_EQ(d->theirs, "[1,3]");
  EXPECT_EQ(FirstDifference(mine, {{"a", 1}, {"b", {1, 2}}})->theirs, "missing");
  EXPECT_FALSE(FirstDifference(mine, {{"a", 2}, {"b", {1, 2}}, {"c", "x"}}, {"a"}));
  // Long values are cut for the message.
  const auto long_value = FirstDifference({{"k", std::string(300, 'x')}}, nlohmann::json::object());
  EXPECT_EQ(long_value->mine.size(), 120u);
}

TEST(JsonFieldTest, IntegersMustBeWholeAndInRange) {
  const nlohmann::json j = {{"neg", -1},         {"half", 2.5},  {"huge", 1e300},
                            {"big", 1ULL << 40}, {"flag", true}, {"n", 7}};
  auto error = [&](auto tag, const char* pointer) {
    using T = decltype(tag);
    try {
      JsonField<T>(j, pointer, "f", "a count");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(error(std::size_t{}, "/neg"), "f: /neg must be a count, got -1");
  EXPECT_EQ(error(int{}, "/half"), "f: /half must be a count, got 2.5");
  EXPECT_EQ(error(std::size_t{}, "/huge"), "f: /huge must be a count, got 1e+300");
  EXPECT_EQ(error(int{}, "/big"), "f: /big must be a count, got 1099511627776");
  EXPECT_EQ(error(int{}, "/flag"), "f: /flag must be a count, got true");
  EXPECT_EQ(error(int{}, "/none"), "f: missing /none (a count)");
  EXPECT_EQ(JsonField<int>(j, "/neg", "f", "a number"), -1);
  EXPECT_EQ(JsonField<std::size_t>(j, "/big", "f", "a count"), 1ULL << 40);
  EXPECT_EQ(JsonField<double>(j, "/n", "f", "a number"), 7.0);
  const int fallback = 3;
  EXPECT_EQ(JsonField<int>(j, "/none", "f", "a count", &fallback), 3);
}

}  // namespace
}  // namespace oodscore
