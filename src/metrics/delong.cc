#include "oodscore/delong.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>

#include "oodscore/error.h"

namespace oodscore {
namespace {

using Count = std::uint64_t;

void CheckSet(const std::vector<double>& v, const char* name) {
  if (v.size() < 2) {
    throw Error(std::string("DeLong's test needs at least 2 ") + name + " scores, got " +
                std::to_string(v.size()));
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (std::isnan(v[i])) {
      throw Error(std::string(name) + " score at index " + std::to_string(i) + " is nan");
    }
  }
}

// Twice each value's midrank (1-based, ties sharing the mean of their ranks), in input order:
// a run of equal values at sorted positions [i, j) has ranks i + 1 .. j, twice their mean
// i + 1 + j, an integer.
std::vector<Count> TwiceMidranks(const std::vector<double>& v) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&v](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<Count> ranks(v.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j < order.size() && v[order[j]] == v[order[i]]) ++j;
    for (std::size_t k = i; k < j; ++k) ranks[order[k]] = static_cast<Count>(i + 1 + j);
    i = j;
  }
  return ranks;
}

// DeLong's placements (structural components) from midranks (Sun & Xu 2014): for ID score
// x_i, the share of OOD scores below it (ties half); for OOD score y_j, the share of ID
// scores above it (ties half). Both average to the AUC.
struct Placements {
  double auc = 0;
  std::vector<double> id, ood;
};

Placements Place(const std::vector<double>& id, const std::vector<double>& ood) {
  const std::size_t m = id.size(), n = ood.size();
  std::vector<double> all;
  all.reserve(m + n);
  all.insert(all.end(), id.begin(), id.end());
  all.insert(all.end(), ood.begin(), ood.end());
  const std::vector<Count> tz = TwiceMidranks(all);
  const std::vector<Count> tx = TwiceMidranks(id);
  const std::vector<Count> ty = TwiceMidranks(ood);
  Placements p;
  p.id.resize(m);
  p.ood.resize(n);
  Count u2 = 0;  // twice the Mann-Whitney U
  for (std::size_t i = 0; i < m; ++i) {
    const Count c = tz[i] - tx[i];  // twice #(ood < x_i) + #(ood == x_i)
    u2 += c;
    p.id[i] = static_cast<double>(c) / (2.0 * static_cast<double>(n));
  }
  for (std::size_t j = 0; j < n; ++j) {
    const Count c = tz[m + j] - ty[j];  // twice #(id < y_j) + #(id == y_j)
    p.ood[j] = 1.0 - static_cast<double>(c) / (2.0 * static_cast<double>(m));
  }
  // As ComputeMetrics rounds it, so the two AUROCs are equal.
  p.auc = static_cast<double>(static_cast<long double>(u2) /
                              (2.0L * static_cast<long double>(m) * static_cast<long double>(n)));
  return p;
}

// Sum of (a_k - ta)(b_k - tb) / (size - 1).
long double CoMoment(const std::vector<double>& a, double ta, const std::vector<double>& b,
                     double tb) {
  long double s = 0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    s += (static_cast<long double>(a[k]) - ta) * (static_cast<long double>(b[k]) - tb);
  }
  return s / static_cast<long double>(a.size() - 1);
}

// Sum of ((a_k - ta) - (b_k - tb))^2 / (size - 1): exactly 0 for equal inputs.
long double DiffMoment(const std::vector<double>& a, double ta, const std::vector<double>& b,
                       double tb) {
  long double s = 0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    const long double d =
        (static_cast<long double>(a[k]) - ta) - (static_cast<long double>(b[k]) - tb);
    s += d * d;
  }
  return s / static_cast<long double>(a.size() - 1);
}

double Variance(const Placements& p) {
  const long double m = static_cast<long double>(p.id.size());
  const long double n = static_cast<long double>(p.ood.size());
  return static_cast<double>(CoMoment(p.id, p.auc, p.id, p.auc) / m +
                             CoMoment(p.ood, p.auc, p.ood, p.auc) / n);
}

// Continued fraction of the regularised incomplete beta function (modified Lentz).
double BetaFraction(double a, double b, double x) {
  const double tiny = 1e-300, eps = 1e-16;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  if (std::fabs(d) < tiny) d = tiny;
  d = 1 / d;
  double h = d;
  for (int k = 1; k <= 100000; ++k) {
    const double m2 = 2.0 * k;
    double num = k * (b - k) * x / ((a + m2 - 1) * (a + m2));
    d = 1 + num * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    num = -(a + k) * (a + b + k) * x / ((a + m2) * (a + m2 + 1));
    d = 1 + num * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < eps) break;
  }
  return h;
}

