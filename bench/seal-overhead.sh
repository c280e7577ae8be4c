#!/usr/bin/env bash
# The recorder's cost of sealing (--seal-key): the same syscall-heavy workload as
# bench/overhead.sh (dd copying 1-byte blocks) recorded without a key, with a key sealing
# every 10 s (the default) and every 1 s (the shortest interval: a seal, a key evolution
# and an fsync'd key-file rewrite each second), several runs each. Prints the median wall
# time of each, the seals written and the records stored. Sealing and hashing run on the
# writer thread, not on the ring-buffer thread, so drops are the measure of harm to the
# recording. Needs root (BPF). Usage: sudo bash bench/seal-overhead.sh [BLOCKS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
blocks=${1:-2000000}
runs=${2:-3}
kellect=${KELLECT:-target/release/kellect}
[ -x "$kellect" ] || cargo build --release --quiet
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
workload=(dd if=/dev/zero of=/dev/null bs=1 count="$blocks" status=none)
now() { date +%s.%N; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin)[0]; print($1)"; }

for mode in none 10s 1s; do
    times=()
    for i in $(seq "$runs"); do
        args=()
        if [ "$mode" != none ]; then
            rm -f "$dir/s.key" "$dir/v.key"
            "$kellect" keygen --interval "$mode" --seal-key "$dir/s.key" --verify-key "$dir/v.key" 2>/dev/null || { echo "keygen failed" >&2; exit 1; }
            args=(--seal-key "$dir/s.key")
        fi
        t0=$(now)
        "$kellect" record -q -f -o "$dir/$mode-$i.kz" "${args[@]}" -- "${workload[@]}"
        t1=$(now)
        times+=("$(echo "$t1 - $t0" | bc -l)")
    done
    info=$("$kellect" info --json "$dir/$mode-$runs.kz")
    records=$(echo "$info" | field 'd["records_total"]')
    dropped=$(echo "$info" | field 'd["dropped_total"]')
    seals=$(echo "$info" | field 'd["segments"][0]["seals"]')
    if [ "$mode" != none ]; then
        # The keys are those of the last run.
        "$kellect" verify --key "$dir/v.key" "$dir/$mode-$runs.kz" >/dev/null
    fi
    printf 'sealing %-5s median %ss of %s runs; records %s, dropped %s, seals %s\n' \
        "$mode" "$(median "${times[@]}")" "$runs" "$records" "$dropped" "$seals"
done
# The cost of one seal on the writer thread, apart from the recording.
cargo test --release --no-default-features --lib --quiet format::seal::tests::seal_cost \
    -- --ignored --nocapture 2>&1 | grep -E "seal cost"
