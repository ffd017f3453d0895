// The CUDA path against the CPU path. Every test skips on a machine or LibTorch build without
// CUDA (Debian's LibTorch has none); scripts/cuda_check.sh runs them on a GPU machine.
#include <gtest/gtest.h>

#include <cmath>

#include "oodscore/model.h"
#include "oodscore/score_table.h"
#include "test_models.h"
#include "test_util.h"

namespace oodscore {
namespace {

using testing::RunOodscore;
using testing::TempDir;

class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!CudaAvailable()) GTEST_SKIP() << "no CUDA device or no CUDA in this LibTorch";
  }
};

std::vector<float> Logits(const std::string& path, const ModelOptions& opt, int n, int* k) {
  auto m = Model::Load(path, opt);
  float* in = m->InputBuffer(static_cast<std::size_t>(n) * 3 * 8 * 8);
  for (int i = 0; i < n * 3 * 64; ++i) in[i] = static_cast<float>(std::sin(0.01 * i));
  std::vector<float> logits;
  m->Forward(n, 3, 8, 8, &logits, k);
  return logits;
}

TEST_F(CudaTest, ConvModelLogitsMatchTheCpu) {
  TempDir tmp;
  testing::WriteConvModel(tmp / "m.pt", 3, 5);
  ModelOptions cpu, cuda;
  cuda.device = "cuda";
  int k1 = 0, k2 = 0;
  const auto a = Logits(tmp / "m.pt", cpu, 37, &k1);
  const auto b = Logits(tmp / "m.pt", cuda, 37, &k2);
  ASSERT_EQ(k1, 5);
  ASSERT_EQ(k2, 5);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-4) << i;
}

TEST_F(CudaTest, HalfPrecisionStaysClose) {
  TempDir tmp;
  testing::WriteConvModel(tmp / "m.pt", 3, 5);
  ModelOptions cpu, half;
  half.device = "cuda";
  half.half = true;
  int k = 0;
  const auto a = Logits(tmp / "m.pt", cpu, 16, &k);
  const auto b = Logits(tmp / "m.pt", half, 16, &k);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 2e-2) << i;
}

TEST_F(CudaTest, ScoreFilesFromCpuAndCudaAgree) {
  TempDir tmp;
  testing::WriteConvModel(tmp / "m.pt", 1, 3);
  testing::WriteText(tmp / "grey8.json",
                     R"({"name": "grey8", "mode": "L", "resize": [8, 8], "crop": null,
                         "interpolation": "bilinear", "mean": [0.5], "std": [0.25]})");
  for (int i = 0; i < 40; ++i) {
    testing::WritePnm(tmp / ("id/" + std::to_string(i % 2) + "/" + std::to_string(i) + ".pgm"), 12,
                      10, 1, i);
  }
  const std::string common = "score -q --model '" + (tmp / "m.pt") + "' --preset '" +
                             (tmp / "grey8.json") + "' --batch-size 7 --input '" + (tmp / "id") +
                             "' ";
  ASSERT_EQ(
      RunOodscore(common + "--device cpu -o '" + (tmp / "cpu.csv") + "'", tmp.path()).exit_code, 0);
  auto r = RunOodscore(common + "--device cuda -o '" + (tmp / "cuda.csv") + "'", tmp.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const ScoreTable a = ReadScoreFiles({tmp / "cpu.csv"}, {/*keep_paths=*/true}),
                   b = ReadScoreFiles({tmp / "cuda.csv"}, {/*keep_paths=*/true});
  ASSERT_EQ(a.size(), 40u);
  ASSERT_EQ(b.size(), 40u);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a.Row(i).path, b.Row(i).path);
    EXPECT_EQ(a.Row(i).pred, b.Row(i).pred);
    for (std::size_t c = 0; c < a.columns.size(); ++c) {
      EXPECT_NEAR(a.Row(i).values[c], b.Row(i).values[c], 1e-4)
          << a.Row(i).path << " " << a.columns[c];
    }
  }
}

}  // namespace
}  // namespace oodscore
