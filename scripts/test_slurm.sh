#!/usr/bin/env bash
# A real Slurm on this machine: installs Debian's slurm-wlm and munge if missing, starts a
# one-node cluster (munged, slurmctld, slurmd) from a generated slurm.conf and munge key in a
# temporary folder, bound to loopback only, submits the real recipe (deploy/slurm/submit.sh)
# on the demo data with 4 shards, waits, and checks that the merged report equals a
# single-process `oodscore eval` bit for bit (scores.csv, report.md, the cards, and
# report.json but for its "run" stamp, which records how each was made). Stops every daemon it
# started, by pid, also on failure. Needs root (the daemons, and apt-get when packages are
# missing); exits 77 (skipped) otherwise.
#   scripts/test_slurm.sh [BUILD_DIR]      (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=$(realpath "${1:-build}")
. scripts/lib.sh
if [ "$(id -u)" -ne 0 ]; then
  echo "test_slurm: skipped: needs root to run the Slurm daemons" >&2
  exit 77
fi
if ! install_missing test_slurm slurm-wlm munge dataset-fashion-mnist python3; then
  echo "test_slurm: skipped: cannot install slurm-wlm, munge, dataset-fashion-mnist" >&2
  exit 77
fi
[ -x "$build/oodscore" ] || { echo "test_slurm: no $build/oodscore (run scripts/setup.sh)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/oodscore-slurm.XXXXXX)
pids=()
cleanup() {
  local rc=$? p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  if [ $rc -ne 0 ]; then
    for log in "$tmp"/*.log "$tmp"/run/logs/*; do
      [ -f "$log" ] && { echo "--- $log" >&2; tail -n 20 "$log" >&2; }
    done
  fi
  rm -rf "$tmp"
  exit $rc
}
trap cleanup EXIT
fail() { echo "test_slurm: FAIL: $*" >&2; exit 1; }

# A free TCP port on loopback.
free_port() {
  local p
  for p in $(shuf -i 20000-40000 -n 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  fail "no free port"
}

# munge: a fresh key and socket of our own.
dd if=/dev/urandom of="$tmp/munge.key" bs=1024 count=1 status=none
chmod 400 "$tmp/munge.key"
mkdir -p "$tmp/munge"
chmod 700 "$tmp/munge"
/usr/sbin/munged --foreground --force --key-file="$tmp/munge.key" --socket="$tmp/munge/munge.sock" \
  --pid-file="$tmp/munge/munged.pid" --log-file="$tmp/munged.log" --seed-file="$tmp/munge/seed" \
  2>>"$tmp/munged.log" &
pids+=($!)
for _ in $(seq 50); do [ -S "$tmp/munge/munge.sock" ] && break; sleep 0.1; done
[ -S "$tmp/munge/munge.sock" ] || fail "munged did not start"

# slurm.conf: this host as controller and its only node, at 127.0.0.1.
host=$(hostname -s)
node_line=$(/usr/sbin/slurmd -C | head -1 | sed -E 's/ UpTime=.*//')
cpus=$(echo "$node_line" | sed -E 's/.*CPUs=([0-9]+).*/\1/')
mkdir -p "$tmp/state" "$tmp/spool"
cat > "$tmp/slurm.conf" <<CONF
ClusterName=oodscoretest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/munge/munge.sock
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$tmp/slurm.conf"
/usr/sbin/slurmctld -D -i -f "$SLURM_CONF" >>"$tmp/slurmctld.log" 2>&1 &
pids+=($!)
/usr/sbin/slurmd -D -N "$host" -f "$SLURM_CONF" >>"$tmp/slurmd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  state=$(sinfo -h -N -o %T 2>/dev/null | head -1 || true)
  [ "$state" = idle ] && break
  sleep 0.2
done
[ "$state" = idle ] || fail "the node did not come up (state '${state:-none}')"
echo "test_slurm: cluster up (node $host, $cpus CPUs, loopback only)" >&2

# The demo data, and the recipe as a user runs it.
python3 scripts/make_demo_data.py "$tmp/data" >/dev/null
model=$root/models/fmnist5_cnn.pt  # absolute, as submit.sh passes it (cards record it)
inputs=(fmnist-0to4="$tmp/data/id" fmnist-5to9="$tmp/data/near-ood" noise="$tmp/data/noise")
# The shards also compute the feature-space detectors, from a fit made once.
"$build/oodscore" fit -q --model "$model" --preset fashion-mnist --train "$tmp/data/id-train" \
  -o "$tmp/demo.fit"
start=$(date +%s.%N)
submitted=$(OODSCORE="$build/oodscore" deploy/slurm/submit.sh "$model" fashion-mnist \
  "${inputs[@]}" --shards 4 --out "$tmp/run" --score-args "--fit $tmp/demo.fit")
echo "$submitted" >&2
array=$(echo "$submitted" | sed -nE 's/^score array job: ([0-9]+).*/\1/p')
merge=$(echo "$submitted" | sed -nE 's/^merge job: ([0-9]+).*/\1/p')
[ -n "$array" ] && [ -n "$merge" ] || fail "submit.sh printed no job ids"
for _ in $(seq 600); do
  [ -z "$(squeue -h -j "$array,$merge" 2>/dev/null)" ] && break
  sleep 0.5
done
[ -z "$(squeue -h -j "$array,$merge" 2>/dev/null)" ] || fail "the jobs did not finish in 5 minutes"
echo "test_slurm: jobs done in $(python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 1))" "$start" "$(date +%s.%N)") s" >&2
[ -f "$tmp/run/report/report.json" ] || fail "the merge job wrote no report"
[ "$(ls "$tmp/run/shards"/*.csv | wc -l)" -eq 4 ] || fail "expected 4 shard files"

# The same evaluation in one process.
"$build/oodscore" eval -q --model "$model" --preset fashion-mnist --fit "$tmp/demo.fit" \
  --id "${inputs[0]}" --ood "${inputs[1]}" --ood "${inputs[2]}" --out-dir "$tmp/single" \
  >/dev/null 2>"$tmp/single.log"
for f in scores.csv report.md card-energy.json card-msp.json card-maxlogit.json card-entropy.json \
  card-gen.json card-react_energy.json card-ash_energy.json card-mahalanobis.json card-knn.json \
  card-vim.json; do
  cmp -s "$tmp/single/$f" "$tmp/run/report/$f" || fail "$f differs between the Slurm run and one process"
done
# report.json: equal once the "run" stamps (how each was made: timings, device, shards) go.
python3 - "$tmp/single/report.json" "$tmp/run/report/report.json" <<'PY' || fail "report.json differs beyond its run stamp"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert "run" in a and "run" in b
a.pop("run"); b.pop("run")
if a != b:
    print([k for k in a if a[k] != b.get(k)], file=sys.stderr)
    sys.exit(1)
PY
echo "test_slurm: PASS: 4 shards on Slurm merged into the single-process report, bit for bit" >&2
