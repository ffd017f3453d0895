// The feature-space detectors' fit and scores, with LibTorch's BLAS and LAPACK
// (include/oodscore/detectors.h). Statistics are computed in float64; the scores in the
// precision OpenOOD computes them in (float32 for ReAct, ASH and KNN, float64 here for
// Mahalanobis and ViM, whose sums of squares lose digits in float32).
#include "oodscore/detectors.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "base/percentiles.h"
#include "model/torch_api.h"
#include "oodscore/error.h"
#include "torch/torch_common.h"

namespace oodscore {

namespace {

at::Tensor FromFloats(const std::vector<float>& v, std::vector<int64_t> shape) {
  return torch::from_blob(const_cast<float*>(v.data()), shape, torch::kFloat32).clone();
}

at::Tensor FromDoubles(const std::vector<double>& v, std::vector<int64_t> shape) {
  return torch::from_blob(const_cast<double*>(v.data()), shape, torch::kFloat64).clone();
}

template <typename T>
std::vector<T> ToVector(const at::Tensor& t) {
  const at::Tensor c = t.to(torch::kCPU).contiguous();
  return std::vector<T>(c.data_ptr<T>(), c.data_ptr<T>() + c.numel());
}

// ViM's rule for the principal subspace's size (its reference code).
int VimDim(int d, int asked) {
  if (asked > 0) return asked;
  if (d >= 2048) return 1000;
  if (d >= 768) return 512;
  return d / 2;
}

// The number of features ASH-S keeps: n - round(n * p / 100), rounding half to even as
// numpy.round does; at least one.
int64_t AshKeep(int64_t d, double percentile) {
  return std::max<int64_t>(
      1, d - static_cast<int64_t>(std::nearbyint(static_cast<double>(d) * percentile / 100.0)));
}

}  // namespace

namespace {

// The training features [n, D], read from their FeatureRows a block of rows at a time into
// one buffer (float64 for the statistics), so that the fit holds one block of them besides
// the banks: every statistic is a pass over the blocks (measured: README, "What it costs").
class TrainingSet {
 public:
  TrainingSet(const FeatureRows& rows, const int* labels, int64_t block_rows)
      : n(rows.rows()),
        d(rows.dim()),
        block(block_rows > 0 ? block_rows : std::max<int64_t>(1, (int64_t{4} << 20) / d)),
        labels(torch::from_blob(const_cast<int*>(labels), {n}, torch::kInt32).to(torch::kInt64)),
        rows_(rows) {}

  const int64_t n, d, block;
  const at::Tensor labels;  // [n] int64

  // fn(first row, its block [m, D] float32, their labels [m]) over the blocks in order; the
  // block's memory is reused by the next.
  void ForBlocks32(const std::function<void(int64_t first, const at::Tensor& f,
                                            const at::Tensor& y)>& fn) const {
    buffer_.resize(static_cast<std::size_t>(std::min(block, n) * d));
    for (int64_t i = 0; i < n; i += block) {
      const int64_t m = std::min(block, n - i);
      rows_.Read(i, m, buffer_.data());
      fn(i, torch::from_blob(buffer_.data(), {m, d}, torch::kFloat32), labels.narrow(0, i, m));
    }
  }

  // The same in float64.
  void ForBlocks(const std::function<void(const at::Tensor& f, const at::Tensor& y)>& fn) const {
    ForBlocks32(
        [&](int64_t, const at::Tensor& f, const at::Tensor& y) { fn(f.to(torch::kFloat64), y); });
  }

  // The rows `index` (ascending) copied to `out` [index.size(), D], runs of consecutive rows
  // read at once.
  void Gather(const std::vector<int64_t>& index, float* out) const {
    for (std::size_t j = 0; j < index.size();) {
      std::size_t run = 1;
      while (j + run < index.size() && index[j + run] == index[j] + static_cast<int64_t>(run)) {
        ++run;
      }
      rows_.Read(index[j], static_cast<int64_t>(run), out + j * d);
      j += run;
    }
  }

