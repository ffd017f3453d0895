#include "base/csv.h"

#include <gtest/gtest.h>

#include "oodscore/score_table.h"

namespace oodscore {
namespace {

// Reading is ReadScoreFiles' job (tests/score_table_test.cc); here, what the writer quotes.
TEST(CsvTest, WriterQuotesOnlyWhenNeededAndRoundTrips) {
  std::vector<std::string> fields = {"plain", "a,b", "q\"uote", "new\nline", " lead", ""};
  std::string out;
  AppendCsvRecord(fields, &out);
  EXPECT_EQ(out, "plain,\"a,b\",\"q\"\"uote\",\"new\nline\",\" lead\",\n");
  // Back through the score file reader: set, path, label, pred, then one score column.
  std::string text;
  AppendCsvRecord({"set", "path", "label", "pred", "energy"}, &text);
  AppendCsvRecord({"a,b", "q\"uote\nx", " lead", "", "1"}, &text);
  const ScoreTable t = ParseScoreCsv(text, "t.csv", {/*keep_paths=*/true});
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t.Row(0).set, "a,b");
  EXPECT_EQ(t.Row(0).path, "q\"uote\nx");
  EXPECT_EQ(t.Row(0).label, " lead");
}

}  // namespace
}  // namespace oodscore
