#include "oodscore/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <utility>

#include "oodscore/error.h"

namespace oodscore {
namespace {

using Count = std::uint64_t;

std::string FormatDouble(double x) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), x);
  return std::string(buf, r.ptr);
}

void CheckScores(const std::vector<double>& v, const char* set) {
  if (v.empty()) throw Error(std::string("no ") + set + " scores: the set is empty");
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (std::isnan(v[i])) {
      throw Error(std::string(set) + " score at index " + std::to_string(i) + " is nan");
    }
  }
}

void CheckTpr(double tpr) {
  if (!(tpr > 0 && tpr <= 1)) {
    throw Error("tpr must be in (0, 1], got " + FormatDouble(tpr), kExitUsage);
  }
}

// True when count / n reaches level, with the same double division scikit-learn uses for
// tpr = tps / tps[-1]. For a decimal level such as 0.95 this is exactly count >= ceil(level*n)
// (0.95 * 20 -> 19): k / n and the decimal differ by far more than an ulp unless equal.
bool Reaches(Count count, Count n, double level) {
  return static_cast<double>(count) / static_cast<double>(n) >= level;
}

// Radix key whose ascending unsigned order is the doubles' descending order. NaN excluded.
std::uint64_t DescendingKey(double x) {
  x += 0.0;  // -0.0 -> 0.0: one score
  std::uint64_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  const std::uint64_t ascending = (bits >> 63) ? ~bits : (bits | (std::uint64_t{1} << 63));
  return ~ascending;
}

double FromDescendingKey(std::uint64_t key) {
  const std::uint64_t ascending = ~key;
  const std::uint64_t bits =
      (ascending >> 63) ? (ascending & ~(std::uint64_t{1} << 63)) : ~ascending;
  double x;
  std::memcpy(&x, &bits, sizeof(x));
  return x;
}

// Descending, with no -0.0 and no NaN: the order SortedDescending() gives.
bool IsSortedDescending(const std::vector<double>& v) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (std::isnan(v[i]) || (v[i] == 0 && std::signbit(v[i])) || (i > 0 && v[i - 1] < v[i]))
      return false;
  }
  return true;
}

// Copy, map -0.0 to 0.0, sort descending. Large inputs use an LSD radix sort on the keys
// above (6 passes of 11 bits, passes where every key shares the digit skipped): about 4x
// faster than std::sort at 10M, for one extra buffer.
std::vector<double> SortedDescending(const std::vector<double>& v) {
  const std::size_t n = v.size();
  if (n < (1 << 14)) {
    std::vector<double> out(n);
    std::transform(v.begin(), v.end(), out.begin(), [](double x) { return x + 0.0; });
    std::sort(out.begin(), out.end(), std::greater<double>());
    return out;
  }
  constexpr int kBits = 11, kPasses = 6;
  constexpr std::size_t kBuckets = std::size_t{1} << kBits;
  std::vector<std::uint64_t> keys(n), tmp(n);
  std::vector<std::size_t> count(kPasses * kBuckets, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t k = keys[i] = DescendingKey(v[i]);
    for (int p = 0; p < kPasses; ++p) ++count[p * kBuckets + ((k >> (p * kBits)) & (kBuckets - 1))];
  }
  for (int p = 0; p < kPasses; ++p) {
    std::size_t* c = &count[p * kBuckets];
    if (*std::max_element(c, c + kBuckets) == n) continue;  // one digit everywhere
    std::size_t sum = 0;
    for (std::size_t b = 0; b < kBuckets; ++b) sum += std::exchange(c[b], sum);
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t k = keys[i];
      tmp[c[(k >> (p * kBits)) & (kBuckets - 1)]++] = k;
    }
    keys.swap(tmp);
  }
  std::vector<std::uint64_t>().swap(tmp);  // free before `out`: lower peak memory
  std::vector<double> out(n);
  std::transform(keys.begin(), keys.end(), out.begin(), FromDescendingKey);
  return out;
}

