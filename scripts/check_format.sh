#!/usr/bin/env bash
# Checks that every tracked C++ file is formatted as .clang-format says (Debian 12's
# clang-format 14, installed if missing). Lists each file that is not and exits 1.
#   scripts/check_format.sh          check
#   scripts/check_format.sh --fix    format the files in place
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
install_missing format clang-format-14
files=$(git ls-files '*.cc' '*.h')  # not the .cc.in templates: @VAR@ is not C++
if [ "${1:-}" = "--fix" ]; then
  clang-format-14 -i $files
  exit 0
fi
bad=()
for f in $files; do
  clang-format-14 --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  printf 'not formatted (scripts/check_format.sh --fix): %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "format: $(echo $files | wc -w) files as .clang-format says"
