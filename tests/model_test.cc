#include "oodscore/model.h"

#include <gtest/gtest.h>

#include <cmath>

#include "oodscore/error.h"
#include "test_models.h"
#include "test_util.h"

namespace oodscore {
namespace {

using testing::TempDir;

std::string LoadError(const std::string& path, const ModelOptions& opt = {}) {
  try {
    auto m = Model::Load(path, opt);
    float* in = m->InputBuffer(2 * 12);
    for (int i = 0; i < 24; ++i) in[i] = 0.1f * i;
    std::vector<float> logits;
    int k = 0;
    m->Forward(2, 3, 2, 2, &logits, &k);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ModelTest, LinearModelGivesTheExpectedLogits) {
  TempDir tmp;
  testing::WriteLinearModel(tmp / "m.pt", 12, 4);
  auto m = Model::Load(tmp / "m.pt", {});
  float* in = m->InputBuffer(2 * 12);
  for (int i = 0; i < 24; ++i) in[i] = 0.1f * i;
  std::vector<float> logits;
  int k = 0;
  m->Forward(2, 3, 2, 2, &logits, &k);
  ASSERT_EQ(k, 4);
  ASSERT_EQ(logits.size(), 8u);
  for (int n = 0; n < 2; ++n) {
    for (int c = 0; c < 4; ++c) {
      double want = 0.1 * c;
      for (int j = 0; j < 12; ++j) {
        want +=
            static_cast<float>(0.05 * std::sin(0.37 * (c + 1) * (j + 1))) * (0.1f * (n * 12 + j));
      }
      EXPECT_NEAR(logits[n * 4 + c], want, 1e-5) << n << "," << c;
    }
  }
  EXPECT_EQ(m->device(), "cpu");
  EXPECT_EQ(m->dtype(), "float32");
}

TEST(ModelTest, FrozenAndUnfrozenAgree) {
  TempDir tmp;
  testing::WriteLinearModel(tmp / "m.pt", 12, 5);
  ModelOptions frozen, plain;
  plain.freeze = false;
  std::vector<float> a, b;
  int k = 0;
  for (auto* opt : {&frozen, &plain}) {
    auto m = Model::Load(tmp / "m.pt", *opt);
    float* in = m->InputBuffer(3 * 12);
    for (int i = 0; i < 36; ++i) in[i] = std::cos(0.3f * i);
    m->Forward(3, 3, 2, 2, opt == &frozen ? &a : &b, &k);
  }
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-6 * (1 + std::fabs(b[i])));
}

TEST(ModelTest, OptimizedConvModelIsCheckedAgainstTheFrozenOne) {
  TempDir tmp;
  testing::WriteConvModel(tmp / "conv.pt", 3, 4);
  std::vector<float> optimized, frozen;
  std::string how;
  int k = 0;
  for (bool optimize : {true, false}) {
    ModelOptions opt;
    opt.optimize = optimize;
    auto m = Model::Load(tmp / "conv.pt", opt);
    float* in = m->InputBuffer(5 * 3 * 8 * 8);
    for (int i = 0; i < 5 * 3 * 8 * 8; ++i) in[i] = std::sin(0.1f * i);
    m->Forward(5, 3, 8, 8, optimize ? &optimized : &frozen, &k);
    if (optimize) how = m->optimization();
  }
  EXPECT_EQ(how.rfind("frozen+optimize_for_inference; first-batch max change ", 0), 0u) << how;
  ASSERT_EQ(optimized.size(), 20u);
  double scale = 0;
  for (float v : frozen) scale = std::max(scale, std::fabs(double(v)));
  for (std::size_t i = 0; i < frozen.size(); ++i) {
    EXPECT_LE(std::fabs(optimized[i] - frozen[i]), kOptimizeTolerance * scale) << i;
  }
}

TEST(ModelTest, TupleOutputUsesTheFirstElement) {
  TempDir tmp;
  testing::WriteOddModel(tmp / "t.pt", "tuple", 12);
  auto m = Model::Load(tmp / "t.pt", {});
  float* in = m->InputBuffer(12);
  for (int i = 0; i < 12; ++i) in[i] = 1.0f;
  std::vector<float> logits;
  int k = 0;
  m->Forward(1, 3, 2, 2, &logits, &k);
  ASSERT_EQ(k, 3);
  for (float v : logits) EXPECT_NEAR(v, 0.12f, 1e-6);  // 12 inputs x weight 0.01
}

TEST(ModelTest, WrongOutputsSayWhatWasExpected) {
  TempDir tmp;
  testing::WriteOddModel(tmp / "v.pt", "vector", 12);
  EXPECT_EQ(
      LoadError(tmp / "v.pt"),
      "model '" + (tmp / "v.pt") +
          "' returned a Float tensor of shape [2] for a batch of 2, expected a float tensor of "
          "shape [2, K] with K >= 2 classes");
  testing::WriteOddModel(tmp / "one.pt", "one_class", 12);
  EXPECT_NE(LoadError(tmp / "one.pt").find("shape [2, 1]"), std::string::npos);
  testing::WriteOddModel(tmp / "int.pt", "int", 12);
  EXPECT_NE(LoadError(tmp / "int.pt").find("a Long tensor"), std::string::npos);
  testing::WriteOddModel(tmp / "s.pt", "string", 12);
  EXPECT_NE(LoadError(tmp / "s.pt").find("returned a value of type String"), std::string::npos)
      << LoadError(tmp / "s.pt");
}

TEST(ModelTest, InputOfTheWrongSizeNamesTheBatchShape) {
  TempDir tmp;
  testing::WriteLinearModel(tmp / "m.pt", 10, 3);
  const std::string err = LoadError(tmp / "m.pt");
  EXPECT_NE(err.find("failed on a batch of shape [2, 3, 2, 2]"), std::string::npos) << err;
}

TEST(ModelTest, MissingOrCorruptModelIsAClearError) {
  TempDir tmp;
  EXPECT_EQ(LoadError(tmp / "none.pt"),
            "model file '" + (tmp / "none.pt") + "' does not exist or is not a file");
  testing::WriteText(tmp / "junk.pt", "not a zip");
  EXPECT_EQ(LoadError(tmp / "junk.pt"),
            "model file '" + (tmp / "junk.pt") +
                "' is a text file, not a TorchScript model (a TorchScript model is a zip archive)");
  // Binary junk that no check recognises: LibTorch's reader says why.
  testing::WriteText(tmp / "bin.pt", std::string("\x01\x02\xff\xfe", 4));
  EXPECT_EQ(LoadError(tmp / "bin.pt")
                .rfind("cannot load TorchScript model '" + (tmp / "bin.pt") + "': ", 0),
            0u);
}

TEST(ModelTest, CudaOnAMachineWithoutItIsAnErrorNotACrash) {
  if (CudaAvailable()) GTEST_SKIP() << "CUDA is available here";
  TempDir tmp;
  testing::WriteLinearModel(tmp / "m.pt", 12, 3);
  ModelOptions opt;
  opt.device = "cuda";
  const std::string err = LoadError(tmp / "m.pt", opt);
  EXPECT_EQ(err.rfind("device 'cuda' requested, but ", 0), 0u) << err;
  EXPECT_NE(err.find("use --device cpu"), std::string::npos) << err;
  opt.device = "auto";
  EXPECT_EQ(LoadError(tmp / "m.pt", opt), "");
  opt.device = "tpu";
  EXPECT_EQ(LoadError(tmp / "m.pt", opt),
            "unknown device 'tpu' (expected cpu, cuda, cuda:N or auto)");
}

}  // namespace
}  // namespace oodscore
