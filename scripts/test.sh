#!/usr/bin/env bash
# Sets up (installs missing Debian packages, builds) and runs the whole test suite.
#   scripts/test.sh [CTEST_ARGS...]             the Release build in build/
#   scripts/test.sh --sanitize [CTEST_ARGS...]  an ASan + UBSan build in build-asan/ (or
#                                               SANITIZE=address,undefined scripts/test.sh);
#                                               any sanitizer report fails its test
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--sanitize" ]; then
  shift
  SANITIZE=${SANITIZE:-address,undefined}
fi
if [ -n "${SANITIZE:-}" ]; then
  BUILD_DIR=${BUILD_DIR:-build-asan}
  export CMAKE_ARGS="-DCMAKE_BUILD_TYPE=RelWithDebInfo -DOODSCORE_SANITIZE=$SANITIZE -DOODSCORE_BUILD_BENCHMARKS=OFF ${CMAKE_ARGS:-}"
  # LibTorch is not built with ASan: its own new/delete pairs and global definitions are out of
  # our hands, so those two checks are off. LeakSanitizer is off too: at the exit of a process
  # that ran LibTorch its tracer thread dies of SIGSEGV here ("LeakSanitizer has encountered a
  # fatal error"), which fails the run without a leak to show. Every other report stops the
  # process.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-alloc_dealloc_mismatch=0:detect_odr_violation=0:detect_leaks=0:halt_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
fi
BUILD_DIR=${BUILD_DIR:-build}
BUILD_DIR="$BUILD_DIR" scripts/setup.sh
# The Slurm test's cluster and data (CMake test slurm_recipe, scripts/test_slurm.sh), and zsh
# for the zsh completion's test. A machine that cannot install them still runs every other
# test; slurm_recipe and the zsh test then say they are skipped.
. scripts/lib.sh
install_missing test slurm-wlm munge dataset-fashion-mnist python3 zsh ||
  echo "test: could not install slurm-wlm, munge, dataset-fashion-mnist or zsh; slurm_recipe or the zsh completion test will be skipped" >&2
cd "$BUILD_DIR"
ctest --output-on-failure -j "$(nproc)" "$@"
