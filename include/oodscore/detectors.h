// Feature-space OOD detectors on a classifier's penultimate features (the input of its final
// linear layer), behind a LibTorch-free interface. Each follows OpenOOD v1.5's postprocessor
// (where the original paper's code differs, README says which was followed):
//
//   react_energy  ReAct (Sun et al., 2021): -logsumexp(W min(f, c) + b), c = the 90th
//                 percentile of all ID training activations              lower  = ID
//   ash_energy    ASH-S (Djurisic et al., 2023), p = 90: keep the top 10% of f, zero the
//                 rest, scale by exp(sum f / sum kept); then -logsumexp(W f' + b)  lower = ID
//   mahalanobis   max over classes of -(f - mu_c)^T P (f - mu_c), P the pseudo-inverse of the
//                 tied (class-centred) covariance (Lee et al., 2018; no input
//                 preprocessing, OpenOOD's "mds")                          higher = ID
//   knn           -(squared L2 distance of f/|f| to its k-th nearest normalised training
//                 feature), k = 50 (Sun et al., 2022; faiss IndexFlatL2 distances)  higher = ID
//   vim           logsumexp(W f + b) - alpha |(f - u) N|, u = -pinv(W) b, N the principal
//                 complement of the training features' covariance about u (Wang et al.,
//                 2022)                                                     higher = ID
// and the columns named by OpenOOD's keys (each its postprocessor's `conf`, higher = ID):
//   scale, dice, vra  energies (logsumexp) of the head on shaped features: SCALE's scaled f,
//                 DICE's sparsified W, VRA's f clipped to [q_low, q_high] of ID activations
//   fdbd, nci     the predicted class's decision-boundary distance / its weight's cosine,
//                 against the distance to the training mean (fdbd: or the feature norm)
//   gradnorm      |f|_1 * sum_k |K p_k - 1|: the closed form of OpenOOD's L1 gradient norm
//   she           <f, mean f of the training images predicted right in the predicted class>
//   residual      -|(f - u) N|: ViM's residual alone
//   rmds          Mahalanobis less the whole-data ("background") Mahalanobis term
//   klm           -min over classes of KL(softmax(f) || the class's mean softmax)
//   tempscale     max softmax(logits / T), T fitted by NLL on the training images
//   relation      sum over the training images of the kernel max(zn . bn, 0) (p . p_b), where
//                 it exceeds 0.03 (zn, bn normalised)
//   nnguide       logsumexp(f) times the mean of the k largest zn . g over the guide bank g
//
//   DetectorFit fit = FitDetectors(features, labels, n, head, settings);   // `oodscore fit`
//   WriteFit("m.fit", fit);  ...  fit = ReadFit("m.fit");
//   auto scorer = MakeFeatureScorer(fit, "cpu");
//   scorer->Score(batch_features, n, &scores);   // n x FeatureScoreNames().size(), row-major
//
// FitDetectors and MakeFeatureScorer run in liboodscore_torch.so (LibTorch's BLAS and LAPACK),
// opened on first use like Model::Load; the fit file code needs no LibTorch.
#ifndef OODSCORE_DETECTORS_H_
#define OODSCORE_DETECTORS_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "oodscore/scores.h"  // FeatureScoreNames()

namespace oodscore {

// The final linear layer: logits = W f + b.
struct HeadWeights {
  std::string name;           // the submodule, e.g. "fc" ("" when unknown)
  int classes = 0, dim = 0;   // K, D
  std::vector<float> weight;  // [K, D] row-major
  std::vector<float> bias;    // [K] (zeros when the layer has none)
};

struct DetectorSettings {
  int knn_k = 50;                // OpenOOD's K for CIFAR and ImageNet
  double react_percentile = 90;  // of all ID training activations
  double ash_percentile = 90;    // ASH-S: share of each feature vector pruned
  int vim_dim = 0;               // principal subspace size (ViM and residual); 0 = ViM's rule:
                                 // 1000 for D >= 2048, 512 for D >= 768, else D / 2
  double scale_percentile = 85;  // SCALE: share of each feature vector left out of the sum
  double dice_percentile = 90;   // DICE: share of the head's contributions zeroed
  double vra_low_percentile = 10, vra_high_percentile = 90;  // VRA's clip, of ID activations
  double nci_alpha = 1e-4;                                   // NCI's weight of |f|_1
  double mds_rcond = 0;            // Mahalanobis's pinvh cutoff, relative to the largest
                                   // eigenvalue; 0 = scipy's default, D * float64 epsilon
  int tempscale_converged = 0;     // 1: T at the NLL minimum, not after OpenOOD's 50 LBFGS steps
  int nnguide_k = 100;             // NNGuide's k, over its guide bank
  double nnguide_fraction = 0.01;  // the guide bank: max(k, ceil(F N)) training images,
  int nnguide_random = 0;          // 0: the first ones in file order (OpenOOD); 1: a sample
  double relation_pow = 1;         // Relation's kernel power
  // KNN's and Relation's bank: every training image (0 and 1, as OpenOOD), or a sample of
  // bank_size images or ceil(bank_fraction N) (one of the two), drawn with bank_seed, kept in
  // file order. With a sample, tempscale's T is fitted on the sample's logits.
  int bank_size = 0;
  double bank_fraction = 1;
  int bank_seed = 0;
  // fDBD's normaliser: 1 = the distance |f - training mean| (OpenOOD's default, the paper's),
  // 0 = the feature norm |f| (OpenOOD's distance_as_normalizer: False).
  int fdbd_distance = 1;
};

// One detector setting: its key (the fit file's /settings, run stamps, and `oodscore fit`'s
// flag with '-' for '_'), its member, its range and its help line. One table holds them all.
struct DetectorSettingDef {
  const char* key;
  std::variant<int DetectorSettings::*, double DetectorSettings::*> member;
  double lo, hi;
  bool lo_open, hi_open;  // lo < v instead of lo <= v; v < hi instead of v <= hi
  const char* help;
  // Absent from the fit files made before the setting existed: its default is what they did.
  bool may_be_absent = false;