 private:
  const FeatureRows& rows_;
  mutable std::vector<float> buffer_;
};

// The rows of the training set a bank keeps, ascending: all, or a sample without replacement
// drawn with `seed` (torch's randperm, its first `rows`).
std::vector<int64_t> ChooseRows(int64_t n, int64_t rows, bool sample, uint64_t seed) {
  std::vector<int64_t> index(static_cast<std::size_t>(rows));
  if (!sample) {
    std::iota(index.begin(), index.end(), 0);
    return index;
  }
  const at::Tensor chosen = std::get<0>(
      torch::randperm(n, at::make_generator<at::CPUGeneratorImpl>(seed)).narrow(0, 0, rows).sort());
  std::memcpy(index.data(), chosen.data_ptr<int64_t>(), index.size() * sizeof(int64_t));
  return index;
}

// KNN's and Relation's bank (--bank-size, --bank-fraction): every row, or a sample. Refuses a
// sample asked for twice, larger than the training set, or smaller than knn_k.
std::vector<int64_t> ChooseBank(int64_t n, const DetectorSettings& s) {
  if (s.bank_size > 0 && s.bank_fraction < 1) {
    std::ostringstream fraction;
    fraction << s.bank_fraction;
    throw UsageError("--bank-size " + std::to_string(s.bank_size) + " and --bank-fraction " +
                     fraction.str() + " both ask for a bank sample: give one");
  }
  if (s.bank_size > n) {
    throw UsageError("--bank-size " + std::to_string(s.bank_size) + " is more than the " +
                     std::to_string(n) + " training images: give at most " + std::to_string(n) +
                     ", or leave it out to keep them all");
  }
  const int64_t rows =
      s.bank_size > 0
          ? s.bank_size
          : std::min(n, static_cast<int64_t>(std::ceil(s.bank_fraction * static_cast<double>(n))));
  if (rows < s.knn_k) {
    throw UsageError("a bank of " + std::to_string(rows) + " training images (" +
                     (s.bank_size > 0 ? "--bank-size" : "--bank-fraction of " + std::to_string(n)) +
                     ") is smaller than --knn-k " + std::to_string(s.knn_k) +
                     ": give a larger bank or a smaller --knn-k");
  }
  return ChooseRows(n, rows, rows < n, static_cast<uint64_t>(s.bank_seed));
}

void CheckFitInputs(const int* labels, int64_t n, int64_t k, const DetectorFit& fit) {
  for (const auto& [flag, k] : {std::pair<const char*, int>{"--knn-k", fit.settings.knn_k},
                                {"--nnguide-k", fit.settings.nnguide_k}}) {
    if (n < k) {
      throw Error("fit needs at least " + std::to_string(k) + " training samples for " + flag +
                  " " + std::to_string(k) + ", got " + std::to_string(n) + " (set a smaller " +
                  flag + ")");
    }
  }
  const int64_t d = fit.head.dim;
  if (fit.vim_dim <= 0 || fit.vim_dim >= d) {
    throw UsageError("--vim-dim " + std::to_string(fit.vim_dim) + " must be in [1, " +
                     std::to_string(d - 1) + "] for " + std::to_string(d) + "-d features");
  }
  for (int64_t i = 0; i < n; ++i) {
    if (labels[i] < 0 || labels[i] >= k) {
      throw Error("training sample " + std::to_string(i) + " has class " +
                  std::to_string(labels[i]) + ", but the model's head has " + std::to_string(k) +
                  " classes: the training folders must be the model's classes, in its order");
    }
  }
}

// The pseudo-inverse of a covariance as scipy's pinvh (sklearn's EmpiricalCovariance):
// eigenvalues below rcond times the largest are dropped; rcond 0 = scipy's default, D times
// float64's epsilon (OpenOOD's covariance is np.cov's float64 even for float32 features).
at::Tensor PseudoInverse(const at::Tensor& cov, double rcond) {
  const double rtol =
      rcond > 0 ? rcond : static_cast<double>(cov.size(0)) * std::numeric_limits<double>::epsilon();
  return torch::linalg_pinv(cov, c10::nullopt, rtol, true);
}

// Mahalanobis (OpenOOD's MDS): class means; the covariance of the class-centred features
// (sklearn EmpiricalCovariance, assume_centered=False: less their mean, about 0), and its
// pseudo-inverse. RMDS adds the same for the features about their overall mean.
void FitMahalanobis(const TrainingSet& train, int64_t k, DetectorFit* fit) {
  const int64_t d = train.d;
  const at::Tensor counts = torch::bincount(train.labels, {}, k);
  at::Tensor sums = torch::zeros({k, d}, torch::kFloat64);
  train.ForBlocks([&](const at::Tensor& f, const at::Tensor& y) { sums.index_add_(0, y, f); });
  const double n = static_cast<double>(train.n);
  const at::Tensor means = sums / counts.clamp_min(1).to(torch::kFloat64).unsqueeze(1);
  const at::Tensor mean = sums.sum(0) / n;
  at::Tensor scatter = torch::zeros({d, d}, torch::kFloat64);
  at::Tensor whole_scatter = torch::zeros({d, d}, torch::kFloat64);
  at::Tensor centred_sum = torch::zeros({d}, torch::kFloat64);
  at::Tensor whole_sum = torch::zeros({d}, torch::kFloat64);
  train.ForBlocks([&](const at::Tensor& f, const at::Tensor& y) {
    const at::Tensor c = f - means.index_select(0, y);
    scatter.addmm_(c.t(), c);
    centred_sum += c.sum(0);
    const at::Tensor w = f - mean;
    whole_scatter.addmm_(w.t(), w);
    whole_sum += w.sum(0);
  });
  const auto covariance = [n](const at::Tensor& scatter, const at::Tensor& sum) {
    const at::Tensor m = sum / n;
    return scatter / n - m.outer(m);
  };
  fit->class_means = ToVector<double>(means);
  fit->class_counts = ToVector<int64_t>(counts);
  fit->train_mean = ToVector<double>(mean);
  fit->precision =
      ToVector<double>(PseudoInverse(covariance(scatter, centred_sum), fit->settings.mds_rcond));
  fit->rmds_precision = ToVector<double>(
      PseudoInverse(covariance(whole_scatter, whole_sum), fit->settings.mds_rcond));
}

// The head's logits of a block of features, in float32 as the model computes them.
at::Tensor Logits(const at::Tensor& f32, const HeadWeights& head) {
  const at::Tensor w = FromFloats(head.weight, {head.classes, head.dim});
  const at::Tensor b = FromFloats(head.bias, {head.classes});
  return torch::addmm(b, f32, w.t());
}

// SHE: per class, the mean feature of the training images the head predicts right. KLM: per
// predicted class, the mean softmax (a class never predicted gets its one-hot vector).
// Relation: the softmax of each of the bank's rows (`bank`, ascending). Returns the logits of
// those rows [bank.size(), K] (float32), for tempscale.
at::Tensor FitPredictedClassStatistics(const TrainingSet& train, const HeadWeights& head,
                                       const std::vector<int64_t>& bank, DetectorFit* fit) {
  const int64_t k = head.classes, d = head.dim, rows = static_cast<int64_t>(bank.size());
  at::Tensor she_sums = torch::zeros({k, d}, torch::kFloat64);
  at::Tensor she_counts = torch::zeros({k}, torch::kInt64);
  at::Tensor klm_sums = torch::zeros({k, k}, torch::kFloat64);
  at::Tensor pred_counts = torch::zeros({k}, torch::kInt64);
  fit->relation_probs.resize(static_cast<std::size_t>(rows * k));
  at::Tensor probs = torch::from_blob(fit->relation_probs.data(), {rows, k}, torch::kFloat32);
  at::Tensor bank_logits = torch::empty({rows, k}, torch::kFloat32);
  std::size_t next = 0;  // the first bank row not yet reached
  train.ForBlocks32([&](int64_t first, const at::Tensor& f, const at::Tensor& y) {
    const at::Tensor logits = Logits(f, head);
    const at::Tensor pred = logits.argmax(1);
    const at::Tensor right = pred.eq(y);
    she_sums.index_add_(0, y.index({right}), f.index({right}).to(torch::kFloat64));
    she_counts += torch::bincount(y.index({right}), {}, k);
    const at::Tensor p = torch::softmax(logits, 1);
    klm_sums.index_add_(0, pred, p.to(torch::kFloat64));
    pred_counts += torch::bincount(pred, {}, k);
    std::vector<int64_t> local;  // the bank's rows in this block
    for (; next < bank.size() && bank[next] < first + f.size(0); ++next) {
      local.push_back(bank[next] - first);
    }
    if (local.empty()) return;
    const auto m = static_cast<int64_t>(local.size()), to = static_cast<int64_t>(next) - m;
    const at::Tensor pick = torch::from_blob(local.data(), {m}, torch::kInt64);
    probs.narrow(0, to, m).copy_(p.index_select(0, pick));
    bank_logits.narrow(0, to, m).copy_(logits.index_select(0, pick));
  });
  const at::Tensor she_means = she_sums / she_counts.clamp_min(1).to(torch::kFloat64).unsqueeze(1);
  const at::Tensor predicted = pred_counts.gt(0).unsqueeze(1);
  const at::Tensor templates =
      torch::where(predicted, klm_sums / pred_counts.clamp_min(1).to(torch::kFloat64).unsqueeze(1),
                   torch::eye(k, torch::kFloat64));
  fit->she_means = ToVector<double>(she_means);
  fit->she_counts = ToVector<int64_t>(she_counts);
  fit->klm_templates = ToVector<double>(templates);
  return bank_logits;
}

// z / |z|, and 0 for z = 0 (where OpenOOD's normaliser gives NaN).
at::Tensor UnitRows(const at::Tensor& f) {
  const at::Tensor norm = f.norm(2, 1, true);
  return torch::where(norm > 0, f / norm, torch::zeros_like(f));
}

// NNGuide: the first max(k, ceil(F N)) training features (OpenOOD: the first batches of its
// unshuffled train loader, whole batches until past int(F N)), or as many drawn with seed 0;
// z / |z| + 1e-10 as its normaliser, times logsumexp of their logits.
void FitNnGuideBank(const TrainingSet& train, const HeadWeights& head, DetectorFit* fit) {
  const auto share = static_cast<int64_t>(
      std::ceil(fit->settings.nnguide_fraction * static_cast<double>(train.n)));
  fit->nnguide_rows = std::min(train.n, std::max<int64_t>(fit->settings.nnguide_k, share));
  // A sample without replacement, in file order, or the first rows.
  const std::vector<int64_t> rows =
      ChooseRows(train.n, fit->nnguide_rows, fit->settings.nnguide_random != 0, 0);
  at::Tensor f = torch::empty({fit->nnguide_rows, train.d}, torch::kFloat32);
  train.Gather(rows, f.data_ptr<float>());
  const at::Tensor guide = (UnitRows(f) + 1e-10) * torch::logsumexp(Logits(f, head), 1, true);
  fit->nnguide_bank = ToVector<float>(guide);
}

// The mean negative log-likelihood of the labels under softmax(beta * logits), in float64.
double ScaledNll(const at::Tensor& logits64, const at::Tensor& labels, double beta) {
  return torch::nn::functional::cross_entropy(logits64 * beta, labels).item<double>();
}

// tempscale: OpenOOD's loop (gpleiss's temperature_scaling): T = 1.5, one LBFGS step of at
// most 50 iterations at lr 0.01 on the mean NLL, in float32. `converged`: the minimiser
// itself, by golden-section search over log(1/T) (the NLL is convex in 1/T), in float64.
// `logits` [m, K] float32 and `labels` [m]: the training images', or the bank sample's.
double FitTemperature(const at::Tensor& logits, const at::Tensor& labels, bool converged) {
  if (converged) {
    const at::Tensor logits64 = logits.to(torch::kFloat64);
    double lo = -12, hi = 12;  // log(1/T): T from 6e-6 to 1.6e5
    const double g = (std::sqrt(5.0) - 1) / 2;
    double a = hi - g * (hi - lo), b = lo + g * (hi - lo);
    double fa = ScaledNll(logits64, labels, std::exp(a));
    double fb = ScaledNll(logits64, labels, std::exp(b));
    for (int i = 0; i < 100 && hi - lo > 1e-12; ++i) {
      if (fa <= fb) {
        hi = b, b = a, fb = fa;
        a = hi - g * (hi - lo);
        fa = ScaledNll(logits64, labels, std::exp(a));
      } else {
        lo = a, a = b, fa = fb;
        b = lo + g * (hi - lo);
        fb = ScaledNll(logits64, labels, std::exp(b));
      }
    }
    return 1 / std::exp((lo + hi) / 2);
  }
  torch::AutoGradMode grad(true);
  at::Tensor temperature = torch::full({1}, 1.5, torch::kFloat32).requires_grad_(true);
  torch::optim::LBFGS optimizer({temperature}, torch::optim::LBFGSOptions(0.01).max_iter(50));
  optimizer.step([&] {
    optimizer.zero_grad();
    at::Tensor loss = torch::nn::functional::cross_entropy(logits / temperature, labels);
    loss.backward();
    return loss;
  });
  return temperature.item<double>();
}

// KNN: features / (|f| + 1e-10), in float32 as the reference's numpy code, of the bank's rows.
void FitKnnBank(const TrainingSet& train, const std::vector<int64_t>& rows, DetectorFit* fit) {
  const int64_t m = static_cast<int64_t>(rows.size());
  fit->bank.resize(static_cast<std::size_t>(m * train.d));
  train.Gather(rows, fit->bank.data());
  at::Tensor bank = torch::from_blob(fit->bank.data(), {m, train.d}, torch::kFloat32);
  for (int64_t i = 0; i < m; i += train.block) {
    at::Tensor f = bank.narrow(0, i, std::min(train.block, m - i));
    f.div_(f.norm(2, 1, /*keepdim=*/true) + 1e-10);
  }
}

// ViM: u = -pinv(W) b; the eigenvectors of the covariance of f - u (assume_centered) beyond
// the vim_dim largest eigenvalues; alpha = mean max logit / mean residual norm. The same at
// each of `alternatives`' vim_dims, in the same two passes.
void FitVim(const TrainingSet& train, const HeadWeights& head, DetectorFit* fit,
            FitAlternatives* alternatives) {
  const int64_t k = head.classes, d = head.dim;
  const at::Tensor w = FromFloats(head.weight, {k, d}).to(torch::kFloat64);
  const at::Tensor b = FromFloats(head.bias, {k}).to(torch::kFloat64);
  const at::Tensor u = -torch::linalg_pinv(w, c10::nullopt, 1e-15, false).mv(b);  // numpy's rcond
  at::Tensor scatter = torch::zeros({d, d}, torch::kFloat64);
  double max_logit_sum = 0;
  train.ForBlocks([&](const at::Tensor& f, const at::Tensor&) {
    const at::Tensor fu = f - u;
    scatter.addmm_(fu.t(), fu);
    max_logit_sum += std::get<0>(torch::addmm(b, f, w.t()).max(1)).sum().item<double>();
  });
  const at::Tensor eigenvectors =
      std::get<1>(torch::linalg_eigh(scatter / static_cast<double>(train.n)));  // ascending
  std::vector<int> dims = {fit->vim_dim};
  if (alternatives) {
    dims.insert(dims.end(), alternatives->vim_dims.begin(), alternatives->vim_dims.end());
  }
  std::vector<at::Tensor> complements;
  for (int dim : dims) {
    complements.push_back(eigenvectors.narrow(1, 0, d - dim).contiguous());
  }
  std::vector<double> residual_sums(dims.size(), 0.0);
  train.ForBlocks([&](const at::Tensor& f, const at::Tensor&) {
    const at::Tensor fu = f - u;
    for (std::size_t i = 0; i < dims.size(); ++i) {
      residual_sums[i] += fu.mm(complements[i]).norm(2, 1).sum().item<double>();
    }
  });
  fit->vim_origin = ToVector<double>(u);
  fit->vim_complement = ToVector<double>(complements[0]);
  fit->vim_alpha = max_logit_sum / residual_sums[0];
  if (alternatives) {
    alternatives->vim_complements.clear();
    alternatives->vim_alphas.clear();
    for (std::size_t i = 1; i < dims.size(); ++i) {
      alternatives->vim_complements.push_back(ToVector<double>(complements[i]));
      alternatives->vim_alphas.push_back(max_logit_sum / residual_sums[i]);
    }
  }
}

}  // namespace

DetectorFit FitTorchDetectors(const FeatureRows& features, const int* labels,
                              const HeadWeights& head, const DetectorSettings& settings,
                              std::int64_t block_rows, FitAlternatives* alternatives) {
  const int64_t n = features.rows();
  if (features.dim() != head.dim) {
    throw Error("internal error: " + std::to_string(features.dim()) + "-d features for a " +
                std::to_string(head.dim) + "-d head");
  }
  DetectorFit fit;
  fit.settings = settings;
  fit.head = head;
  fit.train_samples = n;
  fit.vim_dim = fit.settings.vim_dim = VimDim(head.dim, settings.vim_dim);
  CheckFitInputs(labels, n, head.classes, fit);
  if (alternatives) {
    for (int dim : alternatives->vim_dims) {
      if (dim < 1 || dim >= head.dim) {
        throw Error("internal error: ViM dimension " + std::to_string(dim) + " for a " +
                    std::to_string(head.dim) + "-d head");
      }
    }
  }
  const std::vector<int64_t> bank = ChooseBank(n, settings);
  fit.bank_rows = fit.tempscale_rows = static_cast<int64_t>(bank.size());
  torch::NoGradGuard no_grad;
  const TrainingSet train(features, labels, block_rows);
  // ReAct and VRA: exact percentiles of every activation, two passes of a radix select.
  std::vector<double> qs = {settings.react_percentile, settings.vra_low_percentile,
                            settings.vra_high_percentile};
  if (alternatives) {
    qs.insert(qs.end(), alternatives->percentiles.begin(), alternatives->percentiles.end());
  }
  const std::vector<double> clips = StreamingPercentiles(
      static_cast<std::uint64_t>(n * head.dim), qs, [&](const ValueBlock& block) {
        train.ForBlocks32([&](int64_t, const at::Tensor& f, const at::Tensor&) {
          block(f.data_ptr<float>(), static_cast<std::size_t>(f.numel()));
        });
      });
  fit.react_threshold = clips[0];
  fit.vra_low = clips[1];
  fit.vra_high = clips[2];
  if (alternatives) alternatives->activation_percentiles.assign(clips.begin() + 3, clips.end());
  FitMahalanobis(train, head.classes, &fit);
  FitKnnBank(train, bank, &fit);
  FitVim(train, head, &fit, alternatives);
  const at::Tensor bank_logits = FitPredictedClassStatistics(train, head, bank, &fit);
  FitNnGuideBank(train, head, &fit);
  const at::Tensor bank_labels = train.labels.index_select(
      0, torch::from_blob(const_cast<int64_t*>(bank.data()), {fit.bank_rows}, torch::kInt64));
  fit.tempscale_temperature =
      FitTemperature(bank_logits, bank_labels, settings.tempscale_converged != 0);
  return fit;
}

namespace {

class TorchFeatureScorer : public FeatureScorer {
 public:
  TorchFeatureScorer(const DetectorFit& fit, torch::Device device,
                     const std::vector<std::string>& columns, std::vector<bool> enabled)
      : device_(device),
        enabled_(std::move(enabled)),
        methods_(Methods(columns)),
        d_(fit.head.dim),
        knn_k_(fit.settings.knn_k),
        bank_rows_(fit.bank_rows),
        react_threshold_(fit.react_threshold),
        vim_alpha_(fit.vim_alpha),
        vra_low_(fit.vra_low),
        vra_high_(fit.vra_high),
        nci_alpha_(fit.settings.nci_alpha),
        temperature_(fit.tempscale_temperature),
        relation_pow_(fit.settings.relation_pow),
        nnguide_k_(fit.settings.nnguide_k),
        fdbd_distance_(fit.settings.fdbd_distance != 0) {
    const int64_t k = fit.head.classes, d = fit.head.dim;
    w_ = FromFloats(fit.head.weight, {k, d}).to(device_);
    b_ = FromFloats(fit.head.bias, {k}).to(device_);
    w64_ = w_.to(torch::kFloat64);
    b64_ = b_.to(torch::kFloat64);
    precision_ = FromDoubles(fit.precision, {d, d}).to(device_);
    const at::Tensor means = FromDoubles(fit.class_means, {k, d}).to(device_);
    means_p_ = means.mm(precision_);
    means_term_ = (means_p_ * means).sum(1);
    missing_ = Missing(fit.class_counts);
    const at::Tensor bank = FromFloats(fit.bank, {fit.bank_rows, d}).to(device_);
    bank_norms_ = (bank * bank).sum(1);
    bank_t_ = bank.t().contiguous();
    origin_ = FromDoubles(fit.vim_origin, {d}).to(device_);
    complement_ = FromDoubles(fit.vim_complement, {d, d - fit.vim_dim}).to(device_);
    ash_keep_ = AshKeep(d, fit.settings.ash_percentile);
    scale_keep_ = AshKeep(d, fit.settings.scale_percentile);
    train_mean_ = FromDoubles(fit.train_mean, {d}).to(device_);
    rmds_precision_ = FromDoubles(fit.rmds_precision, {d, d}).to(device_);
    she_means_ = FromDoubles(fit.she_means, {k, d}).to(device_);
    she_missing_ = Missing(fit.she_counts);
    const at::Tensor templates = FromDoubles(fit.klm_templates, {k, k}).to(device_);
    klm_log_ = torch::where(templates > 0, templates.log(), torch::zeros_like(templates));
    klm_zero_ = templates.eq(0).to(torch::kFloat64);
    // DICE: the head's weights where the weight-times-mean contribution is above its
    // percentile over all K x D contributions (float32, as the reference's numpy).
    const at::Tensor contrib = train_mean_.to(torch::kFloat32).unsqueeze(0) * w_;
    const at::Tensor cpu = contrib.to(torch::kCPU).contiguous();
    const double cut = Percentiles(cpu.data_ptr<float>(), static_cast<std::size_t>(cpu.numel()),
                                   {fit.settings.dice_percentile})[0];
    dice_w_ = w_ * contrib.gt(cut).to(torch::kFloat32);
    relation_probs_t_ =
        FromFloats(fit.relation_probs, {fit.bank_rows, k}).to(device_).t().contiguous();
    nnguide_t_ = FromFloats(fit.nnguide_bank, {fit.nnguide_rows, d}).to(device_).t().contiguous();
    // fDBD: |w_j - w_p| for each predicted class p (1 on the diagonal).
    const at::Tensor gaps = (w64_.unsqueeze(0) - w64_.unsqueeze(1)).norm(2, 2);
    fdbd_denominator_ = gaps + torch::eye(k, gaps.options());
  }

