#!/usr/bin/env bash
# The CUDA path, checked on a machine with an NVIDIA GPU and a CUDA PyTorch in python3:
#   1. builds oodscore against that PyTorch's LibTorch (build-cuda/);
#   2. runs the whole test suite there (the CudaTest cases compare CPU and CUDA logits and
#      score files; the rest checks this LibTorch version);
#   3. runs the demo's eval on CPU and on CUDA (with --odin and, when the demo data has
#      id-train/, a fit) and compares every score and metric;
#   4. measures images/s of `oodscore score` on CPU, CUDA and CUDA float16 against a plain
#      PyTorch DataLoader loop on CUDA (ResNet-18, random weights, 256x256 JPEGs resized to
#      224x224), and the demo CNN on the demo's 28x28 PNGs.
# Everything it prints also lands in OUT_DIR (default cuda-check/).
#
#   scripts/cuda_check.sh [OUT_DIR]
# Environment:
#   DEPS_DEBS  folder of Debian 12 .deb files (CLI11, spdlog, fmt, nlohmann-json, turbojpeg,
#              libpng, libwebp, googletest, pkgconf) to unpack into a private prefix when the
#              machine has no such dev packages; nothing is installed into /.
#   DEMO_DATA  the demo's image folders (scripts/make_demo_data.py), default demo-data.
#   STEPS      which of "tests demo bench" to run after the build (default: all three).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=${1:-cuda-check}
DEMO_DATA=${DEMO_DATA:-demo-data}
STEPS=${STEPS:-tests demo bench}
want() { [[ " $STEPS " == *" $1 "* ]]; }
mkdir -p "$OUT_DIR"
exec > >(tee "$OUT_DIR/cuda_check.log") 2>&1
step() { echo; echo "=== $* ($(date +%T))"; }

