#include "oodscore/pipeline.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
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
// otherwise taken from the first sample that decodes. False when none does; `reasons` then
// holds why each item could not be used.
bool InputShape(const std::vector<Item>& items, const PreprocessSpec& spec, long long max_pixels,
                int* c, int* h, int* w, std::vector<std::string>* reasons) {
  const Sample& first = *items.front().sample;
  if (first.npy) {
    *c = int(first.npy->shape()[1]);
    *h = int(first.npy->shape()[2]);
    *w = int(first.npy->shape()[3]);
    return true;
  }
  *c = spec.channels();
  if (spec.crop_h > 0 && spec.crop_w > 0) {
    *h = spec.crop_h;
    *w = spec.crop_w;
    return true;
  }
  if (spec.resize_h > 0 && spec.resize_w > 0) {
    *h = spec.resize_h;
    *w = spec.resize_w;
    return true;
  }
  reasons->clear();
  for (const Item& it : items) {
    if (it.sample->npy) {
      reasons->push_back("a .npy row among images, whose size the preset does not fix");
      continue;
    }
    DecodeResult d = DecodeFile(it.sample->path, spec.mode, max_pixels);
    std::string bomb = d.ok() ? ResizeBomb(d.image, spec, max_pixels) : d.error;
    if (!bomb.empty()) {
      reasons->push_back(std::move(bomb));
      continue;
    }
    Image img = TransformUint8(d.image, spec);
    *h = img.height;
    *w = img.width;
    return true;
  }
  return false;
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
    stats->sets.push_back({sets[s].name, sets[s].samples.size(), 0, 0, {}});
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
  // No more threads than items: a stream's chunk is often one image.
  shape.workers = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(shape.workers),
                                                         std::max<std::size_t>(1, n_items)));
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
std::size_t AccountBatch(const Item* items, std::size_t n, const SlotBuffers& slot, bool strict,
                         PipelineStats* stats) {
  std::size_t good = 0;
  for (std::size_t j = 0; j < n; ++j) {
    const Item& it = items[j];
    if (!slot.warnings[j].empty()) {
      stats->warnings.push_back({stats->sets[it.set].name, it.sample->path, slot.warnings[j]});
    }
    if (slot.errors[j].empty()) {
      ++good;
      continue;
    }
    if (strict) {
      throw Error("cannot read '" + it.sample->path + "': " + slot.errors[j] + " (--strict)");
    }
    stats->skipped.push_back({stats->sets[it.set].name, it.sample->path, slot.errors[j]});
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

// A run over one list of items after another (a stream's chunks), with one model, one input
// shape and one scorer: each list goes through a batch ring, its rows delivered and each batch
// ended as it is scored.
class PipelineRun {
 public:
  PipelineRun(const PreprocessSpec& spec, Model& model, const PipelineOptions& options,
              const PipelineCallbacks& callbacks, PipelineStats* stats)
      : spec_(spec), model_(model), options_(options), callbacks_(callbacks), stats_(*stats) {}

  // Scores items (stats' sets name their sets). The first call fixes the input shape; a call
  // whose items none decode before it is fixed throws with `throw_shapeless`, else counts them
  // as skipped.
  void Score(const std::vector<Item>& items, bool throw_shapeless) {
    if (!scorer_ && !FixShape(items, throw_shapeless)) return;
    const std::size_t per_item = std::size_t(c_) * h_ * w_;
    const BatchRingShape shape = RingShape(items.size(), options_);
    // The slots, plus the model's own input buffer.
    CheckBatchMemory("--batch-size", shape.batch, 0, shape.slots + 1, c_, h_, w_);
    std::vector<SlotBuffers> slots = MakeSlots(shape, per_item);
    auto load = [&](std::size_t i, std::size_t s, std::size_t pos) {
      SlotBuffers& slot = slots[s];
      std::string err, warning;
      try {
        err = LoadItem(*items[i].sample, spec_, options_.max_image_pixels, c_, h_, w_,
                       slot.data.data() + pos * per_item, &warning);
      } catch (const std::exception& e) {
        err = e.what();
      }
      slot.errors[pos] = std::move(err);
      slot.warnings[pos] = std::move(warning);
    };
    BatchRing ring(shape, load);
    for (std::size_t b = 0; b < ring.batches(); ++b) {
      const SlotBuffers& slot = slots[ring.Wait(b)];
      const Item* batch = items.data() + ring.first(b);
      const std::size_t n = ring.size(b);
      if (AccountBatch(batch, n, slot, options_.strict, &stats_) > 0) {
        scorer_->Score(batch, n, slot, &stats_);
      }
      ring.Release(b);
      if (callbacks_.on_batch_end) callbacks_.on_batch_end();
      if (callbacks_.on_progress) callbacks_.on_progress(ring.first(b) + n, items.size());
    }
  }

 private:
  bool FixShape(const std::vector<Item>& items, bool throw_shapeless) {
    std::vector<std::string> reasons;
    if (!InputShape(items, spec_, options_.max_image_pixels, &c_, &h_, &w_, &reasons)) {
      const Item& first = items.front();
      if (throw_shapeless) {
        throw Error("no input image could be decoded (first: '" + first.sample->path + "')");
      }
      if (options_.strict) {
        throw Error("cannot read '" + first.sample->path + "': " + reasons.front() + " (--strict)");
      }
      for (std::size_t i = 0; i < items.size(); ++i) {
        stats_.skipped.push_back(
            {stats_.sets[items[i].set].name, items[i].sample->path, reasons[i]});
        stats_.sets[items[i].set].skipped++;
      }
      if (callbacks_.on_batch_end) callbacks_.on_batch_end();
      return false;
    }
    stats_.channels = c_;
    stats_.height = h_;
    stats_.width = w_;
    scorer_ = std::make_unique<BatchScorer>(model_, options_, callbacks_, c_, h_, w_);
    return true;
  }

  const PreprocessSpec& spec_;
  Model& model_;
  const PipelineOptions& options_;
  const PipelineCallbacks& callbacks_;
  PipelineStats& stats_;
  int c_ = 0, h_ = 0, w_ = 0;
  std::unique_ptr<BatchScorer> scorer_;  // once the shape is fixed
};

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

PipelineStats RunPipeline(const std::vector<SampleSet>& sets, const PreprocessSpec& spec,
                          Model& model, const PipelineOptions& options,
                          const PipelineCallbacks& callbacks) {
  const auto start = std::chrono::steady_clock::now();
  PipelineStats stats;
  const std::vector<Item> items = ListItems(sets, &stats);
  PipelineRun(spec, model, options, callbacks, &stats).Score(items, /*throw_shapeless=*/true);
  CheckSomethingScored(stats);
  stats.seconds = SecondsSince(start);
  return stats;
}

PipelineStats RunPipelineStream(const std::string& set_name, const SampleChunks& next,
                                const PreprocessSpec& spec, Model& model,
                                const PipelineOptions& options,
                                const PipelineCallbacks& callbacks) {
  const auto start = std::chrono::steady_clock::now();
  PipelineStats stats;
  stats.sets.push_back({set_name, 0, 0, 0, {}});
  PipelineCallbacks chunk_callbacks = callbacks;
  chunk_callbacks.on_progress = nullptr;
  PipelineRun run(spec, model, options, chunk_callbacks, &stats);
  std::vector<Sample> chunk;
  std::vector<Item> items;
  while (next(&chunk)) {
    if (chunk.empty()) continue;
    items.clear();
    for (const Sample& sample : chunk) items.push_back({0, &sample});
    stats.sets[0].found += chunk.size();
    run.Score(items, /*throw_shapeless=*/false);
  }
  if (stats.sets[0].found > 0) CheckSomethingScored(stats);
  stats.seconds = SecondsSince(start);
  return stats;
}

}  // namespace oodscore