  void Score(const float* features, int n, std::vector<double>* out) override {
    torch::NoGradGuard no_grad;
    Batch batch;
    batch.f = torch::from_blob(const_cast<float*>(features), {n, d_}, torch::kFloat32).to(device_);
    batch.f64 = batch.f.to(torch::kFloat64);
    batch.logits = torch::addmm(b_, batch.f, w_.t());
    batch.logits64 = torch::addmm(b64_, batch.f64, w64_.t());
    batch.pred = batch.logits.argmax(1);
    std::vector<at::Tensor> columns;
    for (std::size_t c = 0; c < methods_.size(); ++c) {
      columns.push_back(enabled_[c] ? (this->*methods_[c])(batch).to(torch::kFloat64)
                                    : torch::full({n}, NAN, batch.f64.options()));
    }
    const at::Tensor all = torch::stack(columns, 1).to(torch::kCPU).contiguous();
    out->assign(all.data_ptr<double>(), all.data_ptr<double>() + all.numel());
  }

 private:
  struct Batch {
    at::Tensor f, f64;            // [n, D] on the device
    at::Tensor logits, logits64;  // [n, K]: the head's, float32 as the model's, and float64
    at::Tensor pred;              // [n]: argmax of the float32 logits
  };
  using Method = at::Tensor (TorchFeatureScorer::*)(const Batch&) const;

