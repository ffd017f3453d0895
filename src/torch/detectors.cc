// The feature-space detectors' fit and scores, with LibTorch's BLAS and LAPACK
// (include/oodscore/detectors.h). Statistics are computed in float64; the scores in the
// precision OpenOOD computes them in (float32 for ReAct, ASH and KNN, float64 here for
// Mahalanobis and ViM, whose sums of squares lose digits in float32).
#include "oodscore/detectors.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

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

// numpy.percentile's default (linear) on all values.
double Percentile(const float* values, std::size_t n, double q) {
  std::vector<float> v(values, values + n);
  const double pos = q / 100.0 * static_cast<double>(n - 1);
  const std::size_t lo = static_cast<std::size_t>(std::floor(pos));
  std::nth_element(v.begin(), v.begin() + lo, v.end());
  const double a = v[lo];
  if (lo + 1 >= n) return a;
  const double b = *std::min_element(v.begin() + lo + 1, v.end());
  const double t = pos - lo;
  return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;  // numpy's _lerp
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

// The training features [n, D], walked in blocks converted to float64 one at a time, so that
// the fit holds little beyond the features and the bank (measured: README, 50,000 x 512).
struct TrainingSet {
  at::Tensor features;  // float32, not owned
  at::Tensor labels;    // int64
  int64_t n, d;

  int64_t Block() const { return std::max<int64_t>(1, (int64_t{4} << 20) / d); }  // rows

  void ForBlocks(const std::function<void(const at::Tensor& f, const at::Tensor& y)>& fn) const {
    for (int64_t i = 0; i < n; i += Block()) {
      const int64_t m = std::min(Block(), n - i);
      fn(features.narrow(0, i, m).to(torch::kFloat64), labels.narrow(0, i, m));
    }
  }
};

void CheckFitInputs(const int* labels, int64_t n, int64_t k, const DetectorFit& fit) {
  if (n < fit.settings.knn_k) {
    throw Error("fit needs at least knn_k = " + std::to_string(fit.settings.knn_k) +
                " training samples, got " + std::to_string(n));
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

// Mahalanobis (OpenOOD's MDS): class means; the covariance of the class-centred features
// (sklearn EmpiricalCovariance, assume_centered=False: less their mean, about 0), and its
// pseudo-inverse (pinvh).
void FitMahalanobis(const TrainingSet& train, int64_t k, DetectorFit* fit) {
  const int64_t d = train.d;
  const at::Tensor counts = torch::bincount(train.labels, {}, k);
  at::Tensor sums = torch::zeros({k, d}, torch::kFloat64);
  train.ForBlocks([&](const at::Tensor& f, const at::Tensor& y) { sums.index_add_(0, y, f); });
  const at::Tensor means = sums / counts.clamp_min(1).to(torch::kFloat64).unsqueeze(1);
  at::Tensor scatter = torch::zeros({d, d}, torch::kFloat64);
  at::Tensor centred_sum = torch::zeros({d}, torch::kFloat64);
  train.ForBlocks([&](const at::Tensor& f, const at::Tensor& y) {
    const at::Tensor c = f - means.index_select(0, y);
    scatter.addmm_(c.t(), c);
    centred_sum += c.sum(0);
  });
  const double n = static_cast<double>(train.n);
  const at::Tensor centred_mean = centred_sum / n;
  const at::Tensor cov = scatter / n - centred_mean.outer(centred_mean);
  fit->class_means = ToVector<double>(means);
  fit->class_counts = ToVector<int64_t>(counts);
  // The reference inverts in float32: drop eigenvalues below D * float32's epsilon of the
  // largest, as its pinvh does, not float64's (a near-dead unit would dominate the distance).
  const double rtol = static_cast<double>(d) * std::numeric_limits<float>::epsilon();
  fit->precision = ToVector<double>(torch::linalg_pinv(cov, c10::nullopt, rtol, true));
}

// KNN: features / (|f| + 1e-10), in float32 as the reference's numpy code.
void FitKnnBank(const TrainingSet& train, DetectorFit* fit) {
  fit->bank.resize(static_cast<std::size_t>(train.n * train.d));
  at::Tensor bank = torch::from_blob(fit->bank.data(), {train.n, train.d}, torch::kFloat32);
  for (int64_t i = 0; i < train.n; i += train.Block()) {
    const int64_t m = std::min(train.Block(), train.n - i);
    const at::Tensor f = train.features.narrow(0, i, m);
    bank.narrow(0, i, m).copy_(f / (f.norm(2, 1, /*keepdim=*/true) + 1e-10));
  }
}

// ViM: u = -pinv(W) b; the eigenvectors of the covariance of f - u (assume_centered) beyond
// the vim_dim largest eigenvalues; alpha = mean max logit / mean residual norm.
void FitVim(const TrainingSet& train, const HeadWeights& head, DetectorFit* fit) {
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
  const at::Tensor complement = eigenvectors.narrow(1, 0, d - fit->vim_dim).contiguous();
  double residual_sum = 0;
  train.ForBlocks([&](const at::Tensor& f, const at::Tensor&) {
    residual_sum += (f - u).mm(complement).norm(2, 1).sum().item<double>();
  });
  fit->vim_origin = ToVector<double>(u);
  fit->vim_complement = ToVector<double>(complement);
  fit->vim_alpha = max_logit_sum / residual_sum;
}

}  // namespace

DetectorFit FitTorchDetectors(const float* features, const int* labels, std::int64_t n,
                              const HeadWeights& head, const DetectorSettings& settings) {
  DetectorFit fit;
  fit.settings = settings;
  fit.head = head;
  fit.train_samples = n;
  fit.vim_dim = VimDim(head.dim, settings.vim_dim);
  CheckFitInputs(labels, n, head.classes, fit);
  torch::NoGradGuard no_grad;
  const TrainingSet train{
      torch::from_blob(const_cast<float*>(features), {n, head.dim}, torch::kFloat32),
      torch::from_blob(const_cast<int*>(labels), {n}, torch::kInt32).to(torch::kInt64), n,
      head.dim};
  FitMahalanobis(train, head.classes, &fit);
  FitKnnBank(train, &fit);
  FitVim(train, head, &fit);
  // ReAct: the percentile of every activation.
  fit.react_threshold =
      Percentile(features, static_cast<std::size_t>(n * head.dim), settings.react_percentile);
  return fit;
}

namespace {

class TorchFeatureScorer : public FeatureScorer {
 public:
  TorchFeatureScorer(const DetectorFit& fit, torch::Device device, std::vector<bool> enabled)
      : device_(device),
        enabled_(std::move(enabled)),
        d_(fit.head.dim),
        knn_k_(fit.settings.knn_k),
        bank_rows_(fit.train_samples),
        react_threshold_(fit.react_threshold),
        vim_alpha_(fit.vim_alpha) {
    const int64_t k = fit.head.classes, d = fit.head.dim;
    w_ = FromFloats(fit.head.weight, {k, d}).to(device_);
    b_ = FromFloats(fit.head.bias, {k}).to(device_);
    w64_ = w_.to(torch::kFloat64);
    b64_ = b_.to(torch::kFloat64);
    precision_ = FromDoubles(fit.precision, {d, d}).to(device_);
    const at::Tensor means = FromDoubles(fit.class_means, {k, d}).to(device_);
    means_p_ = means.mm(precision_);
    means_term_ = (means_p_ * means).sum(1);
    std::vector<double> missing;
    for (int64_t c : fit.class_counts) missing.push_back(c == 0 ? -INFINITY : 0.0);
    missing_ = FromDoubles(missing, {k}).to(device_);
    const at::Tensor bank = FromFloats(fit.bank, {fit.train_samples, d}).to(device_);
    bank_norms_ = (bank * bank).sum(1);
    bank_t_ = bank.t().contiguous();
    origin_ = FromDoubles(fit.vim_origin, {d}).to(device_);
    complement_ = FromDoubles(fit.vim_complement, {d, d - fit.vim_dim}).to(device_);
    ash_keep_ = AshKeep(d, fit.settings.ash_percentile);
  }

  void Score(const float* features, int n, std::vector<double>* out) override {
    torch::NoGradGuard no_grad;
    Batch batch;
    batch.f = torch::from_blob(const_cast<float*>(features), {n, d_}, torch::kFloat32).to(device_);
    batch.f64 = batch.f.to(torch::kFloat64);
    // One method per column, in FeatureScoreNames() order.
    static constexpr at::Tensor (TorchFeatureScorer::*kColumns[])(const Batch&) const = {
        &TorchFeatureScorer::React, &TorchFeatureScorer::Ash, &TorchFeatureScorer::Mahalanobis,
        &TorchFeatureScorer::Knn, &TorchFeatureScorer::Vim};
    std::vector<at::Tensor> columns;
    for (std::size_t c = 0; c < std::size(kColumns); ++c) {
      columns.push_back(enabled_[c] ? (this->*kColumns[c])(batch).to(torch::kFloat64)
                                    : torch::full({n}, NAN, batch.f64.options()));
    }
    const at::Tensor all = torch::stack(columns, 1).to(torch::kCPU).contiguous();
    out->assign(all.data_ptr<double>(), all.data_ptr<double>() + all.numel());
  }

 private:
  struct Batch {
    at::Tensor f, f64;  // [n, D] on the device
  };

  // ReAct: clip, head, energy.
  at::Tensor React(const Batch& b) const {
    return -torch::logsumexp(torch::addmm(b_, b.f.clamp_max(react_threshold_), w_.t()), 1);
  }

  // ASH-S: keep the top share, scale by exp(sum / kept sum), head, energy.
  at::Tensor Ash(const Batch& b) const {
    const auto [kept, index] = b.f.topk(ash_keep_, 1);
    const at::Tensor s1 = b.f.sum(1), s2 = kept.sum(1);
    // A vector whose kept values sum to 0 (all zeros) is left unscaled (the reference
    // divides 0 by 0).
    const at::Tensor scale = torch::where(s2 != 0, s1 / s2, torch::zeros_like(s1));
    const at::Tensor pruned =
        torch::zeros_like(b.f).scatter(1, index, kept) * torch::exp(scale).unsqueeze(1);
    return -torch::logsumexp(torch::addmm(b_, pruned, w_.t()), 1);
  }

  // -(f - mu)^T P (f - mu) = -(f P f - 2 f P mu + mu P mu), max over the classes.
  at::Tensor Mahalanobis(const Batch& b) const {
    const at::Tensor dist = (b.f64.mm(precision_) * b.f64).sum(1, true) -
                            2 * b.f64.mm(means_p_.t()) + means_term_.unsqueeze(0);
    return std::get<0>((-dist + missing_.unsqueeze(0)).max(1));
  }

  // The k-th smallest squared distance |q|^2 + |b|^2 - 2 q.b to the bank, as faiss's
  // IndexFlatL2 computes it (clamped at 0). The k largest of 2 q.b - |b|^2 are the k
  // nearest: one matrix product and a top-k, queries in blocks so that a block's matrix
  // stays near 64 MB (measured: 1.7x faster than faiss, bench/bench_knn.py).
  at::Tensor Knn(const Batch& b) const {
    const at::Tensor q = b.f / (b.f.norm(2, 1, true) + 1e-10);
    const at::Tensor q_norms = (q * q).sum(1);
    const int64_t n = q.size(0), rows = std::max<int64_t>(1, (int64_t{16} << 20) / bank_rows_);
    std::vector<at::Tensor> parts;
    for (int64_t i = 0; i < n; i += rows) {
      const int64_t m = std::min<int64_t>(rows, n - i);
      at::Tensor s = q.narrow(0, i, m).mm(bank_t_);
      s.mul_(2).sub_(bank_norms_);
      const at::Tensor kth = std::get<0>(std::get<0>(s.topk(knn_k_, 1, true, false)).min(1));
      parts.push_back(-(q_norms.narrow(0, i, m) - kth).clamp_min(0));
    }
    return torch::cat(parts);
  }

  // ViM: the energy of the logits less alpha times the residual norm.
  at::Tensor Vim(const Batch& b) const {
    const at::Tensor energy = torch::logsumexp(torch::addmm(b64_, b.f64, w64_.t()), 1);
    return energy - vim_alpha_ * (b.f64 - origin_).mm(complement_).norm(2, 1);
  }

  torch::Device device_;
  std::vector<bool> enabled_;  // per column, in FeatureScoreNames() order
  int64_t d_, knn_k_, bank_rows_;
  double react_threshold_, vim_alpha_;
  at::Tensor w_, b_, w64_, b64_, precision_, means_p_, means_term_, missing_, bank_t_, bank_norms_,
      origin_, complement_;
  int64_t ash_keep_ = 0;
};

}  // namespace

std::unique_ptr<FeatureScorer> MakeTorchFeatureScorer(const DetectorFit& fit,
                                                      const std::string& device,
                                                      const std::vector<bool>& enabled) {
  return std::make_unique<TorchFeatureScorer>(fit, ResolveDevice(device), enabled);
}

}  // namespace oodscore
