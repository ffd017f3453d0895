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
echo "demo: open oodscore-report/report.html for the histograms and ROC curves" >&2
