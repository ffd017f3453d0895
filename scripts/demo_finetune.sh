#!/usr/bin/env bash
# The method's second half on the demo: energy-bounded fine-tuning of the shipped classifier
# (models/fmnist5_cnn.pt), then `oodscore eval` before and after on the same test sets.
#   ID train   = Fashion-MNIST train images of classes 0-4 (30,000)
#   auxiliary  = 10,000 outliers made from those training images by shuffling their 7x7
#                patches (scripts/make_finetune_data.py): neither classes 5-9 nor noise, so
#                the test OOD sets (near: test classes 5-9; far: Gaussian noise) stay unseen
# Reports land in oodscore-finetune/{before,after}/; the tuned model in
# oodscore-finetune/fmnist5_cnn_energy.pt (+ .json: losses, margins, validation per epoch).
# Extra arguments go to `oodscore finetune` (e.g. --epochs 3, --seed 2).
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/lib.sh
demo_setup
python3 scripts/make_finetune_data.py demo-data/finetune
out=oodscore-finetune
sets=(--id fmnist-0to4=demo-data/id --ood fmnist-5to9=demo-data/near-ood --ood noise=demo-data/noise)
build/oodscore eval -q --model models/fmnist5_cnn.pt --preset fashion-mnist "${sets[@]}" \
  --out-dir "$out/before" > /dev/null
build/oodscore finetune --model models/fmnist5_cnn.pt --preset fashion-mnist \
  --train demo-data/finetune/train --aux demo-data/finetune/aux --seed 1 \
  -o "$out/fmnist5_cnn_energy.pt" "$@"
build/oodscore eval -q --model "$out/fmnist5_cnn_energy.pt" --preset fashion-mnist "${sets[@]}" \
  --out-dir "$out/after" > /dev/null
for stage in before after; do
  echo
  echo "## $stage fine-tuning ($out/$stage/report.md)"
  sed -n '/^| OOD set /,/^$/p' "$out/$stage/report.md"
  grep -m1 -o 'accuracy [0-9.]*%' "$out/$stage/report.md" | sed 's/^/ID /'
done