// Both sets in descending order: each input itself when it is already (SortDescending()),
// else a sorted copy in its store; two copies are made on two threads when both are large.
struct SortedPair {
  const std::vector<double>& id;
  const std::vector<double>& ood;
};
SortedPair SortBoth(const std::vector<double>& id, const std::vector<double>& ood,
                    std::vector<double>* id_sorted, std::vector<double>* ood_sorted) {
  const bool id_done = IsSortedDescending(id), ood_done = IsSortedDescending(ood);
  constexpr std::size_t kThreadMin = 1 << 16;
  if (id_done || ood_done) {
    if (!id_done) *id_sorted = SortedDescending(id);
    if (!ood_done) *ood_sorted = SortedDescending(ood);
  } else if (id.size() >= kThreadMin && ood.size() >= kThreadMin) {
    std::exception_ptr failure;  // e.g. bad_alloc: rethrown here, never lost in the thread
    std::thread t([&] {
      try {
        *ood_sorted = SortedDescending(ood);
      } catch (...) {
        failure = std::current_exception();
      }
    });
    try {
      *id_sorted = SortedDescending(id);
    } catch (...) {
      t.join();
      throw;
    }
    t.join();
    if (failure) std::rethrow_exception(failure);
  } else {
    *id_sorted = SortedDescending(id);
    *ood_sorted = SortedDescending(ood);
  }
  return {id_done ? id : *id_sorted, ood_done ? ood : *ood_sorted};
}

struct UnitWeight {
  Count operator()(std::size_t) const { return 1; }
};
struct CountWeight {
  const std::uint32_t* w;
  Count operator()(std::size_t i) const { return w[i]; }
};

// Merged walk over the distinct scores of two descending arrays, highest first, calling
// visit(score, id_weight, ood_weight) once per score whose total weight is nonzero.
template <typename IdWeight, typename OodWeight, typename Visit>
void WalkDescending(const std::vector<double>& a, const std::vector<double>& b, IdWeight wa,
                    OodWeight wb, Visit&& visit) {
  const std::size_t na = a.size(), nb = b.size();
  std::size_t i = 0, j = 0;
  while (i < na || j < nb) {
    const double v = (j >= nb || (i < na && a[i] >= b[j])) ? a[i] : b[j];
    Count ca = 0, cb = 0;
    for (; i < na && a[i] == v; ++i) ca += wa(i);
    for (; j < nb && b[j] == v; ++j) cb += wb(j);
    if (ca + cb > 0) visit(v, ca, cb);
  }
}

bool OodPositive(FprConvention c) {
  return c == FprConvention::kOpenOod || c == FprConvention::kPytorchOod;
}

// An operating point: its score and the cumulative ID / OOD counts it accepts (score >= v).
struct Point {
  double score = 0;
  Count id_above = 0, ood_above = 0;  // counts with score >= `score`
  Count id_at = 0;                    // ID count at exactly `score`
  bool set = false;
};

// Everything ComputeMetrics reports, accumulated over one descending walk of the distinct
// scores (the ROC vertices with ID positive). The OOD-positive conventions walk the same
// vertices in the other order; "at or below v" counts are n minus "strictly above v".
class Accumulator {
 public:
  Accumulator(Count n_id, Count n_ood, double level, FprConvention convention, bool areas)
      : n_id_(n_id), n_ood_(n_ood), level_(level), convention_(convention), areas_(areas) {}