  // 0 for a class with samples, -Inf for one without: added to per-class scores.
  at::Tensor Missing(const std::vector<std::int64_t>& counts) const {
    std::vector<double> missing;
    for (std::int64_t c : counts) missing.push_back(c == 0 ? -INFINITY : 0.0);
    return FromDoubles(missing, {static_cast<int64_t>(counts.size())}).to(device_);
  }

  // Each column's method: `columns` are the catalogue's kFit rows (FeatureScoreNames(), passed
  // in: this library cannot call the host's catalogue); a row without a method here is an
  // internal error at first use.
  static std::vector<Method> Methods(const std::vector<std::string>& columns) {
    static const std::pair<const char*, Method> kByName[] = {
        {"react_energy", &TorchFeatureScorer::React},
        {"ash_energy", &TorchFeatureScorer::Ash},
        {"mahalanobis", &TorchFeatureScorer::Mahalanobis},
        {"knn", &TorchFeatureScorer::Knn},
        {"vim", &TorchFeatureScorer::Vim},
        {"scale", &TorchFeatureScorer::Scale},
        {"dice", &TorchFeatureScorer::Dice},
        {"vra", &TorchFeatureScorer::Vra},
        {"fdbd", &TorchFeatureScorer::Fdbd},
        {"nci", &TorchFeatureScorer::Nci},
        {"gradnorm", &TorchFeatureScorer::GradNorm},
        {"she", &TorchFeatureScorer::She},
        {"residual", &TorchFeatureScorer::Residual},
        {"rmds", &TorchFeatureScorer::Rmds},
        {"klm", &TorchFeatureScorer::Klm},
        {"tempscale", &TorchFeatureScorer::TempScale},
        {"relation", &TorchFeatureScorer::Relation},
        {"nnguide", &TorchFeatureScorer::NnGuide},
    };
    std::vector<Method> methods;
    for (const std::string& name : columns) {
      const auto it = std::find_if(std::begin(kByName), std::end(kByName),
                                   [&](const auto& m) { return name == m.first; });
      if (it == std::end(kByName)) throw Error("internal error: no detector for '" + name + "'");
      methods.push_back(it->second);
    }
    return methods;
  }

