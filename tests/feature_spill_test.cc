// The training features' spill file (src/model/feature_spill.h): what is appended reads back,
// across the write buffer's flushes, and nothing is left in the folder.
#include "model/feature_spill.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

#include "oodscore/error.h"
#include "test_util.h"

namespace oodscore {
namespace {

std::vector<std::filesystem::path> Listing(const std::filesystem::path& folder) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(folder)) files.push_back(e.path());
  return files;
}

TEST(FeatureSpillTest, ReadsBackWhatWasAppendedAndLeavesNothing) {
  testing::TempDir tmp;
  const int d = 1000;
  const std::int64_t n = 2500;  // 10 MB: the 4 MiB buffer is written out three times
  auto value = [](std::int64_t i, int j) { return static_cast<float>(i) * 0.5f - j; };
  {
    FeatureSpill spill(tmp.path(), d);
    EXPECT_TRUE(Listing(tmp.path()).empty()) << "the spill file is unlinked once open";
    std::vector<float> row(d);
    for (std::int64_t i = 0; i < n; ++i) {
      for (int j = 0; j < d; ++j) row[j] = value(i, j);
      spill.Append(row.data());
    }
    EXPECT_EQ(spill.rows(), n);
    EXPECT_EQ(spill.dim(), d);
    for (const auto& [first, count] : std::vector<std::pair<std::int64_t, std::int64_t>>{
             {0, 1}, {1040, 20}, {2499, 1}, {0, n}}) {
      std::vector<float> out(static_cast<std::size_t>(count * d), -1.0f);
      spill.Read(first, count, out.data());
      for (std::int64_t i = 0; i < count; ++i) {
        for (int j = 0; j < d; j += 97) {
          ASSERT_EQ(out[i * d + j], value(first + i, j)) << "row " << first + i << ", col " << j;
        }
      }
    }
    // Appending after a read goes on where the file ends.
    spill.Append(row.data());
    std::vector<float> last(d);
    spill.Read(n, 1, last.data());
    EXPECT_EQ(last, row);
  }
  EXPECT_TRUE(Listing(tmp.path()).empty());
}

TEST(FeatureSpillTest, NamesTheFolderItCannotWriteIn) {
  testing::TempDir tmp;
  try {
    FeatureSpill spill(tmp.path() / "missing", 4);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot make the training features' spill file '" +
                                         (tmp.path() / "missing").string()),
              std::string::npos)
        << e.what();
  }
}

TEST(FeatureSpillTest, MemoryRowsAreAView) {
  const std::vector<float> data = {1, 2, 3, 4, 5, 6};
  const MemoryFeatureRows rows(data.data(), 3, 2);
  std::vector<float> out(4);
  rows.Read(1, 2, out.data());
  EXPECT_EQ(out, (std::vector<float>{3, 4, 5, 6}));
}

}  // namespace
}  // namespace oodscore
