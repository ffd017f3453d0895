// The scoring pipeline: samples -> decode + preprocess on a worker pool -> ordered batches
// -> model -> logits -> per-sample scores, delivered in input order.
//
// Decoding overlaps inference: workers fill a bounded ring of batch slots while the calling
// thread runs the model, so memory stays bounded however many samples there are.
#ifndef OODSCORE_PIPELINE_H_
#define OODSCORE_PIPELINE_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "oodscore/dataset.h"
#include "oodscore/decode.h"
#include "oodscore/detectors.h"
#include "oodscore/model.h"
#include "oodscore/preprocess.h"
#include "oodscore/scores.h"
#include "oodscore/set_counts.h"

namespace oodscore {

struct PipelineOptions {
  int batch_size = 64;
  int workers = 0;      // decode threads; 0 = the number of cores
  int prefetch = 0;     // batch buffers in flight; 0 = enough for every worker to be
                        // filling one while the model runs on another (at least 3)
  bool strict = false;  // an unreadable image is fatal instead of skipped
  // Pillow's MAX_IMAGE_PIXELS (0 = none): images over it are scored with a warning, images
  // over twice it are skipped, and so are images whose resize would make more than twice it.
  long long max_image_pixels = kDefaultMaxImagePixels;
  std::vector<double> temperatures = {1.0};  // energy temperatures, in column order
  std::optional<OdinOptions> odin;           // also ODIN's score (a backward pass per batch)
  // The model was loaded with ModelOptions::features: rows carry their features.
  bool features = false;
  // With features: also the feature-space scores (LogitScores::feature). Not owned.
  FeatureScorer* detectors = nullptr;
  // With detectors: the head the fit was made for (K classes, D features) and the fit's name
  // for messages ("fit file 'm.fit'"). Each batch's logits and features must be that wide.
  int detector_classes = 0, detector_dim = 0;
  std::string detector_source;
};

struct PipelineStats {
  std::vector<SetCounts> sets;
  std::vector<SkippedSample> skipped;
  std::vector<SkippedSample> warnings;  // scored, but worth a line in the log (large images)
  std::vector<std::string> notes;       // about the whole run, for the log and the report
  int num_classes = 0;
  int channels = 0, height = 0, width = 0;  // the model's input shape per sample
  double seconds = 0;
};

// One scored sample, delivered in input order (set by set, sample by sample).
struct ScoredSample {
  std::size_t set_index;
  const Sample* sample;
  LogitScores scores;
  const float* features = nullptr;  // with PipelineOptions::features: [feature_dim], valid
  int feature_dim = 0;              // during the on_row call only
};

struct PipelineCallbacks {
  std::function<void(const ScoredSample&)> on_row;  // required
  std::function<void()> on_batch_end;               // after each batch's rows (flush here)
  std::function<void(std::size_t done, std::size_t total)> on_progress;
};

// Scores every sample of every set. Skipped samples (unreadable, wrong size) are counted and
// listed in the stats; with options.strict the first one throws oodscore::Error instead.
// Throws oodscore::Error when nothing is scorable, on NaN/Inf logits (naming the sample), and
// on model errors.
PipelineStats RunPipeline(const std::vector<SampleSet>& sets, const PreprocessSpec& spec,
                          Model& model, const PipelineOptions& options,
                          const PipelineCallbacks& callbacks);

// Samples that arrive while a run goes on (`score -i -` from a pipe): each call blocks until
// some are ready and moves them into *chunk, or returns false when no more will come.
using SampleChunks = std::function<bool(std::vector<Sample>* chunk)>;

// Scores the samples of one set, named set_name, as `next` hands them over: each chunk goes
// through the batch ring as RunPipeline's sets do, so its rows are delivered (set_index 0) and
// on_batch_end called as each batch is scored, before the next chunk is asked for.
// on_progress is not called. Skipped samples as RunPipeline, and a chunk of images none of
// which decodes before the input shape is known (a preset without a fixed size) is skipped.
// The stats count what arrived as the set's found samples; none arriving is no error. Throws
// as RunPipeline does otherwise, and what `next` throws.
PipelineStats RunPipelineStream(const std::string& set_name, const SampleChunks& next,
                                const PreprocessSpec& spec, Model& model,
                                const PipelineOptions& options, const PipelineCallbacks& callbacks);

// Batch buffers must fit in half the memory available, so that the model has the rest: a
// batch that cannot (n_buffers buffers of batch + other images of c*h*w floats) is refused up
// front, instead of dying in std::bad_alloc. Throws UsageError "<flag> <batch> needs X GiB of
// batch buffers (...); <flag> N or less fits", blaming `flag` (whose value is `batch`; other
// is the rest of each batch, e.g. finetune's --batch-size beside --aux-batch-size).
void CheckBatchMemory(const std::string& flag, std::size_t batch, std::size_t other,
                      std::size_t n_buffers, int c, int h, int w);

}  // namespace oodscore

#endif  // OODSCORE_PIPELINE_H_
