#!/usr/bin/env bash
# Instructions replay executes per record, counted by valgrind (cachegrind, no cache
# simulation): a measure of replay's work that a busy or shared machine does not move,
# where wall times can vary by a third between runs. Records bench/lean-loop.c (ROUNDS
# rounds of open /etc/hostname, read, close, a 1-byte write to /dev/null) once with
# `kellect record`, then replays it with 1 thread in both views (`-o json-min`, output to
# /dev/null) under each build: KELLECT (default target/release/kellect) and, when set, OLD
# side by side. Needs root (BPF), gcc, valgrind, python3.
# Usage: [KELLECT=path] [OLD=path] bench/replay-instructions.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
rounds=${1:-50000}
kellect=${KELLECT:-target/release/kellect}
bench_needs gcc valgrind python3
bench_kellect "$kellect"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
bench_lean_loop "$dir"
"$kellect" record -q -f -o "$dir/t.kz" -- "$dir/lean-loop" "$rounds" >/dev/null
records=$("$kellect" info --json "$dir/t.kz" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["records_total"])')
echo "workload: lean-loop $rounds ($records records); instructions of the whole replay, -j 1"
printf '%-8s %-40s %16s %12s\n' view build instructions per_record
builds=("$kellect")
[ -n "${OLD:-}" ] && builds+=("$OLD")
for view in events records; do
    for build in "${builds[@]}"; do
        n=$(valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
            "$build" replay "$dir/t.kz" --view "$view" -o json-min -j 1 2>&1 >/dev/null |
            awk '/I *refs/ {gsub(",", "", $4); print $4}')
        printf '%-8s %-40s %16s %12d\n' "$view" "$build" "$n" $((n / records))
    done
done
