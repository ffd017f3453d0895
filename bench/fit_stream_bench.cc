// `oodscore fit` at ImageNet scale: N synthetic D-dim training features (K classes) are
// written block by block to a spill file (model/feature_spill.h), as `fit` writes the scored
// images' features, never all held in memory; then FitDetectors reads them back in blocks
// with KNN's and Relation's bank a seeded sample of F x N rows. Prints one JSON object: the
// fit's seconds, the process's peak RSS (getrusage), and the fit file's size. With CHECK = 1
// the same features are also fitted from memory, as one block (N x D floats held: keep N
// small), and the largest relative difference of each float64 statistic is printed.
//
//   fit_stream_bench [N=1281167] [D=2048] [K=1000] [F=0.01] [CHECK=0] [SPILL_DIR=/tmp]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "model/feature_spill.h"
#include "oodscore/detectors.h"

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

// A fast deterministic generator (splitmix64): the detectors' cost does not depend on the
// values, so uniform noise around a class centre, ReLU'd, is enough.
struct Rng {
  std::uint64_t s;
  float Uniform() {  // [0, 1)
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return static_cast<float>((z ^ (z >> 31)) >> 40) / 16777216.0f;
  }
};

std::string Sci(double v) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.3g", v);
  return text;
}

template <typename T>
double RelativeDifference(const std::vector<T>& a, const std::vector<T>& b) {
  double scale = 0, diff = 0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    scale = std::max(scale, std::abs(static_cast<double>(a[i])));
    diff = std::max(diff, std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
  }
  return a.size() != b.size() ? INFINITY : scale > 0 ? diff / scale : diff;
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t n = argc > 1 ? std::atoll(argv[1]) : 1281167;
  const int d = argc > 2 ? std::atoi(argv[2]) : 2048;
  const int k = argc > 3 ? std::atoi(argv[3]) : 1000;
  const double fraction = argc > 4 ? std::atof(argv[4]) : 0.01;
  const bool check = argc > 5 && std::atoi(argv[5]) != 0;
  const std::filesystem::path spill_dir =
      argc > 6 ? argv[6] : std::filesystem::temp_directory_path();
  Rng rng{0};
  std::vector<float> centres(static_cast<std::size_t>(k) * d);
  for (float& v : centres) v = 2 * rng.Uniform();
  oodscore::HeadWeights head;
  head.name = "fc";
  head.classes = k;
  head.dim = d;
  head.weight.resize(static_cast<std::size_t>(k) * d);
  for (float& v : head.weight) v = 0.1f * (rng.Uniform() - 0.5f);
  head.bias.assign(static_cast<std::size_t>(k), 0.0f);
  std::vector<int> labels(static_cast<std::size_t>(n));
  std::vector<float> all;  // CHECK only
  auto start = Clock::now();
  oodscore::FeatureSpill spill(spill_dir, d);
  std::vector<float> row(d);
  for (std::int64_t i = 0; i < n; ++i) {
    labels[i] = static_cast<int>((i * 7919) % k);
    for (int j = 0; j < d; ++j) {
      row[j] = std::max(0.0f, centres[labels[i] * d + j] + 2 * rng.Uniform() - 1.2f);
    }
    spill.Append(row.data());
    if (check) all.insert(all.end(), row.begin(), row.end());
  }
  const double spill_seconds = Seconds(start);
  oodscore::DetectorSettings settings;
  settings.bank_fraction = fraction;
  const double rss_before = PeakRssMiB();
  start = Clock::now();
  const oodscore::DetectorFit fit = oodscore::FitDetectors(spill, labels.data(), head, settings);
  const double fit_seconds = Seconds(start);
  const double rss_fit = PeakRssMiB();
  const std::filesystem::path file = spill_dir / "fit_stream_bench.fit";
  oodscore::WriteFit(file, fit);
  const auto file_bytes = std::filesystem::file_size(file);
  std::filesystem::remove(file);
  std::string json =
      "{\"n\": " + std::to_string(n) + ", \"d\": " + std::to_string(d) +
      ", \"k\": " + std::to_string(k) + ", \"bank_fraction\": " + std::to_string(fraction) +
      ", \"bank_rows\": " + std::to_string(fit.bank_rows) +
      ", \"spill_gib\": " + std::to_string(static_cast<double>(n) * d * 4 / (1 << 30)) +
      ", \"spill_seconds\": " + std::to_string(spill_seconds) +
      ", \"fit_seconds\": " + std::to_string(fit_seconds) +
      ", \"peak_rss_mib_before_fit\": " + std::to_string(rss_before) +
      ", \"peak_rss_mib_after_fit\": " + std::to_string(rss_fit) +
      ", \"fit_file_mib\": " + std::to_string(file_bytes / 1048576.0);
  if (check) {
    const oodscore::DetectorFit memory =
        oodscore::FitDetectors(oodscore::MemoryFeatureRows(all.data(), n, d), labels.data(), head,
                               settings, /*block_rows=*/n);
    json +=
        ", \"max_relative_difference_to_one_block_in_memory\": {\"class_means\": " +
        Sci(RelativeDifference(memory.class_means, fit.class_means)) +
        ", \"precision\": " + Sci(RelativeDifference(memory.precision, fit.precision)) +
        ", \"rmds_precision\": " +
        Sci(RelativeDifference(memory.rmds_precision, fit.rmds_precision)) +
        ", \"train_mean\": " + Sci(RelativeDifference(memory.train_mean, fit.train_mean)) +
        ", \"vim_origin\": " + Sci(RelativeDifference(memory.vim_origin, fit.vim_origin)) +
        ", \"vim_alpha\": " + Sci(std::abs(memory.vim_alpha - fit.vim_alpha) / memory.vim_alpha) +
        ", \"she_means\": " + Sci(RelativeDifference(memory.she_means, fit.she_means)) +
        ", \"klm_templates\": " + Sci(RelativeDifference(memory.klm_templates, fit.klm_templates)) +
        ", \"clips_equal\": " +
        (memory.react_threshold == fit.react_threshold && memory.vra_low == fit.vra_low &&
                 memory.vra_high == fit.vra_high
             ? "true"
             : "false") +
        ", \"bank_equal\": " + (memory.bank == fit.bank ? "true" : "false") + "}";
  }
  json += "}";
  std::printf("%s\n", json.c_str());
  return 0;
}