PY=${PYTHON:-python3}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))'
TORCH_CMAKE=$($PY -c 'import torch; print(torch.utils.cmake_prefix_path)')
TORCH_ROOT=$($PY -c 'import torch, os; print(os.path.dirname(torch.__file__))')
ABI=$($PY -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')

step "dependencies"
cmake_args=(-DCMAKE_BUILD_TYPE=Release -DOODSCORE_BUILD_BENCHMARKS=OFF)
prefix_path="$TORCH_CMAKE"
if [ -n "${DEPS_DEBS:-}" ]; then
  DEPS=/tmp/oodscore-deps
  mkdir -p "$DEPS"
  for f in "$DEPS_DEBS"/*.deb; do
    if command -v dpkg-deb >/dev/null; then
      dpkg-deb -x "$f" "$DEPS"
    else
      (d=$(mktemp -d) && cd "$d" && ar x "$f" && tar -xf data.tar.* -C "$DEPS" && rm -rf "$d")
    fi
  done
  multiarch=$DEPS/usr/lib/x86_64-linux-gnu
  export LD_LIBRARY_PATH="$multiarch:${LD_LIBRARY_PATH:-}"
  export PKG_CONFIG_SYSROOT_DIR=$DEPS
  export PKG_CONFIG_LIBDIR=$multiarch/pkgconfig:$DEPS/usr/share/pkgconfig
  prefix_path="$prefix_path;$DEPS/usr"
  cmake_args+=(-DPKG_CONFIG_EXECUTABLE="$DEPS/usr/bin/pkgconf"
               -Dspdlog_DIR="$multiarch/cmake/spdlog" -Dfmt_DIR="$multiarch/cmake/fmt"
               -DGTest_DIR="$multiarch/cmake/GTest" -DCLI11_DIR="$DEPS/usr/share/cmake/CLI11"
               -Dnlohmann_json_DIR="$DEPS/usr/share/cmake/nlohmann_json")
fi
export LD_LIBRARY_PATH="$TORCH_ROOT/lib:${LD_LIBRARY_PATH:-}"
command -v ninja >/dev/null && cmake_args+=(-G Ninja)

step "build against $TORCH_ROOT (cxx11 abi $ABI)"
build() {  # build DIR EXTRA_CMAKE_ARGS...
  local dir=$1
  shift
  cmake -S . -B "$dir" "${cmake_args[@]}" -DCMAKE_PREFIX_PATH="$prefix_path" "$@" \
        >"$OUT_DIR/cmake-$dir.log" 2>&1 || { tail -40 "$OUT_DIR/cmake-$dir.log"; return 1; }
  cmake --build "$dir" -j "$(nproc)" >"$OUT_DIR/build-$dir.log" 2>&1 ||
    { grep -m 20 -B2 -A6 'error' "$OUT_DIR/build-$dir.log"; return 1; }
}
# A LibTorch whose own CMake config cannot find its CUDA toolkit pieces still links: describe
# it by hand (libtorch_cuda must stay linked although nothing names its symbols).
shim() {
  mkdir -p /tmp/torch-shim
  cat >/tmp/torch-shim/TorchConfig.cmake <<EOF
add_library(torch_shim INTERFACE)
target_include_directories(torch_shim INTERFACE "$TORCH_ROOT/include"
                           "$TORCH_ROOT/include/torch/csrc/api/include")
target_compile_definitions(torch_shim INTERFACE _GLIBCXX_USE_CXX11_ABI=$ABI)
target_link_libraries(torch_shim INTERFACE -Wl,--no-as-needed "$TORCH_ROOT/lib/libtorch_cuda.so"
  "$TORCH_ROOT/lib/libc10_cuda.so" -Wl,--as-needed "$TORCH_ROOT/lib/libtorch.so"
  "$TORCH_ROOT/lib/libtorch_cpu.so" "$TORCH_ROOT/lib/libc10.so")
set(TORCH_LIBRARIES torch_shim)
set(Torch_FOUND TRUE)
EOF
}
BUILD=build-cuda
if ! build $BUILD; then
  echo "--- retrying with C++20"
  if ! build $BUILD -DCMAKE_CXX_STANDARD=20; then
    echo "--- retrying with a hand-written Torch config"
    shim
    rm -rf $BUILD
    build $BUILD -DCMAKE_CXX_STANDARD=17 -DTorch_DIR=/tmp/torch-shim ||
      build $BUILD -DCMAKE_CXX_STANDARD=20 -DTorch_DIR=/tmp/torch-shim || exit 1
  fi
fi
BIN=$BUILD/oodscore
$BIN --version

if want tests; then
step "tests"
(cd $BUILD && ctest -j 8 --output-on-failure --timeout 300) >"$OUT_DIR/ctest.log" 2>&1
echo "ctest exit $?"
grep -E 'tests passed|tests failed|Failed|\*\*\*' "$OUT_DIR/ctest.log" | head -30
$BUILD/oodscore_tests --gtest_filter='CudaTest.*' 2>&1 | grep -E '^\[ *(OK|FAILED|SKIPPED|PASSED) |Failure|Expected|Which is'

fi

if want demo; then
step "demo: CPU against CUDA (fit on CPU; the fit's detectors and ODIN on each device)"
fit=()
if [ -d "$DEMO_DATA/id-train" ]; then
  $BIN fit -q --model models/fmnist5_cnn.pt --preset fashion-mnist --train "$DEMO_DATA/id-train" \
    -o "$OUT_DIR/demo.fit" && fit=(--fit "$OUT_DIR/demo.fit" --odin)
fi
for dev in cpu cuda; do
  $BIN eval -q --device $dev --model models/fmnist5_cnn.pt --preset fashion-mnist "${fit[@]}" \
    --id fmnist-0to4="$DEMO_DATA/id" --ood fmnist-5to9="$DEMO_DATA/near-ood" \
    --ood noise="$DEMO_DATA/noise" --out-dir "$OUT_DIR/demo-$dev" >/dev/null
  echo "eval --device $dev: exit $?"
done
$PY - "$OUT_DIR" <<'EOF'
import csv, json, sys
out = sys.argv[1]
rows = {d: list(csv.DictReader(open(f"{out}/demo-{d}/scores.csv"))) for d in ("cpu", "cuda")}
a, b = rows["cpu"], rows["cuda"]
assert [r["path"] for r in a] == [r["path"] for r in b], "rows differ"
cols = [c for c in a[0] if c not in ("set", "path", "label", "pred")]
print(f"{len(a)} rows; pred differs on {sum(x['pred'] != y['pred'] for x, y in zip(a, b))}")
for c in cols:
    d = max(abs(float(x[c]) - float(y[c])) for x, y in zip(a, b))
    print(f"  max |cpu - cuda| {c}: {d:.3g}")
ra, rb = (json.load(open(f"{out}/demo-{d}/report.json")) for d in ("cpu", "cuda"))
for sa, sb in zip(ra["ood"], rb["ood"]):
    for score, ma in sa["metrics"].items():
        mb = sb["metrics"][score]
        print(f"  {sa['name']:12s} {score:9s} fpr95 {100*ma['fpr_at_tpr']:.2f} / {100*mb['fpr_at_tpr']:.2f}"
              f"  auroc {100*ma['auroc']:.4f} / {100*mb['auroc']:.4f}")
print("run stamps:", ra["run"]["device"], ra["run"]["graph"], "|", rb["run"]["device"], rb["run"]["graph"])
EOF

fi

want bench || exit 0
step "throughput"
BENCH=/tmp/oodscore-cuda-bench
mkdir -p $BENCH
$PY - $BENCH <<'EOF'
import os, sys, torch, torchvision
from PIL import Image
import numpy as np
d = sys.argv[1]
torch.manual_seed(0)
m = torchvision.models.resnet18(weights=None).eval()
torch.jit.script(m).save(f"{d}/resnet18.pt")
rng = np.random.default_rng(0)
os.makedirs(f"{d}/jpg256", exist_ok=True)
base = rng.integers(0, 256, (64, 256, 256, 3), dtype=np.uint8)
for i in range(4000):
    Image.fromarray(np.roll(base[i % 64], i, axis=1)).save(f"{d}/jpg256/{i:05d}.jpg", quality=90)
print("made 4000 JPEGs and resnet18.pt")
EOF
cat >$BENCH/rgb224.json <<'EOF'
{"name": "rgb224", "mode": "RGB", "resize": [224, 224], "crop": null, "interpolation": "bilinear",
 "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
EOF
rate() {  # rate N COMMAND...: images/s over the whole process
  local n=$1 t0 t1
  shift
  t0=$(date +%s.%N)
  "$@" >"$OUT_DIR/last.out" 2>"$OUT_DIR/last.err" || { echo "failed: $*"; tail -3 "$OUT_DIR/last.err"; }
  t1=$(date +%s.%N)
  awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", n / (b - a)}'
}
pipe() { grep -o '([0-9]* img/s)' "$OUT_DIR/last.err" | tr -dc '0-9'; }
echo "| job | images | whole process, img/s | pipeline, img/s |"
echo "|---|---:|---:|---:|"
S="$BIN score --model $BENCH/resnet18.pt --preset $BENCH/rgb224.json --input $BENCH/jpg256 -o /dev/null --batch-size 128"
rate 4000 $S --device cuda >/dev/null  # warm the page cache and the driver
for mode in "cuda" "cuda --half" "cpu"; do
  r=$(rate 4000 $S --device $mode)
  echo "| oodscore score, ResNet-18 224px, --device $mode | 4000 | $r | $(pipe) |"
done
for workers in 8 16; do
  r=$(rate 4000 $PY bench/bench_pytorch_score.py --model $BENCH/resnet18.pt --data $BENCH/jpg256 \
      --mode RGB --size 224 224 --mean 0.485 0.456 0.406 --std 0.229 0.224 0.225 \
      --workers $workers --batch-size 128 --threads "$(nproc)" --device cuda)
  echo "| plain PyTorch DataLoader (workers $workers), ResNet-18 224px, cuda | 4000 | $r | $(tail -n 1 "$OUT_DIR/last.out") |"
done
n=$(find "$DEMO_DATA" -name '*.png' | wc -l)
for dev in cuda cpu; do
  r=$(rate "$n" $BIN score --device $dev --model models/fmnist5_cnn.pt --preset fashion-mnist \
      --input "$DEMO_DATA/id" --input "$DEMO_DATA/near-ood" --input "$DEMO_DATA/noise" -o /dev/null)
  echo "| oodscore score, demo CNN 28px, --device $dev | $n | $r | $(pipe) |"
done
nvidia-smi --query-gpu=name,utilization.gpu,memory.used --format=csv,noheader
echo "done"
