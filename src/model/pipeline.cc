#include "oodscore/pipeline.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "oodscore/decode.h"
#include "oodscore/error.h"
#include "oodscore/npy.h"

namespace oodscore {

namespace {

struct Item {
  std::size_t set;
  const Sample* sample;
};

// One batch being filled by the workers.
struct Slot {
  std::size_t batch = 0;      // which batch this slot holds now
  std::size_t remaining = 0;  // items not yet filled
  std::vector<float> data;
  std::vector<std::string> errors;    // per item; "" = ok
  std::vector<std::string> warnings;  // per item; "" = none
};

std::string ShapeText(int c, int h, int w) {
  return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
}

// A bomb made by resizing (a thin strip under Resize(int) grows its long side): the reason
// to skip an image whose transform would allocate more than twice max_pixels, or "".
std::string ResizeBomb(const Image& decoded, const PreprocessSpec& spec, long long max_pixels) {
  const long long px = TransformPixels(spec, decoded.width, decoded.height);
  if (px >= 0 && (max_pixels <= 0 || px <= 2 * max_pixels)) return "";
  return "resizing this " + std::to_string(decoded.width) + "x" + std::to_string(decoded.height) +
         " image would make " +
         (px < 0 ? std::string("a side longer than 2^31 pixels")
                 : std::to_string(px) + " pixels, over twice --max-image-pixels " +
                       std::to_string(max_pixels));
}

// Fills out (c*h*w floats) from one sample. Returns "" or the reason it was skipped; sets
// *warning for a sample that is scored but deserves a log line.
std::string LoadItem(const Sample& s, const PreprocessSpec& spec, long long max_pixels, int c,
                     int h, int w, float* out, std::string* warning) {
  if (s.npy) {
    const auto& shape = s.npy->shape();
    if (shape[1] != c || shape[2] != h || shape[3] != w) {
      return "npy rows are " + ShapeText(int(shape[1]), int(shape[2]), int(shape[3])) +
             ", expected " + ShapeText(c, h, w);
    }
    std::memcpy(out, s.npy->row(s.npy_index), sizeof(float) * s.npy->row_floats());
    return "";
  }
  DecodeResult d = DecodeFile(s.path, spec.mode, max_pixels);
  if (!d.ok()) return d.error;
  *warning = d.warning;
  if (std::string bomb = ResizeBomb(d.image, spec, max_pixels); !bomb.empty()) return bomb;
  Image img = TransformUint8(d.image, spec);
  if (img.channels != c || img.height != h || img.width != w) {
    return "image is " + ShapeText(img.channels, img.height, img.width) +
           " after preprocessing, expected " + ShapeText(c, h, w) +
           " like the first image (give the preset a resize to [h, w] or a crop)";
  }
  ToTensorNormalize(img, spec, out);
  return "";
}

// The per-sample input shape: fixed by the preset when it crops or resizes to [h, w];
// otherwise taken from the first sample.
void InputShape(const std::vector<Item>& items, const PreprocessSpec& spec, long long max_pixels,
                int* c, int* h, int* w) {
  const Sample& first = *items.front().sample;
  if (first.npy) {
    *c = int(first.npy->shape()[1]);
    *h = int(first.npy->shape()[2]);
    *w = int(first.npy->shape()[3]);
    return;
  }
  *c = spec.channels();
  if (spec.crop_h > 0 && spec.crop_w > 0) {
    *h = spec.crop_h;
    *w = spec.crop_w;
    return;
  }
  if (spec.resize_h > 0 && spec.resize_w > 0) {
    *h = spec.resize_h;
    *w = spec.resize_w;
    return;
  }
  for (const Item& it : items) {
    if (it.sample->npy) continue;
    DecodeResult d = DecodeFile(it.sample->path, spec.mode, max_pixels);
    if (!d.ok() || !ResizeBomb(d.image, spec, max_pixels).empty()) continue;
    Image img = TransformUint8(d.image, spec);
    *h = img.height;
    *w = img.width;
    return;
  }
  throw Error("no input image could be decoded (first: '" + first.path + "')");
}

// Bytes of memory available to this process: MemAvailable, else physical memory.
double AvailableBytes() {
  std::FILE* f = std::fopen("/proc/meminfo", "r");
  if (f) {
    char line[256];
    while (std::fgets(line, sizeof(line), f)) {
      unsigned long long kb = 0;
      if (std::sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
        std::fclose(f);
        return kb * 1024.0;
      }
    }
    std::fclose(f);
  }
  return static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGESIZE);
}

// The batch buffers (n_buffers batches of per_item floats) must fit in half the memory
// available, so that the model has the rest: a batch size that cannot is refused up front,
// with the largest that fits, instead of dying in std::bad_alloc.
void CheckBatchMemory(std::size_t n_buffers, std::size_t batch, std::size_t per_item, int c,
                      int h, int w) {
  const double bytes = static_cast<double>(n_buffers) * batch * per_item * sizeof(float);
  const double budget = AvailableBytes() / 2;
  if (bytes <= budget) return;
  const double per_batch_item = static_cast<double>(n_buffers) * per_item * sizeof(float);
  const long long fits = static_cast<long long>(budget / per_batch_item);
  char buf[320];
  std::snprintf(buf, sizeof(buf),
                "--batch-size %zu needs %.1f GiB of batch buffers (%zu buffers x %zu images x "
                "%dx%dx%d floats), more than half of the %.1f GiB of memory available; ",
                batch, bytes / (1 << 30), n_buffers, batch, c, h, w, budget * 2 / (1 << 30));
  throw UsageError(std::string(buf) +
                   (fits >= 1 ? "--batch-size " + std::to_string(fits) + " or less fits"
                              : std::string("not even one image per batch fits")));
}

}  // namespace

