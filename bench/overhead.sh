#!/usr/bin/env bash
# Recorder overhead and loss, measured: a syscall-heavy workload (dd copying 1-byte blocks:
# one read and one write syscall per byte) run bare, then under `kellect record`, several
# times each. Prints wall time, the recording's event rate, drops, trace size and bytes per
# event. Needs root (BPF). Usage: sudo bash bench/overhead.sh [BLOCKS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
blocks=${1:-500000}
runs=${2:-3}
kellect=${KELLECT:-target/release/kellect}
[ -x "$kellect" ] || cargo build --release --quiet
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
workload=(dd if=/dev/zero of=/dev/null bs=1 count="$blocks" status=none)

now() { date +%s.%N; }
bare=()
for _ in $(seq "$runs"); do
    t0=$(now); "${workload[@]}"; t1=$(now)
    bare+=("$(echo "$t1 - $t0" | bc -l)")
done
rec=()
for i in $(seq "$runs"); do
    t0=$(now)
    "$kellect" record -q -f -o "$dir/t$i.kz" -- "${workload[@]}"
    t1=$(now)
    rec+=("$(echo "$t1 - $t0" | bc -l)")
done
b=$(median "${bare[@]}"); r=$(median "${rec[@]}")
info=$("$kellect" info --json "$dir/t1.kz")
records=$(echo "$info" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["records_total"])')
dropped=$(echo "$info" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["dropped_total"])')
size=$(stat -c %s "$dir/t1.kz")
echo "workload:        ${workload[*]}"
echo "bare:            ${b}s (median of $runs)"
echo "recorded:        ${r}s (median of $runs; includes loading BPF, ~0.3 s)"
echo "records:         $records ($(echo "$records / $r" | bc) per second), dropped: $dropped"
echo "trace size:      $size bytes ($(echo "scale=2; $size / $records" | bc) bytes per record)"
