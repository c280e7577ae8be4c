#!/usr/bin/env bash
# Two builds of kellect side by side in one run, paired (each round runs both, in turns):
# recorder overhead on a syscall storm (`dd bs=1`: a read and a write per byte) and replay
# time and peak RSS of one trace (recorded by OLD, so both can read it) in both views with
# 1 thread and with all of them; medians, and whether both replays print the same bytes.
# Needs root (BPF) and GNU time. Usage: sudo bash bench/compare.sh OLD NEW [BLOCKS] [RUNS]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ $# -ge 2 ] || { echo "usage: bench/compare.sh OLD-KELLECT NEW-KELLECT [BLOCKS] [RUNS]" >&2; exit 2; }
old=$1 new=$2 blocks=${3:-500000} runs=${4:-5}
command -v /usr/bin/time >/dev/null || { echo "needs GNU time: apt-get install time" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
workload=(dd if=/dev/zero of=/dev/null bs=1 count="$blocks" status=none)
now() { date +%s.%N; }
echo "old: $("$old" --version)"
echo "new: $("$new" --version)"
echo "workload: ${workload[*]}, $runs paired runs"
bare=() rold=() rnew=()
for i in $(seq "$runs"); do
    t0=$(now); "${workload[@]}"; t1=$(now); bare+=("$(echo "$t1 - $t0" | bc -l)")
    t0=$(now); "$old" record -q -f -o "$dir/old$i.kz" -- "${workload[@]}"; t1=$(now)
    rold+=("$(echo "$t1 - $t0" | bc -l)")
    t0=$(now); "$new" record -q -f -o "$dir/new$i.kz" -- "${workload[@]}"; t1=$(now)
    rnew+=("$(echo "$t1 - $t0" | bc -l)")
done
facts() { "$1" info --json "$2" | python3 -c 'import json,sys; r=json.load(sys.stdin)[0]; print(r["records_total"], r["dropped_total"])'; }
read -r oldrec olddrop < <(facts "$new" "$dir/old1.kz")
read -r newrec newdrop < <(facts "$new" "$dir/new1.kz")
printf 'record  bare %.2fs | old %.2fs (%s records, %s dropped, %s B) | new %.2fs (%s records, %s dropped, %s B)\n' \
    "$(median "${bare[@]}")" "$(median "${rold[@]}")" "$oldrec" "$olddrop" "$(stat -c %s "$dir/old1.kz")" \
    "$(median "${rnew[@]}")" "$newrec" "$newdrop" "$(stat -c %s "$dir/new1.kz")"
trace=$dir/old1.kz
for view in events records; do
    for threads in 1 "$(nproc)"; do
        tol=() mol=() tne=() mne=()
        for _ in $(seq "$runs"); do
            for which in old new; do
                bin=$old; [ "$which" = new ] && bin=$new
                out=$( { /usr/bin/time -f '%e %M' "$bin" replay "$trace" --view "$view" -o json-min -j "$threads" >"$dir/$which.out"; } 2>&1 | tail -1)
                if [ "$which" = old ]; then tol+=("${out% *}"); mol+=("${out#* }"); else tne+=("${out% *}"); mne+=("${out#* }"); fi
            done
        done
        same=no; cmp -s "$dir/old.out" "$dir/new.out" && same=yes
        printf 'replay --view %-7s -j %s  old %.2fs %d MiB | new %.2fs %d MiB | same output: %s\n' "$view" "$threads" \
            "$(median "${tol[@]}")" $(( $(median "${mol[@]}") / 1024 )) "$(median "${tne[@]}")" $(( $(median "${mne[@]}") / 1024 )) "$same"
    done
done
