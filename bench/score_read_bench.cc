// Reading score CSVs (ReadScoreFiles' parser) from memory, on 1 thread and on every core:
// n rows of the shape `oodscore score` writes (set, path, label, pred, three scores), made
// with std::mt19937_64 seeded with 1. The whole-process figure (4,000,000 rows from disk to
// report) is `oodscore metrics` on bench/make_score_file.py's file; see README.
//   score_read_bench --benchmark_filter=ParseScoreCsv
#include <benchmark/benchmark.h>

#include <cstdio>
#include <random>
#include <string>
#include <thread>

#include "base/format.h"
#include "oodscore/score_table.h"

namespace {

std::string MakeCsv(std::size_t n) {
  std::mt19937_64 rng(1);
  std::normal_distribution<double> energy(-9.0, 1.5);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::string text = "set,path,label,pred,energy,msp,maxlogit\n";
  char path[64];
  for (std::size_t i = 0; i < n; ++i) {
    const bool id = i < n / 2;
    std::snprintf(path, sizeof(path), "data/%s/%07zu.png", id ? "id" : "far", i);
    const double e = energy(rng) + (id ? 0 : 2);
    text += id ? "id," : "far,";
    text += path;
    text += id ? "," + std::to_string(i % 10) : std::string(",");
    text += "," + std::to_string((i * 7) % 10) + "," + oodscore::FormatDouble(e) + "," +
            oodscore::FormatDouble(unit(rng)) + "," + oodscore::FormatDouble(-e - unit(rng)) + "\n";
  }
  return text;
}

void BM_ParseScoreCsv(benchmark::State& state) {
  const std::string text = MakeCsv(static_cast<std::size_t>(state.range(0)));
  oodscore::ScoreReadOptions options;
  options.threads = state.range(1) == 0 ? static_cast<int>(std::thread::hardware_concurrency())
                                        : static_cast<int>(state.range(1));
  for (auto _ : state) {
    oodscore::ScoreTable t = oodscore::ParseScoreCsv(text, "bench.csv", options);
    benchmark::DoNotOptimize(t);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
  state.counters["threads"] = options.threads;
}
// rows, threads (0 = every core)
BENCHMARK(BM_ParseScoreCsv)->Args({1000000, 1})->Args({1000000, 0})->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
