#include "oodscore/compare.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <unordered_map>

#include "oodscore/error.h"

namespace oodscore {
namespace {

// One set of one column, sorted once for the weighted walks: sorted[k] is the score of sample
// order[k] (descending, -0.0 as 0.0, ties in sample order).
class SortedSet {
 public:
  explicit SortedSet(const std::vector<double>& values) : order_(values.size()) {
    std::iota(order_.begin(), order_.end(), std::size_t{0});
    std::stable_sort(order_.begin(), order_.end(),
                     [&](std::size_t x, std::size_t y) { return values[x] > values[y]; });
    sorted_.reserve(values.size());
    for (std::size_t i : order_) sorted_.push_back(values[i] + 0.0);  // -0.0 + 0.0 is 0.0
    counts_.resize(values.size());
  }
  const std::vector<double>& sorted() const { return sorted_; }
  // A resample's counts by sample index, put in sorted order.
  const std::vector<std::uint32_t>& Counts(const std::vector<std::uint32_t>& by_sample) {
    for (std::size_t k = 0; k < order_.size(); ++k) counts_[k] = by_sample[order_[k]];
    return counts_;
  }

 private:
  std::vector<std::size_t> order_;
  std::vector<double> sorted_;
  std::vector<std::uint32_t> counts_;
};

// n draws with replacement from n samples, as counts by sample index.
void Draw(std::mt19937_64& rng, std::vector<std::uint32_t>* counts) {
  std::fill(counts->begin(), counts->end(), 0);
  const std::size_t n = counts->size();
  for (std::size_t i = 0; i < n; ++i) ++(*counts)[UniformIndex(rng, n)];
}

void CheckSets(const std::vector<double>& id_a, const std::vector<double>& ood_a,
               const std::vector<double>& id_b, const std::vector<double>& ood_b,
               const CompareOptions& options) {
  if (options.bootstrap < 0) {
    throw Error("bootstrap must be >= 0, got " + std::to_string(options.bootstrap), kExitUsage);
  }
  const std::vector<const std::vector<double>*> sets = {&id_a, &ood_a, &id_b, &ood_b};
  const char* names[] = {"a's ID", "a's OOD", "b's ID", "b's OOD"};
  for (std::size_t i = 0; i < sets.size(); ++i) {
    if (sets[i]->size() < 2) {
      throw Error(std::string("comparing two columns needs at least 2 scores in each set; ") +
                  names[i] + " set has " + std::to_string(sets[i]->size()));
    }
  }
}

// The point estimates, before any resample.
PairComparison Estimate(const std::vector<double>& id_a, const std::vector<double>& ood_a,
                        const std::vector<double>& id_b, const std::vector<double>& ood_b,
                        const CompareOptions& options, bool paired) {
  PairComparison c;
  c.paired = paired;
  MetricOptions m = options.metric;
  m.bootstrap = 0;
  c.a = ComputeMetrics(id_a, ood_a, m);
  c.b = ComputeMetrics(id_b, ood_b, m);
  c.delong =
      paired ? DelongPaired(id_b, ood_b, id_a, ood_a) : DelongUnpaired(id_b, ood_b, id_a, ood_a);
  c.auroc_diff = c.b.auroc - c.a.auroc;
  c.fpr_diff = c.b.fpr_at_tpr - c.a.fpr_at_tpr;
  c.aupr_in_diff = c.b.aupr_in - c.a.aupr_in;
  return c;
}

// The percentile intervals of the differences from the resamples' values.
void SetIntervals(std::vector<double> fpr, std::vector<double> aupr, PairComparison* c) {
  std::sort(fpr.begin(), fpr.end());
  std::sort(aupr.begin(), aupr.end());
  c->has_ci = true;
  c->resamples = static_cast<int>(fpr.size());
  c->fpr_diff_ci = {Percentile(fpr, 0.025), Percentile(fpr, 0.975)};
  c->aupr_in_diff_ci = {Percentile(aupr, 0.025), Percentile(aupr, 0.975)};
}

// The percentile intervals of the FPR and AUPR-in differences b - a over options.bootstrap
// resamples. Paired: one draw of sample positions serves both columns (ID, then OOD);
// unpaired: each column's own draws (a's ID, a's OOD, b's ID, b's OOD).
void Bootstrap(const std::vector<double>& id_a, const std::vector<double>& ood_a,
               const std::vector<double>& id_b, const std::vector<double>& ood_b,
               const CompareOptions& options, bool paired, PairComparison* c) {
  if (options.bootstrap == 0) return;
  SortedSet sa_id(id_a), sa_ood(ood_a), sb_id(id_b), sb_ood(ood_b);
  std::vector<std::uint32_t> wa_id(id_a.size()), wa_ood(ood_a.size());
  std::vector<std::uint32_t> wb_id(paired ? 0 : id_b.size()), wb_ood(paired ? 0 : ood_b.size());
  const std::vector<std::uint32_t>& b_id = paired ? wa_id : wb_id;
  const std::vector<std::uint32_t>& b_ood = paired ? wa_ood : wb_ood;
  std::vector<double> fpr, aupr;
  std::mt19937_64 rng(options.seed);
  for (int r = 0; r < options.bootstrap; ++r) {
    Draw(rng, &wa_id);
    Draw(rng, &wa_ood);
    if (!paired) {
      Draw(rng, &wb_id);
      Draw(rng, &wb_ood);
    }
    const Metrics ma = WeightedMetrics(sa_id.sorted(), sa_id.Counts(wa_id), sa_ood.sorted(),
                                       sa_ood.Counts(wa_ood), options.metric);
    const Metrics mb = WeightedMetrics(sb_id.sorted(), sb_id.Counts(b_id), sb_ood.sorted(),
                                       sb_ood.Counts(b_ood), options.metric);
    fpr.push_back(mb.fpr_at_tpr - ma.fpr_at_tpr);
    aupr.push_back(mb.aupr_in - ma.aupr_in);
  }
  SetIntervals(std::move(fpr), std::move(aupr), c);
}

}  // namespace

Paired PairByKey(const KeyedScores& a, const KeyedScores& b, const std::string& what) {
  if (a.keys.size() != a.values.size() || b.keys.size() != b.values.size()) {
    throw Error(what + ": keys and scores of different lengths");
  }
  auto index = [&](const KeyedScores& s, const char* column) {
    std::unordered_map<std::string, std::size_t> at;
    at.reserve(s.keys.size());
    for (std::size_t i = 0; i < s.keys.size(); ++i) {
      if (!at.emplace(s.keys[i], i).second) {
        throw Error(what + ": sample '" + s.keys[i] + "' appears twice in " + column +
                    ", so its scores cannot be paired");
      }
    }
    return at;
  };
  index(a, "the first column");
  const auto in_b = index(b, "the second column");
  Paired p;
  std::size_t matched = 0;
  for (std::size_t i = 0; i < a.keys.size(); ++i) {
    const auto it = in_b.find(a.keys[i]);
    if (it == in_b.end()) {
      ++p.only_a;
      continue;
    }
    p.a.push_back(a.values[i]);
    p.b.push_back(b.values[it->second]);
    ++matched;
  }
  p.only_b = b.keys.size() - matched;
  return p;
}

PairComparison ComparePaired(const std::vector<double>& id_a, const std::vector<double>& ood_a,
                             const std::vector<double>& id_b, const std::vector<double>& ood_b,
                             const CompareOptions& options) {
  CheckSets(id_a, ood_a, id_b, ood_b, options);
  if (id_a.size() != id_b.size() || ood_a.size() != ood_b.size()) {
    throw Error("paired columns need the same samples: a has " + std::to_string(id_a.size()) +
                " ID and " + std::to_string(ood_a.size()) + " OOD scores, b " +
                std::to_string(id_b.size()) + " and " + std::to_string(ood_b.size()));
  }
  PairComparison c = Estimate(id_a, ood_a, id_b, ood_b, options, /*paired=*/true);
  Bootstrap(id_a, ood_a, id_b, ood_b, options, /*paired=*/true, &c);
  return c;
}

PairComparison CompareUnpaired(const std::vector<double>& id_a, const std::vector<double>& ood_a,
                               const std::vector<double>& id_b, const std::vector<double>& ood_b,
                               const CompareOptions& options) {
  CheckSets(id_a, ood_a, id_b, ood_b, options);
  PairComparison c = Estimate(id_a, ood_a, id_b, ood_b, options, /*paired=*/false);
  Bootstrap(id_a, ood_a, id_b, ood_b, options, /*paired=*/false, &c);
  return c;
}

}  // namespace oodscore
