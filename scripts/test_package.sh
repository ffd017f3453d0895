#!/usr/bin/env bash
# The .deb that `cpack -G DEB` makes in BUILD_DIR (the CMake test `deb_package`): its
# dependencies are Debian 12 packages that apt can resolve on this machine (`apt-get install
# --simulate`, no change to the system), and, unpacked into an empty folder (dpkg-deb -x),
# its binary finds its model library, reads a model, scores, and has its man pages and
# completion.
#   scripts/test_package.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$build"
rm -f oodscore_*.deb
cpack -G DEB >"$work/cpack.log" 2>&1 || { cat "$work/cpack.log" >&2; exit 1; }
deb=$(ls "$build"/oodscore_*.deb)
depends=$(dpkg-deb -f "$deb" Depends)
echo "package: $(basename "$deb"), Depends: $depends"
case $depends in *libtorch1.13*) ;; *) echo "FAIL: no libtorch1.13 in Depends" >&2; exit 1 ;; esac
if command -v apt-get >/dev/null; then
  apt-get install --simulate "$deb" >"$work/apt.log" 2>&1 ||
    { cat "$work/apt.log" >&2; echo "FAIL: apt cannot install $deb" >&2; exit 1; }
  grep -E '^(Inst|Conf) oodscore|oodscore is already' "$work/apt.log" >/dev/null ||
    { cat "$work/apt.log" >&2; echo "FAIL: apt would not install oodscore" >&2; exit 1; }
fi
dpkg-deb -x "$deb" "$work/root"
bin=$work/root/usr/bin/oodscore
for f in usr/lib/oodscore/liboodscore_torch.so usr/share/man/man1/oodscore-score.1 \
    usr/share/bash-completion/completions/oodscore usr/share/zsh/vendor-completions/_oodscore \
    usr/share/oodscore/recipes/slurm/submit.sh usr/share/oodscore/presets/cifar10.json; do
  [ -e "$work/root/$f" ] || { echo "FAIL: the package lacks /$f" >&2; exit 1; }
done
"$bin" --version | tee "$work/version.txt"
grep -q '^LibTorch ' "$work/version.txt" || { echo "FAIL: the model library did not load" >&2; exit 1; }
# The demo model on one of its own preset's images: a score row.
mkdir -p "$work/img"
printf 'P5\n28 28\n255\n' >"$work/img/a.pgm"
head -c 784 /dev/zero >>"$work/img/a.pgm"
"$bin" score -q --model "$src/models/fmnist5_cnn.pt" --preset fashion-mnist -i "$work/img" \
  -o "$work/s.csv"
[ "$(wc -l <"$work/s.csv")" -eq 2 ] || { cat "$work/s.csv" >&2; echo "FAIL: no score row" >&2; exit 1; }
echo "deb_package: ok"