  void Add(double v, Count id_w, Count ood_w) {
    const Count tp_before = tp_, fp_before = fp_;
    tp_ += id_w;
    fp_ += ood_w;
    // Mann-Whitney, doubled so ties count exactly: 2 * #(id > ood) + #(id == ood).
    u2_ += id_w * (2 * (n_ood_ - fp_before - ood_w) + ood_w);

    if (areas_) {
      const double nid = static_cast<double>(n_id_), nood = static_cast<double>(n_ood_);
      // ID positive: precision and recall after accepting this score.
      const double p_in = static_cast<double>(tp_) / static_cast<double>(tp_ + fp_);
      ap_in_ += static_cast<long double>(id_w) * p_in;
      trap_in_ += static_cast<long double>(id_w) / nid * ((p_in + prev_p_in_) * 0.5);
      prev_p_in_ = p_in;
      // OOD positive on negated scores: flagged = score <= v.
      const Count ood_le = n_ood_ - fp_before;
      const Count all_le = (n_id_ - tp_before) + ood_le;
      const double p_out = static_cast<double>(ood_le) / static_cast<double>(all_le);
      ap_out_ += static_cast<long double>(ood_w) * p_out;
      if (groups_ > 0) {
        trap_out_ += static_cast<long double>(prev_ood_w_) / nood * ((prev_p_out_ + p_out) * 0.5);
      }
      prev_p_out_ = p_out;
      // Detection error over this ROC vertex (ID positive).
      const double tpr = static_cast<double>(tp_) / nid, fpr = static_cast<double>(fp_) / nood;
      detection_error_ = std::min(detection_error_, 0.5 * (1 - tpr) + 0.5 * fpr);
    }

    switch (convention_) {
      case FprConvention::kExact:
        if (!chosen_.set && Reaches(tp_, n_id_, level_)) chosen_ = {v, tp_, fp_, id_w, true};
        break;
      case FprConvention::kHendrycks:
        // fpr_and_fdr_at_recall: vertices down to the first with recall 1, argmin
        // |recall - level| taking the lowest score among equal distances.
        if (!hendrycks_done_) {
          const double diff =
              std::fabs(static_cast<double>(tp_) / static_cast<double>(n_id_) - level_);
          if (diff <= hendrycks_best_) {
            hendrycks_best_ = diff;
            chosen_ = {v, tp_, fp_, id_w, true};
          }
          hendrycks_done_ = tp_ == n_id_;
        }
        break;
      case FprConvention::kOpenOod:
      case FprConvention::kPytorchOod: {
        // OOD recall at this vertex is #(ood <= v) / n_ood, non-increasing along the walk,
        // so the first vertex reaching the level in ascending order is the last one here.
        last_reaches_ = Reaches(n_ood_ - fp_before, n_ood_, level_);
        if (last_reaches_) {
          last_ = {v, tp_, fp_, id_w, true};
          // roc_curve(drop_intermediate=True) drops an inner vertex whose increments equal
          // the next one's (zero second difference); the extreme vertices always stay.
          const bool dropped = convention_ == FprConvention::kOpenOod && groups_ > 0 &&
                               id_w == prev_id_w_ && ood_w == prev_ood_w_;
          if (!dropped) chosen_ = last_;
        }
        break;
      }
    }
    prev_id_w_ = id_w;
    prev_ood_w_ = ood_w;
    ++groups_;
  }

  void Finish(Metrics* m) {
    const double nid = static_cast<double>(n_id_), nood = static_cast<double>(n_ood_);
    m->n_id = n_id_;
    m->n_ood = n_ood_;
    m->auroc = static_cast<double>(static_cast<long double>(u2_) /
                                   (2.0L * static_cast<long double>(n_id_) * n_ood_));
    if (convention_ == FprConvention::kOpenOod && last_reaches_) chosen_ = last_;  // last vertex
    const bool ood_positive = OodPositive(convention_);
    m->threshold = chosen_.score;
    if (ood_positive) {
      // The vertex flags score <= v: ID kept are those strictly above v.
      const Count id_kept = chosen_.id_above - chosen_.id_at;
      m->fpr_at_tpr = static_cast<double>(n_id_ - id_kept) / nid;
      m->tpr_achieved = static_cast<double>(id_kept) / nid;
    } else {
      m->fpr_at_tpr = static_cast<double>(chosen_.ood_above) / nood;
      m->tpr_achieved = static_cast<double>(chosen_.id_above) / nid;
    }
    if (!areas_) return;
    // The OOD-positive PR curve's last segment runs from the lowest score to (recall 0, 1).
    const long double trap_out =
        trap_out_ + static_cast<long double>(prev_ood_w_) / nood * ((prev_p_out_ + 1.0) * 0.5);
    m->aupr_is_trapezoid = ood_positive;
    m->aupr_in = static_cast<double>(ood_positive ? trap_in_ : ap_in_ / nid);
    m->aupr_out = static_cast<double>(ood_positive ? trap_out : ap_out_ / nood);
    m->detection_error = detection_error_;
  }

 private:
  const Count n_id_, n_ood_;
  const double level_;
  const FprConvention convention_;
  const bool areas_;
  Count tp_ = 0, fp_ = 0, u2_ = 0, groups_ = 0;
  Count prev_id_w_ = 0, prev_ood_w_ = 0;
  long double ap_in_ = 0, ap_out_ = 0, trap_in_ = 0, trap_out_ = 0;
  double prev_p_in_ = 1, prev_p_out_ = 0;
  double detection_error_ = 0.5;  // the (0, 0) vertex: accept nothing
  Point chosen_, last_;
  bool hendrycks_done_ = false, last_reaches_ = false;
  double hendrycks_best_ = std::numeric_limits<double>::infinity();
};

