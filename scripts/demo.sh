#!/usr/bin/env bash
# The embedded default: sets up oodscore (Debian packages + build), turns Debian's
# dataset-fashion-mnist into image folders, and runs `oodscore eval` with the shipped
# classifier (models/fmnist5_cnn.pt, trained on Fashion-MNIST classes 0-4):
#   ID        = test images of classes 0-4 (t-shirt, trouser, pullover, dress, coat)
#   near OOD  = test images of classes 5-9 (sandal, shirt, sneaker, bag, ankle boot)
#   far OOD   = 1000 Gaussian-noise images (fixed seed)
# First `oodscore fit` reads 10,000 ID training images (train split, classes 0-4) once, so that
# the report also holds the feature-space detectors (ReAct, ASH, Mahalanobis, KNN, ViM).
# The report lands in oodscore-report/ (report.md, report.html, report.json, scores.csv).
# Extra arguments go to `oodscore eval` (e.g. --fpr-convention hendrycks, --gate ...).
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/lib.sh
demo_setup
build/oodscore fit --model models/fmnist5_cnn.pt --preset fashion-mnist \
  --train demo-data/id-train -o demo-data/fmnist5_cnn.fit
build/oodscore eval \
  --model models/fmnist5_cnn.pt --preset fashion-mnist --fit demo-data/fmnist5_cnn.fit \
  --id fmnist-0to4=demo-data/id \
  --ood fmnist-5to9=demo-data/near-ood --ood noise=demo-data/noise \
  --out-dir oodscore-report "$@"
# One comparison with its statistics: is KNN's lead over energy on the near OOD set real, or
# noise? (DeLong's test on the same samples; the full table in oodscore-compare/compare.md.)
# Skipped when extra arguments left knn or energy out of the report.
if build/oodscore compare demo=oodscore-report --scores energy,knn --out-dir oodscore-compare \
  -q >/dev/null 2>&1; then
  python3 - oodscore-compare/compare.json <<'PY' >&2
import json, sys
c = next(x for x in json.load(open(sys.argv[1]))["comparisons"] if x["ood_set"] == "fmnist-5to9")
lo, hi = c["fpr_diff_ci"]
print(f"demo: {c['b']['score']} vs {c['a']['score']} on {c['ood_set']}: AUROC "
      f"{100 * c['b']['auroc']:.2f}% vs {100 * c['a']['auroc']:.2f}% ({100 * c['auroc_diff']:+.2f} pp, "
      f"DeLong p = {c['delong_p']:.3g}, {'paired' if c['paired'] else 'unpaired'}), FPR95 "
      f"{100 * c['b']['fpr_at_tpr']:.2f}% vs {100 * c['a']['fpr_at_tpr']:.2f}% "
      f"({100 * c['fpr_diff']:+.2f} pp, 95% CI [{100 * lo:+.2f}, {100 * hi:+.2f}])")
PY
fi
echo "demo: open oodscore-report/report.html for the histograms and ROC curves" >&2
