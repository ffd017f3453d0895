#!/usr/bin/env bash
# Checks that src/ is layered as CMakeLists.txt declares it: each file includes headers of its
# own layer (folder) or of a layer below, never of one above, and only src/torch/ includes
# LibTorch. Prints each offending include and exits 1; silent and 0 when the tree is clean.
#   scripts/check_layers.sh [SOURCE_DIR]
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"

# The layers each layer may include (its own included), as its library links them.
declare -A ALLOWED=(
  [base]="base"
  [metrics]="base metrics"
  [report]="base metrics report"
  [image]="base image"
  [model]="base metrics image model"
  [torch]="base metrics image model torch"
  [cli]="base metrics report image model cli"
)
# The layer of each library API header in include/oodscore/.
layer_of_api() {
  case $1 in
    error.h) echo base ;;
    compare.h | delong.h | metrics.h | scores.h | set_counts.h) echo metrics ;;
    card.h | class_breakdown.h | compare_report.h | gallery.h | gate.h | html_report.h | junit.h | report.h | report_folder.h | risk_coverage.h | score_table.h) echo report ;;
    augment.h | dataset.h | decode.h | image.h | npy.h | preprocess.h | preset.h | resample.h | thumbnail.h) echo image ;;
    detectors.h | model.h | pipeline.h | trainer.h) echo model ;;
    *) echo unknown ;;
  esac
}

bad=0
while IFS= read -r file; do
  layer=${file#src/}
  layer=${layer%%/*}
  if [ -z "${ALLOWED[$layer]+x}" ]; then
    echo "$file: src/$layer/ is not a layer of CMakeLists.txt" >&2
    bad=1
    continue
  fi
  while IFS= read -r line; do
    inc=${line#*\"}
    inc=${inc%\"*}
    case $inc in
      oodscore/*) to=$(layer_of_api "${inc#oodscore/}") ;;
      */*) to=${inc%%/*} ;;
      *) to=unknown ;;
    esac
    if [[ " ${ALLOWED[$layer]} " != *" $to "* ]]; then
      echo "$file: #include \"$inc\" reaches layer '$to' from layer '$layer'" >&2
      bad=1
    fi
  done < <(grep -E '^#include "' "$file" || true)
  if [ "$layer" != torch ] && grep -qE '^#include <(torch|ATen|c10)/' "$file"; then
    echo "$file: includes LibTorch outside src/torch/" >&2
    bad=1
  fi
done < <(find src -type f \( -name '*.cc' -o -name '*.h' -o -name '*.in' \) | sort)
if grep -lE '^#include <(torch|ATen|c10)/' include/oodscore/*.h; then
  echo "include/oodscore/: the library API includes LibTorch" >&2
  bad=1
fi
exit $bad
