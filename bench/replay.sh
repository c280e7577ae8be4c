#!/usr/bin/env bash
# Replay speed and memory: records a syscall-heavy workload once (root), then times
# `kellect replay` of it with 1 and with all threads, events and records views, and reports
# peak memory (GNU time). Usage: sudo bash bench/replay.sh [BLOCKS]
set -euo pipefail
cd "$(dirname "$0")/.."
blocks=${1:-1000000}
kellect=${KELLECT:-target/release/kellect}
[ -x "$kellect" ] || cargo build --release --quiet
command -v /usr/bin/time >/dev/null || { echo "needs GNU time: apt-get install time" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$kellect" record -q -o "$dir/t.kz" -- dd if=/dev/zero of=/dev/null bs=1 count="$blocks" status=none
records=$("$kellect" info --json "$dir/t.kz" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["records_total"])')
echo "trace: $records records, $(stat -c %s "$dir/t.kz") bytes"
for view in events records; do
    for threads in 1 "$(nproc)"; do
        out=$( { /usr/bin/time -f '%e %M' "$kellect" replay "$dir/t.kz" --view "$view" -o json-min -j "$threads" >/dev/null; } 2>&1 | tail -1)
        secs=${out% *}; kib=${out#* }
        echo "replay --view $view -j $threads: ${secs}s, $(echo "$records / $secs" | bc) records/s, peak RSS $((kib / 1024)) MiB"
    done
done
