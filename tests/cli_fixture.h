// The fixture of the tests that run the real oodscore binary: a tiny linear model, a grey 8x8
// preset, 12 ID images in 3 class folders and 12 larger RGB "far" images.
#ifndef OODSCORE_TESTS_CLI_FIXTURE_H_
#define OODSCORE_TESTS_CLI_FIXTURE_H_

#include <gtest/gtest.h>

#include <string>

#include "test_models.h"
#include "test_util.h"

namespace oodscore::testing {

constexpr const char* kPreset =
    R"({"name": "grey8", "mode": "L", "resize": [8, 8], "crop": null, "interpolation": "bilinear",
        "mean": [0.5], "std": [0.25]})";

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteLinearModel(tmp_ / "m.pt", 64, 3, 0.2);
    WriteText(tmp_ / "grey8.json", kPreset);
    // ID: class folders; OOD: a flat folder of larger, differently made images.
    for (int i = 0; i < 12; ++i) {
      testing::WritePnm(
          tmp_ / ("id/" + std::to_string(i % 3) + "_cls/" + std::to_string(i) + ".pgm"), 8, 8, 1,
          i);
      testing::WritePnm(tmp_ / ("far/" + std::to_string(i) + ".ppm"), 16, 12, 3, 1000 + 7 * i);
    }
  }
  RunResult Cli(const std::string& args) { return RunOodscore(args, tmp_.path()); }
  std::string Common() {
    return "--model '" + (tmp_ / "m.pt") + "' --preset '" + (tmp_ / "grey8.json") + "' ";
  }
  // `score` of the fixture's two sets (id, far: 24 samples) as shard SPEC ("I/N") into
  // DIR/I.csv, with the model options `model` (e.g. Common() plus flags), in batches of 5.
  RunResult ScoreShard(const std::string& model, const std::string& spec, const std::string& dir) {
    const std::string index = spec.substr(0, spec.find('/'));
    return Cli("score -q " + model + "--batch-size 5 -i id='" + (tmp_ / "id") + "' -i far='" +
               (tmp_ / "far") + "' --shard " + spec + " -o '" +
               (tmp_ / (dir + "/" + index + ".csv")) + "'");
  }
  TempDir tmp_;
};

}  // namespace oodscore::testing

#endif  // OODSCORE_TESTS_CLI_FIXTURE_H_
