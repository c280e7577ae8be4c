#!/usr/bin/env bash
# Replay speed and memory side by side with `perf script`, on one workload recorded once by
# each tool: bench/lean-loop.c (open /etc/hostname, read, close, a 1-byte write to
# /dev/null; ITER iterations, 4 syscalls each). perf records it as `perf record -z -e
# raw_syscalls:sys_enter,raw_syscalls:sys_exit` (two samples per syscall) and prints it with
# `perf script`; kellect records it with `kellect record` at the defaults and replays it with
# `kellect replay --view events|records -o json-min -j 1|N` (N = nproc). RUNS paired rounds
# (each round runs every configuration in turn), medians of wall time and of peak RSS (GNU
# time's maximum resident set size), and the rate per workload syscall. Output goes to
# /dev/null. The same rounds run N replays of the events view at -j 1 side by side
# (events-j1xN): the scaling this machine gives N copies of replay's own work, which
# -j N's scaling is set against (a VM's second core may give far less than a whole one).
# Needs root (BPF, perf), gcc, GNU time, perf, python3.
# Usage: [KELLECT=path] bench/replay.sh [ITER] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
iter=${1:-500000} runs=${2:-3}
kellect=${KELLECT:-target/release/kellect}
bench_needs /usr/bin/time perf gcc python3
bench_kellect "$kellect"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
bench_lean_loop "$dir"
work=("$dir/lean-loop" "$iter")
syscalls=$((iter * 4))
perf record -q -z -e raw_syscalls:sys_enter,raw_syscalls:sys_exit -o "$dir/perf.data" -- "${work[@]}" >/dev/null
"$kellect" record -q -f -o "$dir/t.kz" -- "${work[@]}" >/dev/null
read -r records dropped < <("$kellect" info --json "$dir/t.kz" | python3 -c 'import json,sys; r=json.load(sys.stdin)[0]; print(r["records_total"], r["dropped_total"])')
nproc=$(nproc)
configs=(perf-script events-j1 "events-j$nproc" records-j1 "records-j$nproc" "events-j1x$nproc")
# run CONFIG: one run under GNU time; appends "wall rss_kib" to $dir/CONFIG.times.
run() {
    local c=$1 cmd
    case $c in
        perf-script) cmd=(perf script -i "$dir/perf.data") ;;
        events-j1x*)
            # shellcheck disable=SC2016
            cmd=(bash -c 'for _ in $(seq "$1"); do "$2" replay "$3" --view events -o json-min -j 1 >/dev/null 2>&1 & done; wait' \
                side-by-side "$nproc" "$kellect" "$dir/t.kz")
            ;;
        *) cmd=("$kellect" replay "$dir/t.kz" --view "${c%-j*}" -o json-min -j "${c##*-j}") ;;
    esac
    /usr/bin/time -o "$dir/t" -f '%e %M' "${cmd[@]}" >/dev/null 2>"$dir/err" || { cat "$dir/err" >&2; exit 1; }
    cat "$dir/t" >>"$dir/$c.times"
}
for _ in $(seq "$runs"); do
    for c in "${configs[@]}"; do run "$c"; done
done
echo "workload: lean-loop $iter ($syscalls syscalls); $runs paired runs, medians; $("$kellect" --version)"
# perf may lose samples when its ring fills: its count says what perf script printed.
samples=$(perf script -i "$dir/perf.data" -F event 2>/dev/null | wc -l)
echo "perf.data $(stat -c %s "$dir/perf.data") B, $samples samples (2 per syscall when none are lost); kellect trace $(stat -c %s "$dir/t.kz") B, $records records, $dropped dropped"
perf_wall=$(median $(awk '{print $1}' "$dir/perf-script.times"))
printf '%-12s %8s %9s %14s %12s\n' run wall rss_MiB syscalls/s vs_perf
for c in "${configs[@]}"; do
    # shellcheck disable=SC2046
    w=$(median $(awk '{print $1}' "$dir/$c.times")); m=$(median $(awk '{print $2}' "$dir/$c.times"))
    # The side-by-side run replays the trace N times (its RSS is one replay's).
    n=1; case $c in events-j1x*) n=$nproc ;; esac
    printf '%-12s %7.2fs %9d %14.0f %11.2fx\n' "$c" "$w" $((m / 1024)) "$(echo "$n * $syscalls / $w" | bc -l)" "$(echo "$n * $perf_wall / $w" | bc -l)"
done
j1=$(median $(awk '{print $1}' "$dir/events-j1.times")); jn=$(median $(awk '{print $1}' "$dir/events-j$nproc.times"))
r1=$(median $(awk '{print $1}' "$dir/records-j1.times")); rn=$(median $(awk '{print $1}' "$dir/records-j$nproc.times"))
printf 'scaling 1 -> %d threads: events view %.2fx, records view %.2fx\n' "$nproc" "$(echo "$j1 / $jn" | bc -l)" "$(echo "$r1 / $rn" | bc -l)"
# shellcheck disable=SC2046
side=$(median $(awk '{print $1}' "$dir/events-j1x$nproc.times"))
machine=$(echo "$nproc * $j1 / $side" | bc -l)
printf 'machine: %d events-view replays at -j 1 side by side do %.2fx the work of one in the same time; -j %d reaches %.2f of that (events view), %.2f (records view)\n' \
    "$nproc" "$machine" "$nproc" "$(echo "$j1 / $jn / $machine" | bc -l)" "$(echo "$r1 / $rn / $machine" | bc -l)"
