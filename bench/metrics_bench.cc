// ComputeMetrics on n ID + n OOD scores: ID ~ normal(1, 1), OOD ~ normal(0, 1), from
// std::mt19937_64 seeded with 1 (bench/bench_metrics_sklearn.py times scikit-learn on the
// same-size data). Run: metrics_bench --benchmark_filter=ComputeMetrics/10000000
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "oodscore/metrics.h"

namespace {

void MakeScores(std::size_t n, std::vector<double>* id, std::vector<double>* ood) {
  std::mt19937_64 rng(1);
  std::normal_distribution<double> id_dist(1.0, 1.0), ood_dist(0.0, 1.0);
  id->resize(n);
  ood->resize(n);
  for (double& x : *id) x = id_dist(rng);
  for (double& x : *ood) x = ood_dist(rng);
}

void BM_ComputeMetrics(benchmark::State& state) {
  std::vector<double> id, ood;
  MakeScores(static_cast<std::size_t>(state.range(0)), &id, &ood);
  oodscore::MetricOptions options;
  for (auto _ : state) {
    oodscore::Metrics m = oodscore::ComputeMetrics(id, ood, options);
    benchmark::DoNotOptimize(m);
  }
  state.SetItemsProcessed(state.iterations() * 2 * state.range(0));
}
BENCHMARK(BM_ComputeMetrics)
    ->Arg(1000000)
    ->Arg(10000000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_ComputeMetricsBootstrap(benchmark::State& state) {
  std::vector<double> id, ood;
  MakeScores(static_cast<std::size_t>(state.range(0)), &id, &ood);
  oodscore::MetricOptions options;
  options.bootstrap = 10;
  for (auto _ : state) {
    oodscore::Metrics m = oodscore::ComputeMetrics(id, ood, options);
    benchmark::DoNotOptimize(m);
  }
}
BENCHMARK(BM_ComputeMetricsBootstrap)->Arg(1000000)->Unit(benchmark::kMillisecond)->UseRealTime();

// A report's bootstrap with three OOD sets of n scores each, sorted once as BuildReport sorts
// them: range(1) = 0 times the three sets' own intervals (ComputeMetrics), 1 the mean row's
// (BootstrapMeanOverSets, one ID draw per resample shared by the sets).
void BM_ReportBootstrap(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<double> id, ood[3];
  MakeScores(n, &id, &ood[0]);
  std::vector<double> unused;
  MakeScores(n, &unused, &ood[1]);
  MakeScores(n, &ood[2], &unused);  // a third set, ~ normal(1, 1): hard to tell from ID
  oodscore::SortDescending(&id);
  for (auto& o : ood) oodscore::SortDescending(&o);
  oodscore::MetricOptions options;
  options.bootstrap = 10;
  for (auto _ : state) {
    oodscore::Metrics m;
    if (state.range(1) == 0) {
      for (const auto& o : ood) m = oodscore::ComputeMetrics(id, o, options);
    } else {
      oodscore::BootstrapMeanOverSets(id, {&ood[0], &ood[1], &ood[2]}, options, &m);
    }
    benchmark::DoNotOptimize(m);
  }
}
BENCHMARK(BM_ReportBootstrap)
    ->ArgsProduct({{1000000}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
