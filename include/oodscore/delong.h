// DeLong's test for the difference of two AUROCs (DeLong, DeLong & Clarke-Pearson 1988),
// computed from midranks in O(n log n) (Sun & Xu 2014), as pROC's roc.test(method = "delong")
// computes it.
//
// Scores are oriented (higher = more in-distribution) and ID is the positive class, so each
// AUC is the AUROC of ComputeMetrics (Mann-Whitney, ties count half), bit for bit.
//
//   oodscore::DelongResult r = oodscore::DelongPaired(id_a, ood_a, id_b, ood_b);
//   // r.auc_a, r.auc_b, r.z, r.p (two-sided)
//
// Paired: the same samples scored twice; id_a[i] and id_b[i] are the same sample's scores
// (ood likewise), and the AUCs' covariance enters the variance; the statistic is normal.
// Unpaired: independent samples of any sizes; as pROC, the statistic is referred to
// Student's t with Welch-Satterthwaite-like degrees of freedom.
// Degenerate variance, as pROC: paired, a zero difference over a zero variance gives z = 0,
// p = 1 (a nonzero one, z = +-inf, p = 0); unpaired, z and p are NaN.
// Standard library only.
#ifndef OODSCORE_DELONG_H_
#define OODSCORE_DELONG_H_

#include <vector>

namespace oodscore {

struct DelongResult {
  bool paired = false;
  double auc_a = 0, auc_b = 0;
  double var_a = 0, var_b = 0;  // the variance of each AUC estimate
  double covariance = 0;        // of the two AUC estimates; 0 when unpaired
  double variance = 0;          // of auc_a - auc_b: var_a + var_b - 2 covariance
  double z = 0;                 // (auc_a - auc_b) / sqrt(variance); unpaired, pROC's t
  double df = 0;                // unpaired: t's degrees of freedom; paired: +inf
  double p = 1;                 // two-sided
};

// Throws oodscore::Error for a set with fewer than 2 scores, a NaN score or, paired, sets
// of different sizes.
DelongResult DelongPaired(const std::vector<double>& id_a, const std::vector<double>& ood_a,
                          const std::vector<double>& id_b, const std::vector<double>& ood_b);
DelongResult DelongUnpaired(const std::vector<double>& id_a, const std::vector<double>& ood_a,
                            const std::vector<double>& id_b, const std::vector<double>& ood_b);

// P(|T| >= |t|) for Student's t with df > 0 degrees of freedom (df = +inf: normal). NaN in,
// NaN out.
double StudentTwoSidedP(double t, double df);

}  // namespace oodscore

#endif  // OODSCORE_DELONG_H_
