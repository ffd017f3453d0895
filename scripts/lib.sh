# Shared by the scripts: sourced, not run.

# install_missing WHO PKG...: installs the Debian packages that are not installed yet
# (apt-get update once first), as root or through sudo.
install_missing() {
  local who=$1 p missing=()
  shift
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "$who: installing ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# demo_setup: what every demo needs first: the build (scripts/setup.sh), Debian's
# Fashion-MNIST and python3, and the demo's image folders in demo-data/
# (scripts/make_demo_data.py). Run from the project root.
demo_setup() {
  scripts/setup.sh
  local extra=(dataset-fashion-mnist)
  command -v python3 >/dev/null || extra+=(python3)
  install_missing demo "${extra[@]}"
  python3 scripts/make_demo_data.py demo-data
}
