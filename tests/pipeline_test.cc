#include "oodscore/pipeline.h"

#include <gtest/gtest.h>

#include "oodscore/decode.h"
#include "oodscore/error.h"
#include "oodscore/npy.h"
#include "test_models.h"
#include "test_util.h"

namespace oodscore {
namespace {

using testing::TempDir;

PreprocessSpec Grey8x8() {
  PreprocessSpec spec;
  spec.mode = ColorMode::kL;
  spec.resize_h = 8;
  spec.resize_w = 8;
  spec.mean = {0.5f};
  spec.std = {0.25f};
  return spec;
}

// Scores of one [1, 1, 8, 8] input run through the model alone.
LogitScores ForwardOne(Model& model, const float* input) {
  float* in = model.InputBuffer(64);
  std::copy(input, input + 64, in);
  std::vector<float> logits;
  int k = 0;
  model.Forward(1, 1, 8, 8, &logits, &k);
  LogitScores out;
  ComputeLogitScores(logits.data(), k, {1.0}, &out);
  return out;
}

struct Collected {
  std::vector<std::string> paths;
  std::vector<LogitScores> scores;
  int batches = 0;
};

PipelineStats ScoreAll(const std::vector<SampleSet>& sets, const PreprocessSpec& spec, Model& model,
                       PipelineOptions opt, Collected* out) {
  PipelineCallbacks cb;
  cb.on_row = [&](const ScoredSample& s) {
    out->paths.push_back(s.sample->path);
    out->scores.push_back(s.scores);
  };
  cb.on_batch_end = [&] { out->batches++; };
  return RunPipeline(sets, spec, model, opt, cb);
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteLinearModel(tmp_ / "m.pt", 64, 3);
    model_ = Model::Load(tmp_ / "m.pt", {});
    for (int i = 0; i < 23; ++i) {
      testing::WritePnm(tmp_ / ("id/img" + std::to_string(100 + i) + ".pgm"), 9 + i % 5, 7 + i % 3,
                        1, i);
    }
  }
  TempDir tmp_;
  std::unique_ptr<Model> model_;
};

TEST_F(PipelineTest, RowsComeInInputOrderWhateverTheThreadCount) {
  std::vector<SampleSet> sets = {ListFolder(tmp_.path() / "id", "id")};
  Collected one, many;
  PipelineOptions opt;
  opt.batch_size = 4;
  opt.workers = 1;
  ScoreAll(sets, Grey8x8(), *model_, opt, &one);
  opt.workers = 5;
  opt.prefetch = 2;
  PipelineStats stats = ScoreAll(sets, Grey8x8(), *model_, opt, &many);
  ASSERT_EQ(one.paths.size(), 23u);
  EXPECT_EQ(one.paths, many.paths);
  for (std::size_t i = 0; i < one.scores.size(); ++i) {
    EXPECT_EQ(one.scores[i].energy, many.scores[i].energy) << i;
  }
  for (std::size_t i = 0; i < sets[0].samples.size(); ++i)
    EXPECT_EQ(one.paths[i], sets[0].samples[i].path);
  EXPECT_EQ(many.batches, 6);  // ceil(23 / 4)
  EXPECT_EQ(stats.num_classes, 3);
  EXPECT_EQ(stats.sets[0].scored, 23u);
}

TEST_F(PipelineTest, ScoresEqualTheModelOnThePreprocessedTensor) {
  std::vector<SampleSet> sets = {ListFolder(tmp_.path() / "id", "id")};
  Collected got;
  PipelineOptions opt;
  opt.batch_size = 7;
  ScoreAll(sets, Grey8x8(), *model_, opt, &got);
  // Recompute sample 5 by hand: decode, transform, forward alone, score.
  const PreprocessSpec spec = Grey8x8();
  DecodeResult d = DecodeFile(sets[0].samples[5].path, spec.mode);
  ASSERT_TRUE(d.ok());
  Image img = TransformUint8(d.image, spec);
  std::vector<float> tensor(64);
  ToTensorNormalize(img, spec, tensor.data());
  const LogitScores want = ForwardOne(*model_, tensor.data());
  EXPECT_NEAR(got.scores[5].energy[0], want.energy[0], 1e-5);
  EXPECT_EQ(got.scores[5].pred, want.pred);
}

TEST_F(PipelineTest, BadFilesAreSkippedWithTheirReason) {
  testing::WriteText(tmp_ / "id/img105.pgm", "");
  testing::WriteText(tmp_ / "id/img107.pgm", "P5\n9 7\n255\nshort");
  std::vector<SampleSet> sets = {ListFolder(tmp_.path() / "id", "id")};
  Collected got;
  PipelineStats stats = ScoreAll(sets, Grey8x8(), *model_, {}, &got);
  EXPECT_EQ(got.paths.size(), 21u);
  ASSERT_EQ(stats.skipped.size(), 2u);
  EXPECT_EQ(stats.skipped[0].path, tmp_ / "id/img105.pgm");
  EXPECT_EQ(stats.skipped[0].reason, "zero-byte file");
  EXPECT_EQ(stats.sets[0].skipped, 2u);
  PipelineOptions strict;
  strict.strict = true;
  try {
    ScoreAll(sets, Grey8x8(), *model_, strict, &got);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot read '" + (tmp_ / "id/img105.pgm") + "': zero-byte file (--strict)");
  }
}

TEST_F(PipelineTest, NpyInputSkipsDecoding) {
  std::vector<float> data(5 * 64);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = 0.01f * (i % 97);
  WriteNpy(tmp_ / "x.npy", {5, 1, 8, 8}, data.data());
  std::vector<SampleSet> sets = {ListInput(tmp_ / "x.npy", "x")};
  Collected got;
  PipelineOptions opt;
  opt.batch_size = 2;
  ScoreAll(sets, PreprocessSpec{}, *model_, opt, &got);
  ASSERT_EQ(got.paths.size(), 5u);
  const LogitScores want = ForwardOne(*model_, data.data() + 3 * 64);
  EXPECT_NEAR(got.scores[3].energy[0], want.energy[0], 1e-5);
}

TEST_F(PipelineTest, NanLogitsNameTheSample) {
  testing::WriteOddModel(tmp_ / "nan.pt", "nan", 64);
  auto nan_model = Model::Load(tmp_ / "nan.pt", {});
  std::vector<SampleSet> sets = {ListFolder(tmp_.path() / "id", "id")};
  Collected got;
  PipelineOptions opt;  // several batches, so workers are waiting on later buffers
  opt.batch_size = 4;
  opt.workers = 3;
  opt.prefetch = 2;
  try {
    ScoreAll(sets, Grey8x8(), *nan_model, opt, &got);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "model produced NaN or Inf logits for '" + sets[0].samples[0].path + "'");
  }
}

TEST_F(PipelineTest, AnErrorInALaterBatchStopsTheWorkers) {
  std::vector<SampleSet> sets = {ListFolder(tmp_.path() / "id", "id")};
  PipelineOptions opt;
  opt.batch_size = 3;
  opt.workers = 4;
  opt.prefetch = 2;
  PipelineCallbacks cb;
  int rows = 0;
  cb.on_row = [&](const ScoredSample&) {
    if (++rows == 8) throw Error("sink failed");
  };
  EXPECT_THROW(RunPipeline(sets, Grey8x8(), *model_, opt, cb), Error);
  EXPECT_EQ(rows, 8);
}

TEST_F(PipelineTest, NothingScorableIsAnError) {
  TempDir other;
  testing::WriteText(other / "a.png", "");
  std::vector<SampleSet> sets = {ListFolder(other.path(), "x")};
  Collected got;
  EXPECT_THROW(ScoreAll(sets, Grey8x8(), *model_, {}, &got), Error);
}

}  // namespace
}  // namespace oodscore