// The doubled pair count 2 * n_id * n_ood must fit in 64 bits.
void CheckPairCount(std::size_t n_id, std::size_t n_ood) {
  if (static_cast<long double>(n_id) * n_ood > 4e18L) {
    throw Error("score sets too large for exact pair counts: " + std::to_string(n_id) + " x " +
                std::to_string(n_ood));
  }
}

// Bootstrap with replacement. Resampling n items from an already sorted array is a
// multinomial count vector over its positions (n uniform draws, counted), so a resample is a
// weighted walk over the same sorted arrays: O(n) each, no re-sorting.
void DrawCounts(std::mt19937_64& rng, std::vector<std::uint32_t>* counts) {
  const std::size_t n = counts->size();
  std::fill(counts->begin(), counts->end(), 0);
  for (std::size_t i = 0; i < n; ++i) ++(*counts)[UniformIndex(rng, n)];
}

// auroc and fpr_at_tpr of one resample: counts over sorted positions, each summing to its
// set's size.
Metrics ResampleMetrics(const std::vector<double>& id, const std::vector<std::uint32_t>& wa,
                        const std::vector<double>& ood, const std::vector<std::uint32_t>& wb,
                        const MetricOptions& options) {
  Accumulator acc(id.size(), ood.size(), options.tpr, options.convention, /*areas=*/false);
  WalkDescending(id, ood, CountWeight{wa.data()}, CountWeight{wb.data()},
                 [&](double v, Count a, Count b) { acc.Add(v, a, b); });
  Metrics sample;
  acc.Finish(&sample);
  return sample;
}

// The percentile 95% intervals of the resamples' aurocs and fprs, into *m.
void SetIntervals(std::vector<double> aurocs, std::vector<double> fprs, Metrics* m) {
  std::sort(aurocs.begin(), aurocs.end());
  std::sort(fprs.begin(), fprs.end());
  m->has_ci = true;
  m->auroc_ci = {Percentile(aurocs, 0.025), Percentile(aurocs, 0.975)};
  m->fpr_ci = {Percentile(fprs, 0.025), Percentile(fprs, 0.975)};
}

// Draw order per resample: all ID positions, then all OOD positions, from one mt19937_64
// seeded with `seed`.
void Bootstrap(const std::vector<double>& id, const std::vector<double>& ood,
               const MetricOptions& options, Metrics* m) {
  std::mt19937_64 rng(options.seed);
  std::vector<std::uint32_t> wa(id.size()), wb(ood.size());
  std::vector<double> aurocs, fprs;
  aurocs.reserve(options.bootstrap);
  fprs.reserve(options.bootstrap);
  for (int r = 0; r < options.bootstrap; ++r) {
    DrawCounts(rng, &wa);
    DrawCounts(rng, &wb);
    const Metrics sample = ResampleMetrics(id, wa, ood, wb, options);
    aurocs.push_back(sample.auroc);
    fprs.push_back(sample.fpr_at_tpr);
  }
  SetIntervals(std::move(aurocs), std::move(fprs), m);
}

}  // namespace

std::size_t UniformIndex(std::mt19937_64& rng, std::uint64_t n) {
  const std::uint64_t rem = (std::numeric_limits<std::uint64_t>::max() % n + 1) % n;  // 2^64 % n
  std::uint64_t x = rng();
  if (rem != 0) {
    while (x >= 0 - rem) x = rng();  // reject the partial last block of 2^64
  }
  return static_cast<std::size_t>(x % n);
}

