#include "cli/progress.h"

#include <gtest/gtest.h>

namespace oodscore {
namespace {

TEST(ProgressTest, LineFitsTheTerminalAndNamesTheSet) {
  for (int columns : {20, 40, 60, 80, 200}) {
    const std::string line = Progress::Line("fmnist-5to9", 5120, 11000, 8123.4, 0.7, columns);
    EXPECT_LT(static_cast<int>(line.size()), columns) << columns << ": " << line;
  }
  const std::string wide = Progress::Line("noise", 5120, 11000, 8123.4, 0.7, 100);
  EXPECT_EQ(wide.rfind("noise [", 0), 0u) << wide;
  EXPECT_NE(wide.find("] 5120/11000  8123 img/s  ETA 1s"), std::string::npos) << wide;
  // At 40 columns the bar gives way before the numbers do.
  const std::string narrow = Progress::Line("noise", 5120, 11000, 8123.4, 0.7, 40);
  EXPECT_NE(narrow.find("5120/11000"), std::string::npos) << narrow;
  EXPECT_EQ(Progress::Line("a-very-long-set-name-indeed", 1, 2, 1, 1, 30).find("indeed"),
            std::string::npos);
}

}  // namespace
}  // namespace oodscore