PipelineStats RunPipeline(const std::vector<SampleSet>& sets, const PreprocessSpec& spec,
                          Model& model, const PipelineOptions& options,
                          const PipelineCallbacks& callbacks) {
  const auto start = std::chrono::steady_clock::now();
  PipelineStats stats;
  std::vector<Item> items;
  for (std::size_t s = 0; s < sets.size(); ++s) {
    stats.sets.push_back({sets[s].name, sets[s].samples.size(), 0, 0});
    for (const Sample& sample : sets[s].samples) items.push_back({s, &sample});
  }
  if (items.empty()) throw Error("no samples to score");

  int c = 0, h = 0, w = 0;
  InputShape(items, spec, options.max_image_pixels, &c, &h, &w);
  stats.channels = c;
  stats.height = h;
  stats.width = w;
  const std::size_t per_item = std::size_t(c) * h * w;
  const std::size_t n_items = items.size();
  const std::size_t batch = static_cast<std::size_t>(std::max(1, options.batch_size));
  const std::size_t n_batches = (n_items + batch - 1) / batch;
  const int workers = options.workers > 0
                          ? options.workers
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // Workers share a batch, so a few buffers keep them all busy: one the model is reading,
  // the ones the workers are filling (2 * workers images ahead), and one spare.
  const std::size_t n_slots = options.prefetch > 0
                                  ? static_cast<std::size_t>(options.prefetch)
                                  : std::max<std::size_t>(3, (2 * workers + batch - 1) / batch + 2);

  // The slots, plus the model's own input buffer.
  CheckBatchMemory(std::min(n_slots, n_batches) + 1, std::min(batch, n_items), per_item, c, h, w);
  std::vector<Slot> slots(std::min(n_slots, n_batches));
  for (std::size_t i = 0; i < slots.size(); ++i) {
    slots[i].batch = i;
    slots[i].remaining = std::min(batch, n_items - i * batch);
    slots[i].data.assign(batch * per_item, 0.f);
    slots[i].errors.assign(batch, "");
    slots[i].warnings.assign(batch, "");
  }
  std::mutex mu;
  std::condition_variable slot_free, batch_ready;
  std::atomic<std::size_t> next{0};
  bool abort = false;

  auto worker = [&] {
    for (;;) {
      const std::size_t i = next.fetch_add(1);
      if (i >= n_items) return;
      const std::size_t b = i / batch, pos = i % batch;
      Slot& slot = slots[b % slots.size()];
      {
        std::unique_lock<std::mutex> lock(mu);
        slot_free.wait(lock, [&] { return abort || slot.batch == b; });
        if (abort) return;
      }
      std::string err, warning;
      try {
        err = LoadItem(*items[i].sample, spec, options.max_image_pixels, c, h, w,
                       slot.data.data() + pos * per_item, &warning);
      } catch (const std::exception& e) {
        err = e.what();
      }
      std::lock_guard<std::mutex> lock(mu);
      slot.errors[pos] = std::move(err);
      slot.warnings[pos] = std::move(warning);
      if (--slot.remaining == 0) batch_ready.notify_all();
    }
  };
  std::vector<std::thread> threads;
  auto stop = [&] {
    {
      std::lock_guard<std::mutex> lock(mu);
      abort = true;
    }
    slot_free.notify_all();
    for (auto& t : threads) t.join();
    threads.clear();
  };

  try {
    for (int t = 0; t < workers; ++t) threads.emplace_back(worker);
    std::vector<float> logits, odin_logits;
    std::vector<double> feature_scores;
    const std::size_t n_feature_scores = FeatureScoreNames().size();
    ScoredSample row;
    for (std::size_t b = 0; b < n_batches; ++b) {
      Slot& slot = slots[b % slots.size()];
      {
        std::unique_lock<std::mutex> lock(mu);
        batch_ready.wait(lock, [&] { return slot.remaining == 0; });
      }
      const std::size_t first = b * batch, n = std::min(batch, n_items - first);
      std::size_t good = 0;
      for (std::size_t j = 0; j < n; ++j) {
        const Item& it = items[first + j];
        if (!slot.warnings[j].empty()) {
          stats.warnings.push_back({sets[it.set].name, it.sample->path, slot.warnings[j]});
        }
        if (slot.errors[j].empty()) {
          ++good;
          continue;
        }
        if (options.strict) {
          throw Error("cannot read '" + it.sample->path + "': " + slot.errors[j] + " (--strict)");
        }
        stats.skipped.push_back({sets[it.set].name, it.sample->path, slot.errors[j]});
        stats.sets[it.set].skipped++;
      }
      if (good > 0) {
        float* input = model.InputBuffer(n * per_item);
        std::memcpy(input, slot.data.data(), n * per_item * sizeof(float));
        int k = 0;
        model.Forward(static_cast<int>(n), c, h, w, &logits, &k);
        stats.num_classes = k;
        if (options.odin) model.ForwardOdin(static_cast<int>(n), c, h, w, *options.odin, &odin_logits);
        if (options.detectors) {
          options.detectors->Score(model.features().data(), static_cast<int>(n), &feature_scores);
        }
        for (std::size_t j = 0; j < n; ++j) {
          if (!slot.errors[j].empty()) continue;
          const Item& it = items[first + j];
          ComputeLogitScores(logits.data() + j * k, k, options.temperatures, &row.scores);
          if (options.odin) {
            row.scores.odin =
                TemperedMsp(odin_logits.data() + j * k, k, options.odin->temperature);
          }
          if (!row.scores.finite) {
            throw Error("model produced NaN or Inf logits for '" + it.sample->path + "'");
          }
          if (options.features) {
            row.feature_dim = model.head().dim;
            row.features = model.features().data() + j * static_cast<std::size_t>(row.feature_dim);
          }
          if (options.detectors) {
            row.scores.feature.assign(feature_scores.begin() + j * n_feature_scores,
                                      feature_scores.begin() + (j + 1) * n_feature_scores);
          }
          row.set_index = it.set;
          row.sample = it.sample;
          callbacks.on_row(row);
          stats.sets[it.set].scored++;
        }
      }
      // Hand the slot to batch b + slots.size().
      {
        std::lock_guard<std::mutex> lock(mu);
        const std::size_t nb = b + slots.size();
        if (nb < n_batches) {
          slot.batch = nb;
          slot.remaining = std::min(batch, n_items - nb * batch);
          std::fill(slot.errors.begin(), slot.errors.end(), std::string());
          std::fill(slot.warnings.begin(), slot.warnings.end(), std::string());
        }
      }
      slot_free.notify_all();
      if (callbacks.on_batch_end) callbacks.on_batch_end();
      if (callbacks.on_progress) callbacks.on_progress(first + n, n_items);
    }
  } catch (...) {
    stop();
    throw;
  }
  stop();
  std::size_t scored = 0;
  for (const auto& s : stats.sets) scored += s.scored;
  if (scored == 0) {
    throw Error("no sample could be scored (" + std::to_string(stats.skipped.size()) +
                " skipped; first: '" + stats.skipped.front().path +
                "': " + stats.skipped.front().reason + ")");
  }
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

}  // namespace oodscore
