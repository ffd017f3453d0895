#include "oodscore/csv.h"

#include <gtest/gtest.h>

#include <sstream>

#include "oodscore/error.h"

namespace oodscore {
namespace {

std::vector<std::vector<std::string>> ReadAll(const std::string& text) {
  std::istringstream in(text);
  CsvReader r(in);
  std::vector<std::vector<std::string>> out;
  std::vector<std::string> f;
  while (r.Next(&f)) out.push_back(f);
  return out;
}

TEST(CsvTest, QuotedFieldsHoldCommasQuotesAndNewlines) {
  auto rows = ReadAll("a,\"b,c\",\"say \"\"hi\"\"\"\r\n\"two\nlines\",,x\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"a", "b,c", "say \"hi\""}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"two\nlines", "", "x"}));
}

TEST(CsvTest, LineNumbersCountNewlinesInsideQuotes) {
  std::istringstream in("h\n\"a\nb\"\nc\n");
  CsvReader r(in);
  std::vector<std::string> f;
  ASSERT_TRUE(r.Next(&f));
  EXPECT_EQ(r.line(), 1u);
  ASSERT_TRUE(r.Next(&f));
  EXPECT_EQ(r.line(), 2u);
  ASSERT_TRUE(r.Next(&f));
  EXPECT_EQ(r.line(), 4u);
}

TEST(CsvTest, UnterminatedQuoteIsAnErrorWithItsLine) {
  std::istringstream in("a\n\"open,b\n");
  CsvReader r(in);
  std::vector<std::string> f;
  ASSERT_TRUE(r.Next(&f));
  try {
    r.Next(&f);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "line 2: unterminated quoted field (expected a closing '\"')");
  }
}

TEST(CsvTest, ByteOrderMarkIsSkipped) {
  auto rows = ReadAll("\xEF\xBB\xBFset,path\n");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], "set");
}

TEST(CsvTest, WriterQuotesOnlyWhenNeededAndRoundTrips) {
  std::vector<std::string> fields = {"plain", "a,b", "q\"uote", "new\nline", " lead", ""};
  std::string out;
  AppendCsvRecord(fields, &out);
  EXPECT_EQ(out, "plain,\"a,b\",\"q\"\"uote\",\"new\nline\",\" lead\",\n");
  auto back = ReadAll(out);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0], fields);
}

}  // namespace
}  // namespace oodscore