  // ReAct: clip, head, energy.
  at::Tensor React(const Batch& b) const {
    return -torch::logsumexp(torch::addmm(b_, b.f.clamp_max(react_threshold_), w_.t()), 1);
  }

  // The top `keep` of each row and exp(row sum / kept sum); a row whose kept values sum to 0
  // (all zeros) gets exp(0) (the reference divides 0 by 0).
  static std::pair<at::Tensor, at::Tensor> TopAndScale(const at::Tensor& f, int64_t keep) {
    auto [kept, index] = f.topk(keep, 1);
    const at::Tensor s1 = f.sum(1), s2 = kept.sum(1);
    const at::Tensor scale = torch::where(s2 != 0, s1 / s2, torch::zeros_like(s1));
    return {torch::zeros_like(f).scatter(1, index, kept), torch::exp(scale).unsqueeze(1)};
  }

  // ASH-S: keep the top share, scale by exp(sum / kept sum), head, energy.
  at::Tensor Ash(const Batch& b) const {
    const auto [pruned, scale] = TopAndScale(b.f, ash_keep_);
    return -torch::logsumexp(torch::addmm(b_, pruned * scale, w_.t()), 1);
  }

  // SCALE: the whole vector scaled as ASH-S scales its kept part; OpenOOD's logsumexp.
  at::Tensor Scale(const Batch& b) const {
    const at::Tensor scale = TopAndScale(b.f, scale_keep_).second;
    return torch::logsumexp(torch::addmm(b_, b.f * scale, w_.t()), 1);
  }

