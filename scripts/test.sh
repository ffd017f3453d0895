#!/usr/bin/env bash
# Sets up (installs missing Debian packages, builds) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
BUILD_DIR="$BUILD_DIR" scripts/setup.sh
cd "$BUILD_DIR"
ctest --output-on-failure -j "$(nproc)" "$@"
