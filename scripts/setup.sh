#!/usr/bin/env bash
# Installs what oodscore needs from Debian 12's packages (only what is missing) and builds it
# into build/ (Release). Safe to run again: a second run installs nothing and rebuilds only
# what changed.
#   scripts/setup.sh            build everything (tool, tests, benchmarks)
#   BUILD_DIR=out scripts/setup.sh
#   CMAKE_ARGS="-DOODSCORE_SANITIZE=address,undefined" scripts/setup.sh   extra CMake options
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}
packages=(
  build-essential cmake pkg-config git
  libtorch-dev libopenblas0-pthread        # LibTorch 1.13 and an optimised BLAS behind it
  libcli11-dev libspdlog-dev nlohmann-json3-dev
  libturbojpeg0-dev libpng-dev libwebp-dev  # decoders that match PIL's pixels
  libgtest-dev libbenchmark-dev libxml2-utils  # xmllint validates the JUnit reports in tests
)
. scripts/lib.sh
install_missing setup "${packages[@]}"

jobs=$(nproc)
# LibTorch translation units need ~1.5 GiB each to compile; stay within memory.
mem_gib=$(awk '/MemTotal/ {print int($2 / 1048576)}' /proc/meminfo)
[ "$mem_gib" -lt $((jobs * 2)) ] && jobs=$(( mem_gib / 2 > 0 ? mem_gib / 2 : 1 ))
# shellcheck disable=SC2086  # CMAKE_ARGS holds several words on purpose
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j "$jobs"
echo "setup: built $BUILD_DIR/oodscore" >&2
