#!/usr/bin/env bash
# Fuzzes every parser that reads users' files (score CSVs, list files, .npy headers, preset
# JSON, detector cards, fit files, score stamps, baseline reports, gate expressions, and the PNG,
# JPEG, BMP, PNM and WebP decoders) with libFuzzer under ASan + UBSan.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET=60]
#
# Builds the targets with Debian's clang into build-fuzz/ (installing clang if missing), then
# runs each for the given time on a scratch copy of its seed corpus, tests/fuzz/corpus/<target>/
# (read, never written). A crash, leak, timeout (10 s) or allocation over 2 GB fails the run:
# the input is saved as tests/fuzz/corpus/<target>/crash-<sha1>, where, once the bug is fixed,
# the normal test suite keeps running it (tests/fuzz_corpus_test.cc).
set -euo pipefail
cd "$(dirname "$0")/.."
per_target=${1:-60}
. scripts/lib.sh
install_missing fuzz clang libclang-rt-14-dev cmake pkg-config nlohmann-json3-dev \
  libturbojpeg0-dev libpng-dev libwebp-dev
cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DOODSCORE_FUZZ=ON >/dev/null
cmake --build build-fuzz -j "$(nproc)" >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
for corpus in tests/fuzz/corpus/*/; do
  target=$(basename "$corpus")
  mkdir -p "$work/$target" "$work/$target.crash"
  if ! build-fuzz/fuzz_"$target" -max_total_time="$per_target" -timeout=10 -rss_limit_mb=2048 \
      -max_len=65536 -artifact_prefix="$work/$target.crash/" "$work/$target" "$corpus" \
      >"$work/$target.log" 2>&1; then
    failed=1
    for f in "$work/$target.crash"/*; do
      [ -f "$f" ] || continue
      saved="$corpus/crash-$(sha1sum <"$f" | cut -c1-12)"
      cp "$f" "$saved"
      echo "fuzz: $target: FAILED; input saved as $saved" >&2
    done
    grep -E 'ERROR|SUMMARY|#[0-9]+ 0x' "$work/$target.log" | head -30 >&2
  fi
  runs=$(grep -o 'Done [0-9]* runs' "$work/$target.log" | tail -1 || true)
  echo "fuzz: $target: ${runs:-no summary} in ${per_target}s" >&2
done
[ "$failed" -eq 0 ] && echo "fuzz: no crash in $(ls -d tests/fuzz/corpus/*/ | wc -l) targets" >&2
exit "$failed"
