#!/usr/bin/env bash
# A screenshot of a report.html, as a person sees it in a browser of a given width, taken
# with Debian's chromium in headless mode (installed if missing). The page height is fixed
# (HEIGHT, default 2400 px): what lies below is cut off.
#   scripts/screenshot_report.sh REPORT.html OUT.png [WIDTH=1300] [HEIGHT=2400]
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 REPORT.html OUT.png [WIDTH] [HEIGHT]" >&2
  exit 2
fi
report=$(realpath "$1")
out=$(realpath -m "$2")
width=${3:-1300}
height=${4:-2400}
cd "$(dirname "$0")/.."
. scripts/lib.sh
command -v chromium >/dev/null || install_missing screenshot chromium fonts-dejavu-core
# --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
  --window-size="$width,$height" --screenshot="$out" "file://$report" 2>/dev/null
echo "screenshot: $out (${width}x${height})" >&2
