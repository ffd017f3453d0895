#!/usr/bin/env bash
# Submits a sharded oodscore evaluation to Slurm: an array job that scores N shards, and a
# merge job that runs once every shard succeeded. Prints both job ids.
#
#   deploy/slurm/submit.sh MODEL PRESET ID_DIR OOD_DIR... --shards N
#       [--out DIR]           where shards/ and report/ go (default: oodscore-slurm)
#       [--cpus C]            cores per shard (default 1)
#       [--sbatch "ARGS"]     more sbatch options for both jobs (partition, account, time)
#       [--score-args "ARGS"] more options for every shard's `oodscore score` (--fit m.fit,
#                             --odin, --device cuda, ...); the merge reports what they add
#       [-- EVAL_ARGS...]     options for the merge's `oodscore eval` (--gate, --baseline, ...)
#
# Inputs are [NAME=]DIR as for `oodscore eval`: the first is the ID set. OODSCORE names the
# binary (default: build/oodscore beside this script's project, else oodscore on PATH).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
shards="" out=oodscore-slurm cpus=1 sbatch_args="" positional=() eval_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --shards) shards=${2:-}; shift 2 ;;
    --out) out=${2:-}; shift 2 ;;
    --cpus) cpus=${2:-}; shift 2 ;;
    --sbatch) sbatch_args=${2:-}; shift 2 ;;
    --score-args) export OODSCORE_SCORE_ARGS=${2:-}; shift 2 ;;
    --) shift; eval_args=("$@"); break ;;
    -h|--help) usage ;;
    *) positional+=("$1"); shift ;;
  esac
done
[ ${#positional[@]} -ge 4 ] || { echo "submit.sh: need MODEL PRESET ID_DIR OOD_DIR..." >&2; usage; }
[[ $shards =~ ^[1-9][0-9]*$ ]] || { echo "submit.sh: --shards N (a positive count) is required" >&2; usage; }
if [ -z "${OODSCORE:-}" ]; then
  OODSCORE=$(command -v oodscore || true)
  [ -x "$here/../../build/oodscore" ] && OODSCORE="$here/../../build/oodscore"
fi
[ -n "$OODSCORE" ] || { echo "submit.sh: no oodscore binary (build it, or set OODSCORE)" >&2; exit 2; }
export OODSCORE=$(realpath "$OODSCORE")
mkdir -p "$out/logs"
out=$(realpath "$out")
model=$(realpath "${positional[0]}")
preset=${positional[1]}
[ -f "$preset" ] && preset=$(realpath "$preset")
inputs=()
for arg in "${positional[@]:2}"; do
  if [[ $arg == *=* ]]; then inputs+=("${arg%%=*}=$(realpath "${arg#*=}")"); else inputs+=("$(realpath "$arg")"); fi
done
# shellcheck disable=SC2086  # sbatch_args is a list of options
array=$(sbatch --parsable --array="0-$((shards - 1))" --cpus-per-task="$cpus" \
  --output="$out/logs/score-%A_%a.out" $sbatch_args \
  "$here/score-array.sbatch" "$out" "$model" "$preset" "${inputs[@]}")
array=${array%%;*}
# shellcheck disable=SC2086
merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes \
  --output="$out/logs/merge-%j.out" $sbatch_args \
  "$here/merge.sbatch" "$out" "${eval_args[@]}")
merge=${merge%%;*}
echo "score array job: $array ($shards shards)"
echo "merge job: $merge (report in $out/report)"