// I_x(a, b), the regularised incomplete beta function, for x in [0, 1].
double IncompleteBeta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double front = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) +
                                a * std::log(x) + b * std::log1p(-x));
  if (x < (a + 1) / (a + b + 2)) return front * BetaFraction(a, b, x) / a;
  return 1 - front * BetaFraction(b, a, 1 - x) / b;
}

}  // namespace

double StudentTwoSidedP(double t, double df) {
  if (std::isnan(t) || std::isnan(df)) return std::numeric_limits<double>::quiet_NaN();
  if (std::isinf(df)) return std::erfc(std::fabs(t) / std::sqrt(2.0));
  if (std::isinf(t)) return 0;
  // P(|T| >= |t|) = I_{df / (df + t^2)}(df / 2, 1 / 2).
  const double t2 = t * t;
  return IncompleteBeta(df / 2, 0.5, df / (df + t2));
}

DelongResult DelongPaired(const std::vector<double>& id_a, const std::vector<double>& ood_a,
                          const std::vector<double>& id_b, const std::vector<double>& ood_b) {
  CheckSet(id_a, "first ID");
  CheckSet(ood_a, "first OOD");
  CheckSet(id_b, "second ID");
  CheckSet(ood_b, "second OOD");
  if (id_a.size() != id_b.size() || ood_a.size() != ood_b.size()) {
    throw Error("paired DeLong's test needs the same samples twice, got " +
                std::to_string(id_a.size()) + " + " + std::to_string(ood_a.size()) + " and " +
                std::to_string(id_b.size()) + " + " + std::to_string(ood_b.size()) + " scores");
  }
  const Placements a = Place(id_a, ood_a), b = Place(id_b, ood_b);
  const long double m = static_cast<long double>(id_a.size());
  const long double n = static_cast<long double>(ood_a.size());
  DelongResult r;
  r.paired = true;
  r.auc_a = a.auc;
  r.auc_b = b.auc;
  r.var_a = Variance(a);
  r.var_b = Variance(b);
  r.covariance = static_cast<double>(CoMoment(a.id, a.auc, b.id, b.auc) / m +
                                     CoMoment(a.ood, a.auc, b.ood, b.auc) / n);
  r.variance = static_cast<double>(DiffMoment(a.id, a.auc, b.id, b.auc) / m +
                                   DiffMoment(a.ood, a.auc, b.ood, b.auc) / n);
  r.df = std::numeric_limits<double>::infinity();
  const double d = r.auc_a - r.auc_b;
  if (r.variance == 0 && d == 0) {
    r.z = 0;  // pROC: identical curves differ by nothing
  } else {
    r.z = d / std::sqrt(r.variance);
  }
  r.p = std::erfc(std::fabs(r.z) / std::sqrt(2.0));
  return r;
}

DelongResult DelongUnpaired(const std::vector<double>& id_a, const std::vector<double>& ood_a,
                            const std::vector<double>& id_b, const std::vector<double>& ood_b) {
  CheckSet(id_a, "first ID");
  CheckSet(ood_a, "first OOD");
  CheckSet(id_b, "second ID");
  CheckSet(ood_b, "second OOD");
  const Placements a = Place(id_a, ood_a), b = Place(id_b, ood_b);
  DelongResult r;
  r.paired = false;
  r.auc_a = a.auc;
  r.auc_b = b.auc;
  r.var_a = Variance(a);
  r.var_b = Variance(b);
  r.covariance = 0;
  r.variance = r.var_a + r.var_b;
  r.z = (r.auc_a - r.auc_b) / std::sqrt(r.variance);  // NaN for 0 / 0, as pROC
  // pROC's degrees of freedom, with each curve's total sample count.
  const double na = static_cast<double>(id_a.size() + ood_a.size());
  const double nb = static_cast<double>(id_b.size() + ood_b.size());
  r.df = r.variance * r.variance / (r.var_a * r.var_a / (na - 1) + r.var_b * r.var_b / (nb - 1));
  r.p = StudentTwoSidedP(r.z, r.df);
  return r;
}

}  // namespace oodscore
