#include "oodscore/pipeline.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "model/batch_ring.h"
#include "oodscore/decode.h"
#include "oodscore/error.h"
#include "oodscore/npy.h"

namespace oodscore {

namespace {

struct Item {
  std::size_t set;
  const Sample* sample;
};

// One batch slot's buffers, filled by the ring's workers (src/model/batch_ring.h). A load
// sets its position's error and warning whatever happens, so a slot needs no reset between
// batches.
struct SlotBuffers {
  std::vector<float> data;            // batch * per-item floats
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

}  // namespace

void CheckBatchMemory(const std::string& flag, std::size_t batch, std::size_t other,
                      std::size_t n_buffers, int c, int h, int w) {
  const double per_item = static_cast<double>(c) * h * w;
  const double per_image = static_cast<double>(n_buffers) * per_item * sizeof(float);
  const double bytes = per_image * static_cast<double>(batch + other);
  const double budget = AvailableBytes() / 2;
  if (bytes <= budget) return;
  const long long fits = static_cast<long long>(budget / per_image) - static_cast<long long>(other);
  char buf[320];
  std::snprintf(buf, sizeof(buf),
                "%s %zu needs %.1f GiB of batch buffers (%zu buffers x %zu images x "
                "%dx%dx%d floats), more than half of the %.1f GiB of memory available; ",
                flag.c_str(), batch, bytes / (1 << 30), n_buffers, batch + other, c, h, w,
                budget * 2 / (1 << 30));
  throw UsageError(std::string(buf) + (fits >= 1
                                           ? flag + " " + std::to_string(fits) + " or less fits"
                                           : std::string("not even one image per batch fits")));
}

namespace {

// The items of every set, in input order; stats gets one entry per set.
std::vector<Item> ListItems(const std::vector<SampleSet>& sets, PipelineStats* stats) {
  std::vector<Item> items;
  for (std::size_t s = 0; s < sets.size(); ++s) {
    stats->sets.push_back({sets[s].name, sets[s].samples.size(), 0, 0});
    for (const Sample& sample : sets[s].samples) items.push_back({s, &sample});
  }
  if (items.empty()) throw Error("no samples to score");
  return items;
}

// The ring for these options: workers default to the cores and slots to enough for all of
// them, never more slots than batches.
BatchRingShape RingShape(std::size_t n_items, const PipelineOptions& options) {
  BatchRingShape shape;
  shape.n_items = n_items;
  // No slot is larger than the run: what CheckBatchMemory sizes is what is allocated.
  shape.batch = std::min(static_cast<std::size_t>(std::max(1, options.batch_size)),
                         std::max<std::size_t>(1, n_items));
  shape.workers = options.workers > 0
                      ? options.workers
                      : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // Workers share a batch, so a few buffers keep them all busy: one the model is reading,
  // the ones the workers are filling (2 * workers images ahead), and one spare.
  const std::size_t wanted =
      options.prefetch > 0
          ? static_cast<std::size_t>(options.prefetch)
          : std::max<std::size_t>(3, (2 * shape.workers + shape.batch - 1) / shape.batch + 2);
  shape.slots = std::min(wanted, (n_items + shape.batch - 1) / shape.batch);
  return shape;
}

// The ring's slot buffers, each for a whole batch.
std::vector<SlotBuffers> MakeSlots(const BatchRingShape& shape, std::size_t per_item) {
  std::vector<SlotBuffers> slots(shape.slots);
  for (SlotBuffers& slot : slots) {
    slot.data.assign(shape.batch * per_item, 0.f);
    slot.errors.assign(shape.batch, "");
    slot.warnings.assign(shape.batch, "");
  }
  return slots;
}

// Skip accounting for one loaded batch of n items: their warnings and errors go into stats
// (with strict, the first error throws oodscore::Error instead). Returns how many loaded.
std::size_t AccountBatch(const std::vector<SampleSet>& sets, const Item* items, std::size_t n,
                         const SlotBuffers& slot, bool strict, PipelineStats* stats) {
  std::size_t good = 0;
  for (std::size_t j = 0; j < n; ++j) {
    const Item& it = items[j];
    if (!slot.warnings[j].empty()) {
      stats->warnings.push_back({sets[it.set].name, it.sample->path, slot.warnings[j]});
    }
    if (slot.errors[j].empty()) {
      ++good;
      continue;
    }
    if (strict) {
      throw Error("cannot read '" + it.sample->path + "': " + slot.errors[j] + " (--strict)");
    }
    stats->skipped.push_back({sets[it.set].name, it.sample->path, slot.errors[j]});
    stats->sets[it.set].skipped++;
  }
  return good;
}

// Throws when every sample was skipped, naming the first.
void CheckSomethingScored(const PipelineStats& stats) {
  std::size_t scored = 0;
  for (const auto& s : stats.sets) scored += s.scored;
  if (scored == 0) {
    throw Error("no sample could be scored (" + std::to_string(stats.skipped.size()) +
                " skipped; first: '" + stats.skipped.front().path +
                "': " + stats.skipped.front().reason + ")");
  }
}

// Batch scoring: runs the model on a loaded batch and delivers the rows of the items that
// loaded, in order, through callbacks.on_row.
class BatchScorer {
 public:
  BatchScorer(Model& model, const PipelineOptions& options, const PipelineCallbacks& callbacks,
              int c, int h, int w)
      : model_(model), options_(options), callbacks_(callbacks), c_(c), h_(h), w_(w) {}