double Percentile(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const std::size_t lo = static_cast<std::size_t>(pos);
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

Metrics WeightedMetrics(const std::vector<double>& id_sorted,
                        const std::vector<std::uint32_t>& id_counts,
                        const std::vector<double>& ood_sorted,
                        const std::vector<std::uint32_t>& ood_counts,
                        const MetricOptions& options) {
  CheckScores(id_sorted, "id");
  CheckScores(ood_sorted, "ood");
  CheckTpr(options.tpr);
  if (id_counts.size() != id_sorted.size() || ood_counts.size() != ood_sorted.size()) {
    throw Error("weighted metrics: " + std::to_string(id_counts.size()) + " ID and " +
                std::to_string(ood_counts.size()) + " OOD counts for " +
                std::to_string(id_sorted.size()) + " ID and " + std::to_string(ood_sorted.size()) +
                " OOD scores");
  }
  if (!IsSortedDescending(id_sorted) || !IsSortedDescending(ood_sorted)) {
    throw Error("weighted metrics: the scores are not sorted descending (SortDescending)");
  }
  Count n_id = 0, n_ood = 0;
  for (std::uint32_t c : id_counts) n_id += c;
  for (std::uint32_t c : ood_counts) n_ood += c;
  if (n_id == 0 || n_ood == 0) throw Error("weighted metrics: a set's counts sum to 0");
  Accumulator acc(n_id, n_ood, options.tpr, options.convention, /*areas=*/true);
  WalkDescending(id_sorted, ood_sorted, CountWeight{id_counts.data()},
                 CountWeight{ood_counts.data()},
                 [&](double v, Count a, Count b) { acc.Add(v, a, b); });
  Metrics m;
  acc.Finish(&m);
  return m;
}

const char* ConventionName(FprConvention c) {
  switch (c) {
    case FprConvention::kExact:
      return "exact";
    case FprConvention::kHendrycks:
      return "hendrycks";
    case FprConvention::kOpenOod:
      return "openood";
    case FprConvention::kPytorchOod:
      return "pytorch-ood";
  }
  return "exact";
}

bool ParseConvention(const std::string& name, FprConvention* out) {
  for (FprConvention c : {FprConvention::kExact, FprConvention::kHendrycks, FprConvention::kOpenOod,
                          FprConvention::kPytorchOod}) {
    if (name == ConventionName(c)) {
      *out = c;
      return true;
    }
  }
  return false;
}

const char* ConventionPositiveClass(FprConvention c) { return OodPositive(c) ? "ood" : "id"; }

void SortDescending(std::vector<double>* scores) {
  if (std::any_of(scores->begin(), scores->end(), [](double x) { return std::isnan(x); })) return;
  *scores = SortedDescending(*scores);
}

Metrics ComputeMetrics(const std::vector<double>& id, const std::vector<double>& ood,
                       const MetricOptions& options) {
  CheckScores(id, "id");
  CheckScores(ood, "ood");
  CheckTpr(options.tpr);
  if (options.bootstrap < 0) {
    throw Error("bootstrap must be >= 0, got " + std::to_string(options.bootstrap), kExitUsage);
  }
  CheckPairCount(id.size(), ood.size());
  std::vector<double> id_store, ood_store;
  const SortedPair sorted = SortBoth(id, ood, &id_store, &ood_store);
  const std::vector<double>&a = sorted.id, &b = sorted.ood;
  Accumulator acc(a.size(), b.size(), options.tpr, options.convention, /*areas=*/true);
  WalkDescending(a, b, UnitWeight(), UnitWeight(),
                 [&](double v, Count ca, Count cb) { acc.Add(v, ca, cb); });
  Metrics m;
  acc.Finish(&m);
  if (options.bootstrap > 0) Bootstrap(a, b, options, &m);
  return m;
}

void BootstrapMeanOverSets(const std::vector<double>& id,
                           const std::vector<const std::vector<double>*>& ood,
                           const MetricOptions& options, Metrics* mean) {
  if (options.bootstrap < 1) {
    throw Error(
        "a mean row's bootstrap needs >= 1 resample, got " + std::to_string(options.bootstrap),
        kExitUsage);
  }
  if (ood.empty()) throw Error("a mean row's bootstrap needs an OOD set");
  CheckScores(id, "id");
  CheckTpr(options.tpr);
  std::vector<double> id_store;
  if (!IsSortedDescending(id)) id_store = SortedDescending(id);
  const std::vector<double>& a = id_store.empty() ? id : id_store;
  std::vector<std::vector<double>> ood_store(ood.size());
  std::vector<const std::vector<double>*> b(ood.size());
  for (std::size_t o = 0; o < ood.size(); ++o) {
    CheckScores(*ood[o], "ood");
    CheckPairCount(a.size(), ood[o]->size());
    if (IsSortedDescending(*ood[o])) {
      b[o] = ood[o];
    } else {
      ood_store[o] = SortedDescending(*ood[o]);
      b[o] = &ood_store[o];
    }
  }
  std::mt19937_64 rng(options.seed);
  std::vector<std::uint32_t> wa(a.size());
  std::vector<std::vector<std::uint32_t>> wb(b.size());
  for (std::size_t o = 0; o < b.size(); ++o) wb[o].resize(b[o]->size());
  std::vector<double> aurocs, fprs;
  aurocs.reserve(options.bootstrap);
  fprs.reserve(options.bootstrap);
  const double sets = static_cast<double>(b.size());
  for (int r = 0; r < options.bootstrap; ++r) {
    DrawCounts(rng, &wa);
    for (auto& w : wb) DrawCounts(rng, &w);
    double auroc = 0, fpr = 0;
    for (std::size_t o = 0; o < b.size(); ++o) {
      const Metrics sample = ResampleMetrics(a, wa, *b[o], wb[o], options);
      auroc += sample.auroc / sets;
      fpr += sample.fpr_at_tpr / sets;
    }
    aurocs.push_back(auroc);
    fprs.push_back(fpr);
  }
  SetIntervals(std::move(aurocs), std::move(fprs), mean);
}

IdThreshold ThresholdFromId(const std::vector<double>& id, double tpr) {
  CheckScores(id, "id");
  CheckTpr(tpr);
  const Count n = id.size();
  // k = the smallest count reaching tpr; start from the floating ceil and correct it.
  Count k = static_cast<Count>(std::ceil(static_cast<long double>(tpr) * n));
  k = std::min<Count>(std::max<Count>(k, 1), n);
  while (k > 1 && Reaches(k - 1, n, tpr)) --k;
  while (k < n && !Reaches(k, n, tpr)) ++k;
  std::vector<double> v(id.size());
  std::transform(id.begin(), id.end(), v.begin(), [](double x) { return x + 0.0; });
  std::nth_element(v.begin(), v.begin() + (k - 1), v.end(), std::greater<double>());
  IdThreshold out;
  out.threshold = v[k - 1];
  const auto kept = std::count_if(v.begin(), v.end(), [&](double x) { return x >= out.threshold; });
  out.tpr_achieved = static_cast<double>(kept) / static_cast<double>(n);
  out.n = id.size();
  return out;
}

std::vector<RocPoint> RocCurve(const std::vector<double>& id, const std::vector<double>& ood,
                               std::size_t max_points) {
  CheckScores(id, "id");
  CheckScores(ood, "ood");
  if (max_points < 2) {
    throw Error("roc curve needs max_points >= 2, got " + std::to_string(max_points), kExitUsage);
  }
  std::vector<double> id_store, ood_store;
  const SortedPair sorted = SortBoth(id, ood, &id_store, &ood_store);
  const std::vector<double>&a = sorted.id, &b = sorted.ood;
  std::size_t total = 1;  // (0, 0), then one vertex per distinct score
  WalkDescending(a, b, UnitWeight(), UnitWeight(), [&](double, Count, Count) { ++total; });
  const double nid = static_cast<double>(a.size()), nood = static_cast<double>(b.size());
  std::vector<RocPoint> out;
  out.reserve(std::min(total, max_points));
  out.push_back({0, 0});
  // Vertex index i is kept when it is the next of the evenly spaced picks round(j (total-1) /
  // (max_points-1)); with no thinning every index is a pick.
  const std::size_t picks = std::min(total, max_points);
  std::size_t next = 1, vertex = 0;
  auto pick = [&](std::size_t j) {
    return picks == total ? j : (j * (total - 1) + (picks - 1) / 2) / (picks - 1);
  };
  Count tp = 0, fp = 0;
  WalkDescending(a, b, UnitWeight(), UnitWeight(), [&](double, Count ca, Count cb) {
    tp += ca;
    fp += cb;
    ++vertex;
    if (next < picks && vertex == pick(next)) {
      out.push_back({static_cast<double>(fp) / nood, static_cast<double>(tp) / nid});
      ++next;
    }
  });
  return out;
}

}  // namespace oodscore
