// Every file of the committed fuzz corpus (tests/fuzz/corpus/<target>/), crashes found by the
// fuzzers included, through its target once: they stay regression tests in the normal suite
// (and, built with scripts/test.sh --sanitize, under ASan and UBSan).
#include <gtest/gtest.h>

#include <filesystem>

#include "fuzz/fuzz_targets.h"
#include "test_util.h"

namespace oodscore {
namespace {

TEST(FuzzCorpusTest, EveryCorpusFileRunsCleanThroughItsTarget) {
  const std::filesystem::path root =
      std::filesystem::path(OODSCORE_SOURCE_DIR) / "tests/fuzz/corpus";
  for (const auto& target : fuzz::Targets()) {
    const auto dir = root / target.name;
    ASSERT_TRUE(std::filesystem::is_directory(dir)) << "no seed corpus for " << target.name;
    int files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      const auto bytes = testing::ReadBytes(entry.path());
      SCOPED_TRACE(entry.path().string());
      target.run(bytes.data(), bytes.size());
      ++files;
    }
    EXPECT_GT(files, 0) << target.name;
  }
}

}  // namespace
}  // namespace oodscore