  // Scores the n items of `slot` (at least one of them loaded). Throws oodscore::Error on
  // NaN/Inf logits, naming the sample, and on model errors.
  void Score(const Item* items, std::size_t n, const SlotBuffers& slot, PipelineStats* stats) {
    Forward(n, slot.data.data());
    stats->num_classes = k_;
    if (!outputs_checked_) {  // the first batch: a model that ends in softmax?
      outputs_checked_ = true;
      bool probabilities = true;
      for (std::size_t j = 0; j < n && probabilities; ++j) {
        probabilities =
            !slot.errors[j].empty() || LooksLikeProbabilities(logits_.data() + j * k_, k_);
      }
      if (probabilities) stats->notes.push_back(kProbabilitiesWarning);
    }
    for (std::size_t j = 0; j < n; ++j) {
      if (!slot.errors[j].empty()) continue;
      Deliver(items[j], j);
      stats->sets[items[j].set].scored++;
    }
  }

 private:
  // The model's logits (and ODIN's, and the feature scores) for the n inputs at data.
  void Forward(std::size_t n, const float* data) {
    const std::size_t floats = n * std::size_t(c_) * h_ * w_;
    std::memcpy(model_.InputBuffer(floats), data, floats * sizeof(float));
    model_.Forward(static_cast<int>(n), c_, h_, w_, &logits_, &k_);
    if (options_.odin) {
      model_.ForwardOdin(static_cast<int>(n), c_, h_, w_, *options_.odin, &odin_logits_);
    }
    if (options_.detectors) {
      CheckDetectorWidths(n);
      options_.detectors->Score(model_.features().data(), static_cast<int>(n), &feature_scores_);
    }
  }

  // The fit's scorer reads n x detector_dim features: the model's must be that wide (a fit
  // made for another head would be read at the wrong width, or past the buffer's end).
  void CheckDetectorWidths(std::size_t n) const {
    const std::size_t floats = model_.features().size();
    const std::size_t dim = n ? floats / n : 0;
    const std::string fix = ": run `oodscore fit` on this model";
    if (floats != n * static_cast<std::size_t>(options_.detector_dim)) {
      throw Error(options_.detector_source + " was made for features of width " +
                  std::to_string(options_.detector_dim) + ", but the model's head takes " +
                  std::to_string(dim) + fix);
    }
    if (k_ != options_.detector_classes) {
      throw Error(options_.detector_source + " was made for " +
                  std::to_string(options_.detector_classes) + " classes, but the model returns " +
                  std::to_string(k_) + fix);
    }
  }

  // Row j of the last Forward, for item it.
  void Deliver(const Item& it, std::size_t j) {
    ComputeLogitScores(logits_.data() + j * k_, k_, options_.temperatures, &row_.scores);
    if (options_.odin) {
      row_.scores.odin = TemperedMsp(odin_logits_.data() + j * k_, k_, options_.odin->temperature);
    }
    if (!row_.scores.finite) {
      throw Error("model produced NaN or Inf logits for '" + it.sample->path + "'");
    }
    if (options_.features) {
      row_.feature_dim = model_.head().dim;
      row_.features = model_.features().data() + j * static_cast<std::size_t>(row_.feature_dim);
    }
    if (options_.detectors) {
      const auto first = feature_scores_.begin() + j * n_feature_scores_;
      row_.scores.feature.assign(first, first + n_feature_scores_);
    }
    row_.set_index = it.set;
    row_.sample = it.sample;
    callbacks_.on_row(row_);
  }

  Model& model_;
  bool outputs_checked_ = false;  // the first batch was checked for probabilities
  const PipelineOptions& options_;
  const PipelineCallbacks& callbacks_;
  const int c_, h_, w_;
  const std::size_t n_feature_scores_ = FeatureScoreNames().size();
  std::vector<float> logits_, odin_logits_;
  std::vector<double> feature_scores_;
  int k_ = 0;
  ScoredSample row_;
};

}  // namespace

PipelineStats RunPipeline(const std::vector<SampleSet>& sets, const PreprocessSpec& spec,
                          Model& model, const PipelineOptions& options,
                          const PipelineCallbacks& callbacks) {
  const auto start = std::chrono::steady_clock::now();
  PipelineStats stats;
  const std::vector<Item> items = ListItems(sets, &stats);
  int c = 0, h = 0, w = 0;
  InputShape(items, spec, options.max_image_pixels, &c, &h, &w);
  stats.channels = c;
  stats.height = h;
  stats.width = w;
  const std::size_t per_item = std::size_t(c) * h * w;
  const BatchRingShape shape = RingShape(items.size(), options);
  // The slots, plus the model's own input buffer.
  CheckBatchMemory("--batch-size", shape.batch, 0, shape.slots + 1, c, h, w);
  std::vector<SlotBuffers> slots = MakeSlots(shape, per_item);
  auto load = [&](std::size_t i, std::size_t s, std::size_t pos) {
    SlotBuffers& slot = slots[s];
    std::string err, warning;
    try {
      err = LoadItem(*items[i].sample, spec, options.max_image_pixels, c, h, w,
                     slot.data.data() + pos * per_item, &warning);
    } catch (const std::exception& e) {
      err = e.what();
    }
    slot.errors[pos] = std::move(err);
    slot.warnings[pos] = std::move(warning);
  };
  BatchScorer scorer(model, options, callbacks, c, h, w);
  BatchRing ring(shape, load);
  for (std::size_t b = 0; b < ring.batches(); ++b) {
    const SlotBuffers& slot = slots[ring.Wait(b)];
    const Item* batch = items.data() + ring.first(b);
    const std::size_t n = ring.size(b);
    if (AccountBatch(sets, batch, n, slot, options.strict, &stats) > 0) {
      scorer.Score(batch, n, slot, &stats);
    }
    ring.Release(b);
    if (callbacks.on_batch_end) callbacks.on_batch_end();
    if (callbacks.on_progress) callbacks.on_progress(ring.first(b) + n, items.size());
  }
  CheckSomethingScored(stats);
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

}  // namespace oodscore