  // DICE: the sparsified head's logsumexp.
  at::Tensor Dice(const Batch& b) const {
    return torch::logsumexp(torch::addmm(b_, b.f, dice_w_.t()), 1);
  }

  // VRA: f clipped to [q_low, q_high] of the ID activations; the head's logsumexp.
  at::Tensor Vra(const Batch& b) const {
    return torch::logsumexp(torch::addmm(b_, b.f.clamp(vra_low_, vra_high_), w_.t()), 1);
  }

  // fDBD: sum_j |l_p - l_j| / |w_p - w_j| over the distance |f - mean| (OpenOOD's default
  // normaliser), or over |f| (fdbd_distance 0).
  at::Tensor Fdbd(const Batch& b) const {
    const at::Tensor top = std::get<0>(b.logits.max(1, true)).to(torch::kFloat64);
    const at::Tensor gaps = (b.logits.to(torch::kFloat64) - top).abs();
    return (gaps / fdbd_denominator_.index_select(0, b.pred)).sum(1) /
           (fdbd_distance_ ? (b.f64 - train_mean_).norm(2, 1) : b.f64.norm(2, 1));
  }

  // NCI: w_p . (f - mean) / |f - mean| + alpha |f|_1.
  at::Tensor Nci(const Batch& b) const {
    const at::Tensor centred = b.f64 - train_mean_;
    return (w64_.index_select(0, b.pred) * centred).sum(1) / centred.norm(2, 1) +
           nci_alpha_ * b.f64.abs().sum(1);
  }

