#!/usr/bin/env bash
# Throughput of `oodscore score` against the same job in plain PyTorch, on two folders of
# 10,000 images each (made once, fixed seed):
#   png28: 28x28 greyscale PNGs, the shipped Fashion-MNIST CNN, preset fashion-mnist;
#   jpg32: RGB JPEGs of 96-200 px resized to 32x32 (preset cifar10), an untrained CNN of the
#          same size (bench/make_bench_model.py).
# For each it prints, in images/s:
#   (a) oodscore score: whole process (wall clock, median of RUNS) and the pipeline alone
#       (from model loaded to last row written, as oodscore logs it);
#   (b) each stage alone on all cores (build/stage_bench): decode + preprocess, and the
#       model's forward on pre-made batches; limit = 1 / (1/decode + 1/forward);
#   (c) plain PyTorch (torchvision ImageFolder + DataLoader + TorchScript under
#       inference_mode, bench/bench_pytorch_score.py): the faster of num_workers 0 and 2,
#       whole process and its own timing from dataset construction on.
# Needs a build (scripts/setup.sh) and Debian's python3-torch, python3-torchvision,
# python3-pil, python3-numpy and dataset-fashion-mnist.
#   bench/bench_score.sh [DATA_DIR=/tmp/oodscore-bench] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-/tmp/oodscore-bench}
RUNS=${2:-3}
PY=/usr/bin/python3
BIN=build/oodscore

$PY bench/make_bench_data.py "$DATA" >&2
[ -f "$DATA/rgb32_cnn.pt" ] || $PY bench/make_bench_model.py "$DATA/rgb32_cnn.pt"

median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

# wall seconds of one run of a command, its stderr kept in $DATA/last.err
wall() {
  /usr/bin/time -f '%e' -o "$DATA/time.txt" "$@" >/dev/null 2>"$DATA/last.err"
  cat "$DATA/time.txt"
}

bench() {  # name model preset mode H W mean... -- std...
  local name=$1 model=$2 preset=$3 mode=$4 h=$5 w=$6 mean=$7 std=$8
  local dir="$DATA/$name" n
  n=$(find "$dir" -type f \( -name '*.png' -o -name '*.jpg' \) | wc -l)
  local a_wall=() a_pipe=() c_best_wall=0 c_best_own=0 c_workers=0
  for _ in $(seq "$RUNS"); do
    a_wall+=("$(wall $BIN score --model "$model" --preset "$preset" --input "$dir" -o /dev/null)")
    a_pipe+=("$(grep -o '([0-9]* img/s)' "$DATA/last.err" | tr -dc '0-9')")
  done
  local stages
  # Under the OpenMP wait policy that `oodscore score` runs with.
  stages=$(OMP_WAIT_POLICY=PASSIVE build/stage_bench "$model" "$preset" "$dir" 64)
  for workers in 0 2; do
    local t own
    t=$(wall $PY bench/bench_pytorch_score.py --model "$model" --data "$dir" --mode "$mode" \
          --size "$h" "$w" --mean $mean --std $std --workers "$workers" --batch-size 256)
    own=$($PY bench/bench_pytorch_score.py --model "$model" --data "$dir" --mode "$mode" \
          --size "$h" "$w" --mean $mean --std $std --workers "$workers" --batch-size 256 |
          tail -n 1 | $PY -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])')
    if awk -v a="$n" -v t="$t" -v b="$c_best_wall" 'BEGIN {exit !(a / t > b)}'; then
      c_best_wall=$(awk -v a="$n" -v t="$t" 'BEGIN {printf "%.1f", a / t}')
      c_best_own=$own
      c_workers=$workers
    fi
  done
  local a_med a_pipe_med
  a_med=$(printf '%s\n' "${a_wall[@]}" | median)
  a_pipe_med=$(printf '%s\n' "${a_pipe[@]}" | median)
  $PY - "$name" "$n" "$a_med" "$a_pipe_med" "$stages" "$c_best_wall" "$c_best_own" "$c_workers" <<'PYEOF'
import json, sys
name, n, a_wall, a_pipe, stages, c_wall, c_own, c_workers = sys.argv[1:]
n = int(n); a = n / float(a_wall); a_pipe = float(a_pipe); s = json.loads(stages)
c_wall = float(c_wall); c_own = float(c_own)
print(f"| {name} | {n} | {a:.0f} | {a_pipe:.0f} | {s['decode_images_per_s']:.0f} | "
      f"{s['forward_images_per_s']:.0f} | {s['limit_images_per_s']:.0f} | {c_wall:.0f} "
      f"(own timing {c_own:.0f}, workers {c_workers}) | {a / c_wall:.1f}x | "
      f"{a_pipe / c_own:.1f}x | {a_pipe / s['limit_images_per_s']:.2f} |")
PYEOF
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(lscpu | sed -n 's/^Model name: *//p')"
echo
echo "| set | images | (a) oodscore, whole process | (a) pipeline | (b) decode | (b) forward | limit | (c) PyTorch, whole process | (a)/(c) whole | (a)/(c) own timings | (a) pipeline / limit |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
bench png28 models/fmnist5_cnn.pt fashion-mnist L 28 28 0.2860 0.3530
bench jpg32 "$DATA/rgb32_cnn.pt" cifar10 RGB 32 32 \
  "0.4913725490196078 0.4823529411764706 0.4466666666666667" \
  "0.24705882352941178 0.24352941176470588 0.2615686274509804"