  double Get(const DetectorSettings& s) const {
    return std::visit([&](auto m) { return static_cast<double>(s.*m); }, member);
  }
  // REQUIRES: v is in range and, for an int setting, whole.
  void Set(DetectorSettings* s, double v) const {
    std::visit([&](auto m) { s->*m = static_cast<std::remove_reference_t<decltype(s->*m)>>(v); },
               member);
  }
};
const std::vector<DetectorSettingDef>& DetectorSettingTable();

// OpenOOD v1.5's automatic parameter search (APS; `oodscore fit --val --val-ood`): each
// tunable detector's settings and their sweep lists (configs/postprocessors/<name>.yml,
// postprocessor_sweep), tried in OpenOOD's order (the first setting varies fastest), keeping
// the first combination with the largest AUROC of ID-val against OOD-val.
struct SweepAxis {
  const char* key;  // a DetectorSettingTable() key
  std::vector<double> values;
};
struct DetectorSweep {
  const char* column;  // the score column whose AUROC is maximised
  std::vector<SweepAxis> axes;
};
const std::vector<DetectorSweep>& DetectorSweepTable();

// The search's record, which the fit file keeps: the sets it was tuned on and every
// combination tried.
struct TuningSet {
  std::string role;    // "id" or "ood"
  std::string name;    // as given (NAME=DIR), "val" for --val
  std::string path;    // the folder or list as given
  std::string folder;  // its absolute, normalised path (how an evaluated set is matched)
  std::int64_t samples = 0;
  // SHA-256 over the sorted SHA-256s of its files' bytes: equal for a copy of the same images
  // anywhere, in any order, under any names.
  std::string content_sha256;
};
struct TuningTrial {
  std::string column;
  std::vector<std::pair<std::string, double>> settings;  // (key, value), in the axes' order
  double auroc = 0;                                      // meaningful unless `skipped` is set
  std::string skipped;  // why the combination could not be tried ("" = tried)
  bool chosen = false;  // the value the fit keeps
};
struct DetectorTuning {
  std::vector<TuningSet> sets;
  std::vector<TuningTrial> trials;
};

// Statistics at the sweep's other values, computed in the fit's own passes over the training
// features when asked (never written to a fit file): the training activations' percentiles
// (ReAct's and VRA's clips) and ViM's subspace and alpha at other dimensions.
struct FitAlternatives {
  std::vector<double> percentiles;                   // asked: q in [0, 100]
  std::vector<int> vim_dims;                         // asked: each in [1, D)
  std::vector<double> activation_percentiles;        // filled: one per q
  std::vector<std::vector<double>> vim_complements;  // filled: [D, D - dim] per dim
  std::vector<double> vim_alphas;                    // filled: one per dim
};

// What `oodscore fit` computes once from ID training features, and a fit file stores.
struct DetectorFit {
  // Provenance: a fit is refused for another model or preprocessing.
  std::string model_sha256;
  std::string preset_json;  // the preset as the run stamp records it
  std::string train_path;
  DetectorSettings settings;
  HeadWeights head;
  std::int64_t train_samples = 0;   // the training images every statistic is over
  std::int64_t bank_rows = 0;       // the KNN/Relation bank's rows: train_samples, or a sample's
  std::int64_t tempscale_rows = 0;  // the images T was fitted on: train_samples, or the sample's
  // Mahalanobis: per-class means [K, D] and the tied covariance's precision [D, D].
  std::vector<double> class_means;
  std::vector<std::int64_t> class_counts;  // [K]; a class without samples gets no distance
  std::vector<double> precision;
  // KNN: the normalised training features [bank_rows, D].
  std::vector<float> bank;
  // ViM: origin u [D], the principal complement N [D, D - vim_dim], alpha.
  int vim_dim = 0;
  std::vector<double> vim_origin;
  std::vector<double> vim_complement;
  double vim_alpha = 0;
  // ReAct: the clip value.
  double react_threshold = 0;
  // The training features' mean [D] (DICE, fDBD, NCI, RMDS).
  std::vector<double> train_mean;
  // RMDS: the precision of the whole training set's covariance [D, D].
  std::vector<double> rmds_precision;
  // SHE: per class, the mean feature of the training images predicted right [K, D], and
  // how many there were [K] (a class with none scores -Inf).
  std::vector<double> she_means;
  std::vector<std::int64_t> she_counts;
  // KLM: per predicted class, the training images' mean softmax [K, K] (a class never
  // predicted: its one-hot vector, as OpenOOD).
  std::vector<double> klm_templates;
  // VRA: the clip values; tempscale: the temperature.
  double vra_low = 0, vra_high = 0;
  double tempscale_temperature = 1;
  // Relation: the bank's images' softmax [bank_rows, K] (float32), beside the bank.
  std::vector<float> relation_probs;
  // NNGuide: its first nnguide_rows training features, z / |z| + 1e-10 (OpenOOD's normaliser)
  // times logsumexp of their logits [nnguide_rows, D] (float32).
  std::int64_t nnguide_rows = 0;
  std::vector<float> nnguide_bank;
  // With `fit --val --val-ood`: the search that chose the swept settings.
  std::optional<DetectorTuning> tuning;
};

// ID training features [rows, D] float32, read in blocks of rows (from memory or a spill file,
// src/model/feature_spill.h), so that a fit need not hold them all.
class FeatureRows {
 public:
  virtual ~FeatureRows() = default;
  virtual std::int64_t rows() const = 0;
  virtual int dim() const = 0;
  // Copies rows [first, first + count) to `out` [count, D]. Throws oodscore::Error when they
  // cannot be read. REQUIRES: 0 <= first, first + count <= rows().
  virtual void Read(std::int64_t first, std::int64_t count, float* out) const = 0;
};

// `features` [n, D], `labels` [n] class indices in [0, K) (the training folders' classes,
// which must be the model's). The statistics are streamed in float64 blocks of `block_rows`
// rows (0: about 4 Mi values a block); the fit holds the banks, not the features. With
// `alternatives`, also fills its statistics at the values it asks for. Throws
// oodscore::Error for fewer than knn_k samples or a label out of range, UsageError for a
// vim_dim >= D or a bank sample that is too large, too small, or asked for twice.
DetectorFit FitDetectors(const FeatureRows& features, const int* labels, const HeadWeights& head,
                         const DetectorSettings& settings, std::int64_t block_rows = 0,
                         FitAlternatives* alternatives = nullptr);
// The same for `features` [n, D] float32 row-major in memory.
DetectorFit FitDetectors(const float* features, const int* labels, std::int64_t n,
                         const HeadWeights& head, const DetectorSettings& settings);

class FeatureScorer {
 public:
  virtual ~FeatureScorer() = default;
  // Scores n feature vectors [n, D]; out: [n, FeatureScoreNames().size()] row-major, in
  // column order. Thread-compatible: one caller at a time.
  virtual void Score(const float* features, int n, std::vector<double>* out) = 0;
};

// `device` as for models ("cpu", "cuda:0"): where the bank and matrices live. `only`: the
// columns to compute (the others are NaN); empty = all.
std::unique_ptr<FeatureScorer> MakeFeatureScorer(const DetectorFit& fit, const std::string& device,
                                                 const std::vector<std::string>& only = {});

// The fit file: "OODSCORE-FIT 2\n", a JSON header line (provenance, settings, scalars, and
// each array's name, dtype, shape and byte offset), then the arrays, little-endian. Throws
// oodscore::Error naming the file and what is wrong.
void WriteFit(const std::filesystem::path& path, const DetectorFit& fit);
DetectorFit ReadFit(const std::filesystem::path& path);
// The same from the file's bytes; `where` names it in errors ("fit file 'm.fit'").
DetectorFit ParseFit(std::string_view bytes, const std::string& where);

}  // namespace oodscore

#endif  // OODSCORE_DETECTORS_H_