  // GradNorm: the L1 norm of d/dW of sum_k -log softmax_k(W f + b) (OpenOOD's all-ones
  // targets), (K p - 1) f^T, is |f|_1 * sum_k |K p_k - 1|.
  at::Tensor GradNorm(const Batch& b) const {
    const at::Tensor p = torch::softmax(b.logits64, 1);
    const double k = static_cast<double>(p.size(1));
    return b.f64.abs().sum(1) * (k * p - 1).abs().sum(1);
  }

  // SHE: the inner product with the predicted class's mean of right predictions.
  at::Tensor She(const Batch& b) const {
    return (b.f64 * she_means_.index_select(0, b.pred)).sum(1) +
           she_missing_.index_select(0, b.pred);
  }

  // -(f - mu)^T P (f - mu) = -(f P f - 2 f P mu + mu P mu) per class [n, K].
  at::Tensor ClassDistances(const Batch& b) const {
    return -((b.f64.mm(precision_) * b.f64).sum(1, true) - 2 * b.f64.mm(means_p_.t()) +
             means_term_.unsqueeze(0)) +
           missing_.unsqueeze(0);
  }

  // Mahalanobis: the largest over the classes.
  at::Tensor Mahalanobis(const Batch& b) const { return std::get<0>(ClassDistances(b).max(1)); }

  // RMDS: the class term less the background term -(f - m)^T P_all (f - m).
  at::Tensor Rmds(const Batch& b) const {
    const at::Tensor centred = b.f64 - train_mean_;
    const at::Tensor background = -(centred.mm(rmds_precision_) * centred).sum(1, true);
    return std::get<0>((ClassDistances(b) - background).max(1));
  }

  // KLM: -min over the templates q_c of KL(p || q_c) = sum p log p - p . log q_c, +Inf where
  // p_j > 0 meets q_cj = 0 (scipy.stats.entropy).
  at::Tensor Klm(const Batch& b) const {
    const at::Tensor p = torch::softmax(b.logits.to(torch::kFloat64), 1);
    const at::Tensor neg_entropy = torch::xlogy(p, p).sum(1, true);
    at::Tensor kl = neg_entropy - p.mm(klm_log_.t());
    kl = torch::where(p.gt(0).to(torch::kFloat64).mm(klm_zero_.t()).gt(0),
                      torch::full_like(kl, INFINITY), kl);
    return -std::get<0>(kl.min(1));
  }

