// What the feature-space detectors cost: `fit`'s statistics over N training features of D
// dims (K classes), its peak memory and file size, and each detector's scoring time per image,
// on synthetic ReLU features (the detectors' cost does not depend on the values). With a
// model, also the model's own forward pass per image (features included) in the same run, and
// D is the model's. Prints one JSON object.
//
//   detector_bench [N=50000] [D=512] [K=10] [BATCH=64] [MODEL.pt C H W]
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "oodscore/detectors.h"
#include "oodscore/model.h"

using Clock = std::chrono::steady_clock;

namespace {

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

double PeakRssMiB() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t n = argc > 1 ? std::atoll(argv[1]) : 50000;
  int d = argc > 2 ? std::atoi(argv[2]) : 512;
  int k = argc > 3 ? std::atoi(argv[3]) : 10;
  const int batch = argc > 4 ? std::atoi(argv[4]) : 64;
  std::string json = "{";
  double forward_us = 0;
  if (argc > 8) {
    const int c = std::atoi(argv[6]), h = std::atoi(argv[7]), w = std::atoi(argv[8]);
    oodscore::ModelOptions opt;
    opt.features = true;
    auto model = oodscore::Model::Load(argv[5], opt);
    std::mt19937 rng(1);
    std::normal_distribution<float> normal;
    float* in = model->InputBuffer(static_cast<std::size_t>(batch) * c * h * w);
    for (std::size_t i = 0; i < static_cast<std::size_t>(batch) * c * h * w; ++i)
      in[i] = normal(rng);
    std::vector<float> logits;
    model->Forward(batch, c, h, w, &logits, &k);  // warm-up, and the head's size
    d = model->head().dim;
    const int reps = 20;
    const auto start = Clock::now();
    for (int r = 0; r < reps; ++r) model->Forward(batch, c, h, w, &logits, &k);
    forward_us = Seconds(start) / (reps * batch) * 1e6;
    json += "\"model\": \"" + std::string(argv[5]) +
            "\", \"forward_us_per_image\": " + std::to_string(forward_us) + ", ";
  }
  // Synthetic training features: class-dependent means, ReLU'd.
  std::mt19937 rng(0);
  std::normal_distribution<float> normal;
  std::vector<float> centres(static_cast<std::size_t>(k) * d);
  for (float& v : centres) v = std::abs(normal(rng));
  std::vector<float> features(static_cast<std::size_t>(n) * d);
  std::vector<int> labels(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    labels[i] = static_cast<int>(i % k);
    for (int j = 0; j < d; ++j) {
      features[i * d + j] = std::max(0.0f, centres[labels[i] * d + j] + normal(rng));
    }
  }
  oodscore::HeadWeights head;
  head.name = "fc";
  head.classes = k;
  head.dim = d;
  head.weight.resize(static_cast<std::size_t>(k) * d);
  for (float& v : head.weight) v = 0.05f * normal(rng);
  head.bias.assign(static_cast<std::size_t>(k), 0.0f);
  const double rss_before = PeakRssMiB();
  auto start = Clock::now();
  const oodscore::DetectorFit fit =
      oodscore::FitDetectors(features.data(), labels.data(), n, head, oodscore::DetectorSettings{});
  const double fit_seconds = Seconds(start);
  const double rss_fit = PeakRssMiB();
  const std::filesystem::path file = std::filesystem::temp_directory_path() / "detector_bench.fit";
  oodscore::WriteFit(file, fit);
  const auto file_bytes = std::filesystem::file_size(file);
  std::filesystem::remove(file);
  json += "\"n\": " + std::to_string(n) + ", \"d\": " + std::to_string(d) +
          ", \"k\": " + std::to_string(k) + ", \"batch\": " + std::to_string(batch) +
          ", \"fit_seconds\": " + std::to_string(fit_seconds) +
          ", \"features_mib\": " + std::to_string(features.size() * 4 / 1048576.0) +
          ", \"peak_rss_mib_before_fit\": " + std::to_string(rss_before) +
          ", \"peak_rss_mib_after_fit\": " + std::to_string(rss_fit) +
          ", \"fit_file_mib\": " + std::to_string(file_bytes / 1048576.0) + ", \"us_per_image\": {";
  // Each detector alone, then all five, on batches of held-out features.
  std::vector<std::vector<std::string>> runs;
  for (const auto& name : oodscore::FeatureScoreNames()) runs.push_back({name});
  runs.push_back({});
  const int images = 2048;
  std::vector<float> queries(static_cast<std::size_t>(batch) * d);
  for (float& v : queries) v = std::max(0.0f, 1.0f + normal(rng));
  std::vector<double> out;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    auto scorer = oodscore::MakeFeatureScorer(fit, "cpu", runs[r]);
    scorer->Score(queries.data(), batch, &out);  // warm-up
    start = Clock::now();
    for (int done = 0; done < images; done += batch) scorer->Score(queries.data(), batch, &out);
    const double us = Seconds(start) / images * 1e6;
    json += std::string(r ? ", " : "") + "\"" + (runs[r].empty() ? "all" : runs[r][0]) +
            "\": " + std::to_string(us);
  }
  json += "}}";
  std::printf("%s\n", json.c_str());
  return 0;
}
