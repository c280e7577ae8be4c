#!/usr/bin/env bash
# The recorder's cost on a loop of small file syscalls (bench/lean-loop.c: open
# /etc/hostname, read, close, write one byte to /dev/null; ITER iterations, 4 syscalls
# each), measured side by side in one run, paired (each round runs every configuration in
# turn), medians of RUNS: bare; `kellect record -e process` (programs attached, every file
# syscall filtered out in the kernel: the attach floor); `kellect record` (default capture);
# `perf record -z` of raw_syscalls:sys_enter and sys_exit. With OLD set to another kellect
# build, its two rows are measured in the same rounds. Prints wall time, CPU time (user +
# sys of the whole process tree), the ratio to bare, the time kellect adds against the time
# perf adds, peak RSS of the recorder (GNU time's maximum resident set size), records,
# drops, trace bytes per record on disk and raw (uncompressed) bytes per record. Then, in
# one more run per kellect build with kernel.bpf_stats_enabled=1, the BPF run time of each
# program per run (bench/bpf-prog-stats.py reads /proc/PID/fdinfo). The same rounds time
# each recorder around `true` (its start-up and end: loading and checking the BPF programs,
# the /proc snapshot, closing the trace), and the last lines take it out of the recorded
# runs: the time added per workload syscall in steady state, kellect's against perf's.
# Needs root, gcc, GNU time, perf, python3.
# Usage: [KELLECT=path] [OLD=path] bench/lean.sh [ITER] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
iter=${1:-500000} runs=${2:-5}
new=${KELLECT:-target/release/kellect}
old=${OLD:-}
bench_needs /usr/bin/time perf gcc python3
bench_kellect "$new"
dir=$(mktemp -d)
stats_was=$(sysctl -n kernel.bpf_stats_enabled)
trap 'sysctl -qw kernel.bpf_stats_enabled="$stats_was"; rm -rf "$dir"' EXIT
bench_lean_loop "$dir"
work=("$dir/lean-loop" "$iter")

configs=(bare perf new-process new-record perf-startup new-startup)
[ -n "$old" ] && configs+=(old-process old-record old-startup)
# run CONFIG ROUND: runs one configuration under GNU time; appends "wall cpu rss_kib" to
# $dir/CONFIG.times.
run() {
    local c=$1 i=$2 bin=$new
    case $c in old-*) bin=$old ;; esac
    local cmd
    case $c in
        bare) cmd=("${work[@]}") ;;
        perf) cmd=(perf record -q -z -e raw_syscalls:sys_enter,raw_syscalls:sys_exit -o "$dir/perf$i.data" -- "${work[@]}") ;;
        perf-startup) cmd=(perf record -q -z -e raw_syscalls:sys_enter,raw_syscalls:sys_exit -o "$dir/perf-true.data" -- true) ;;
        *-startup) cmd=("$bin" record -q -f -o "$dir/$c.kz" -- true) ;;
        *-process) cmd=("$bin" record -q -f -e process -o "$dir/$c$i.kz" -- "${work[@]}") ;;
        *-record) cmd=("$bin" record -q -f -o "$dir/$c$i.kz" -- "${work[@]}") ;;
    esac
    /usr/bin/time -o "$dir/t" -f '%e %U %S %M' "${cmd[@]}" >/dev/null 2>"$dir/err" || { cat "$dir/err" >&2; exit 1; }
    awk '{printf "%s %.3f %s\n", $1, $2 + $3, $4}' "$dir/t" >>"$dir/$c.times"
}
for i in $(seq "$runs"); do
    for c in "${configs[@]}"; do run "$c" "$i"; done
done
col() { awk -v k="$2" '{print $k}' "$dir/$1.times"; }
# shellcheck disable=SC2046
bare_wall=$(median $(col bare 1))
bare_cpu=$(median $(col bare 2))
perf_wall=$(median $(col perf 1))
echo "workload: ${work[*]##*/} ($((iter * 4)) syscalls), $runs paired runs, medians"
echo "new: $("$new" --version)${old:+; old: $("$old" --version)}"
printf '%-12s %8s %8s %7s %9s %9s %10s %8s %9s %9s\n' run wall cpu vs_bare added/perf rss_MiB records dropped disk_B/rec raw_B/rec
for c in "${configs[@]}"; do
    # shellcheck disable=SC2046
    w=$(median $(col "$c" 1)); u=$(median $(col "$c" 2)); m=$(median $(col "$c" 3))
    rec=- drop=- disk=- raw=- added=-
    case $c in
        bare | *-startup) ;;
        perf) disk=$(echo "scale=2; $(stat -c %s "$dir/perf1.data") / ($iter * 4)" | bc) ;;
        *)
            bin=$new; case $c in old-*) bin=$old ;; esac
            read -r rec drop rawb < <("$bin" info --json "$dir/${c}1.kz" | python3 -c 'import json,sys; r=json.load(sys.stdin)[0]; print(r["records_total"], r["dropped_total"], r["raw_bytes"])')
            disk=$(echo "scale=2; $(stat -c %s "$dir/${c}1.kz") / $rec" | bc)
            raw=$(echo "scale=1; $rawb / $rec" | bc)
            ;;
    esac
    case $c in bare | perf | *-startup) ;; *) added=$(echo "scale=2; ($w - $bare_wall) / ($perf_wall - $bare_wall)" | bc) ;; esac
    printf '%-12s %7.2fs %7.2fs %7.2f %9s %9d %10s %8s %9s %9s\n' "$c" "$w" "$u" "$(echo "$w / $bare_wall" | bc -l)" \
        "$added" $((m / 1024)) "$rec" "$drop" "$disk" "$raw"
done
echo "bare cpu ${bare_cpu}s; perf's disk_B/rec is perf.data bytes per workload syscall"
# Steady state: wall - start-up (the same tool around `true`) - bare, per workload syscall.
steady() { echo "($(median $(col "$1" 1)) - $(median $(col "$2" 1)) - $bare_wall) * 1000000000 / ($iter * 4)" | bc -l; }
perf_ns=$(steady perf perf-startup)
for which in new old; do
    [ "$which" = old ] && [ -z "$old" ] && continue
    ns=$(steady "$which-record" "$which-startup")
    printf 'steady state (%s): kellect record adds %.0f ns per syscall, perf record %.0f ns: %.2f of perf'"'"'s\n' "$which" "$ns" "$perf_ns" "$(echo "$ns / $perf_ns" | bc -l)"
done
sysctl -qw kernel.bpf_stats_enabled=1
for which in new old; do
    bin=$new; [ "$which" = old ] && bin=$old
    [ -n "$bin" ] || continue
    "$bin" record -q -f -o "$dir/stats.kz" -- "${work[@]}" &
    kpid=$!
    python3 bench/bpf-prog-stats.py "$kpid" >"$dir/stats" &
    spid=$!
    wait "$kpid"; wait "$spid"
    echo "BPF run time ($which, kernel.bpf_stats_enabled=1; runs are of every task on the host):"
    awk '{printf "  %-22s %10d runs %8.1f ns/run\n", $1, $2, $4}' "$dir/stats"
done
