// Throughput of the two stages of `oodscore score`, each alone on all cores:
//   decode + preprocess: every image of a folder through the preset, on N threads;
//   forward: the model on pre-made batches (LibTorch intra-op threads), scores included.
// The whole pipeline can at best reach 1 / (1/decode + 1/forward) when both share the
// cores. Prints one JSON line.
//
//   stage_bench MODEL PRESET DIR [BATCH=256] [THREADS=0]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "oodscore/dataset.h"
#include "oodscore/decode.h"
#include "oodscore/model.h"
#include "oodscore/preset.h"
#include "oodscore/scores.h"

using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: stage_bench MODEL PRESET DIR [BATCH=256] [THREADS=0]\n");
    return 2;
  }
  const int batch = argc > 4 ? std::atoi(argv[4]) : 256;
  int threads = argc > 5 ? std::atoi(argv[5]) : 0;
  if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());
  oodscore::Preset preset = oodscore::LoadPreset(argv[2]);
  oodscore::SampleSet set = oodscore::ListFolder(argv[3], "bench");
  const std::size_t n = set.samples.size();

  // Decode + preprocess on `threads` threads.
  int c = 0, h = 0, w = 0;
  {
    auto d = oodscore::DecodeFile(set.samples[0].path, preset.spec.mode);
    auto img = oodscore::TransformUint8(d.image, preset.spec);
    c = img.channels;
    h = img.height;
    w = img.width;
  }
  const std::size_t per = static_cast<std::size_t>(c) * h * w;
  std::vector<float> first_batch(per * batch);
  std::atomic<std::size_t> next{0};
  auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      std::vector<float> out(per);
      for (std::size_t i; (i = next.fetch_add(1)) < n;) {
        auto d = oodscore::DecodeFile(set.samples[i].path, preset.spec.mode);
        if (!d.ok()) continue;
        auto img = oodscore::TransformUint8(d.image, preset.spec);
        oodscore::ToTensorNormalize(
            img, preset.spec,
            i < static_cast<std::size_t>(batch) ? first_batch.data() + i * per : out.data());
      }
    });
  }
  for (auto& t : pool) t.join();
  const double decode_s = std::chrono::duration<double>(Clock::now() - t0).count();

  // Forward on the same number of images, in pre-made batches.
  oodscore::ModelOptions mo;
  mo.threads = threads;
  auto model = oodscore::Model::Load(argv[1], mo);
  std::vector<float> logits;
  oodscore::LogitScores scores;
  int k = 0;
  auto run = [&](std::size_t count) {
    for (std::size_t done = 0; done < count; done += batch) {
      const int m = static_cast<int>(std::min<std::size_t>(batch, count - done));
      float* in = model->InputBuffer(per * batch);
      std::copy(first_batch.begin(), first_batch.begin() + per * m, in);
      model->Forward(m, c, h, w, &logits, &k);
      for (int j = 0; j < m; ++j)
        oodscore::ComputeLogitScores(logits.data() + j * k, k, {1.0}, &scores);
    }
  };
  run(static_cast<std::size_t>(batch) * 2);  // warm-up (first calls optimise the graph)
  t0 = Clock::now();
  run(n);
  const double forward_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const double d = n / decode_s, f = n / forward_s;
  std::printf(
      "{\"images\": %zu, \"threads\": %d, \"batch\": %d, \"decode_images_per_s\": %.1f, "
      "\"forward_images_per_s\": %.1f, \"limit_images_per_s\": %.1f}\n",
      n, threads, batch, d, f, 1.0 / (1.0 / d + 1.0 / f));
  return 0;
}