  // tempscale: max softmax(logits / T), of the model's float32 logits (T was fitted on them).
  at::Tensor TempScale(const Batch& b) const {
    return std::get<0>(torch::softmax(b.logits.to(torch::kFloat64) / temperature_, 1).max(1));
  }

  // Relation (OpenOOD's, from the Neural Relation Graph code): over the training images b,
  // the sum of rel^pow where rel = max(zn . bn, 0) (p . p_b) exceeds 0.03; zn = z /
  // sqrt(|z|^2 + 1e-10) (the bank's 1e-10 is added to |b| instead: 1e-10 apart). Float32.
  at::Tensor Relation(const Batch& b) const {
    const at::Tensor q = b.f / ((b.f * b.f).sum(1, true) + 1e-10).sqrt();
    const at::Tensor p = torch::softmax(b.logits, 1);
    return BankBlocks(q, [&](int64_t i, int64_t m, const at::Tensor& dots) {
      const at::Tensor rel = dots.clamp_min(0) * p.narrow(0, i, m).mm(relation_probs_t_);
      const at::Tensor kept = rel * rel.gt(0.03);
      return (relation_pow_ == 1 ? kept : kept.pow(relation_pow_)).sum(1);
    });
  }

  // NNGuide: logsumexp(f) times the mean of the k largest inner products of z / |z| + 1e-10
  // with the guide bank (faiss IndexFlatIP, as OpenOOD's).
  at::Tensor NnGuide(const Batch& b) const {
    const at::Tensor q = UnitRows(b.f) + 1e-10;
    const at::Tensor top = std::get<0>(q.mm(nnguide_t_).topk(nnguide_k_, 1)).mean(1);
    return top * torch::logsumexp(b.logits, 1);
  }

  // `fn(first row, rows, q_block . bank^T)` over blocks of queries, so that a block's
  // product with the whole bank stays near 64 MB; the blocks' results concatenated.
  template <typename Fn>
  at::Tensor BankBlocks(const at::Tensor& q, Fn fn) const {
    const int64_t n = q.size(0), rows = std::max<int64_t>(1, (int64_t{16} << 20) / bank_rows_);
    std::vector<at::Tensor> parts;
    for (int64_t i = 0; i < n; i += rows) {
      const int64_t m = std::min<int64_t>(rows, n - i);
      parts.push_back(fn(i, m, q.narrow(0, i, m).mm(bank_t_)));
    }
    return torch::cat(parts);
  }

  // The k-th smallest squared distance |q|^2 + |b|^2 - 2 q.b to the bank, as faiss's
  // IndexFlatL2 computes it (clamped at 0). The k largest of 2 q.b - |b|^2 are the k
  // nearest: one matrix product and a top-k, queries in blocks so that a block's matrix
  // stays near 64 MB (measured: 1.7x faster than faiss, bench/bench_knn.py).
  at::Tensor Knn(const Batch& b) const {
    const at::Tensor q = b.f / (b.f.norm(2, 1, true) + 1e-10);
    const at::Tensor q_norms = (q * q).sum(1);
    return BankBlocks(q, [&](int64_t i, int64_t m, at::Tensor s) {
      s.mul_(2).sub_(bank_norms_);
      const at::Tensor kth = std::get<0>(std::get<0>(s.topk(knn_k_, 1, true, false)).min(1));
      return -(q_norms.narrow(0, i, m) - kth).clamp_min(0);
    });
  }

  // |(f - u) N|: the norm of the feature's part outside the principal subspace.
  at::Tensor ResidualNorm(const Batch& b) const {
    return (b.f64 - origin_).mm(complement_).norm(2, 1);
  }

  // ViM: the energy of the logits less alpha times the residual norm.
  at::Tensor Vim(const Batch& b) const {
    return torch::logsumexp(b.logits64, 1) - vim_alpha_ * ResidualNorm(b);
  }

  at::Tensor Residual(const Batch& b) const { return -ResidualNorm(b); }

  torch::Device device_;
  std::vector<bool> enabled_;  // per column, in FeatureScoreNames() order
  std::vector<Method> methods_;
  int64_t d_, knn_k_, bank_rows_;
  double react_threshold_, vim_alpha_, vra_low_, vra_high_, nci_alpha_, temperature_, relation_pow_;
  int64_t nnguide_k_;
  bool fdbd_distance_;
  at::Tensor w_, b_, w64_, b64_, precision_, means_p_, means_term_, missing_, bank_t_, bank_norms_,
      origin_, complement_, train_mean_, rmds_precision_, she_means_, she_missing_, klm_log_,
      klm_zero_, dice_w_, fdbd_denominator_, relation_probs_t_, nnguide_t_;
  int64_t ash_keep_ = 0, scale_keep_ = 0;
};

}  // namespace

std::unique_ptr<FeatureScorer> MakeTorchFeatureScorer(const DetectorFit& fit,
                                                      const std::string& device,
                                                      const std::vector<std::string>& columns,
                                                      const std::vector<bool>& enabled) {
  return std::make_unique<TorchFeatureScorer>(fit, ResolveDevice(device), columns, enabled);
}

}  // namespace oodscore
