#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ for a bounded time: bash scripts/fuzz.sh [SECONDS]
# (default 30 seconds per target; CI runs the default). Prints the executions of each
# target and fails if any target crashes, hangs or runs out of memory; the input that did
# it is kept in fuzz/artifacts/TARGET/. `bash scripts/fuzz.sh --seeds` rewrites the
# committed seed corpora (fuzz/corpus/TARGET/) from the repository's traces instead.
#
# Stable Rust is enough: the targets are built the way cargo-fuzz builds them
# (libfuzzer-sys from crates.io compiles libFuzzer with the C++ compiler, and rustc's
# SanitizerCoverage pass instruments the code), without a sanitizer, which is what needs
# nightly. Targets run in parallel, one per CPU (KELLECT_FUZZ_JOBS to change it); they are
# built in fuzz/target (KELLECT_FUZZ_TARGET_DIR to change it).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
command -v c++ >/dev/null 2>&1 || kellect_apt_install "a C++ compiler for libFuzzer" g++

seconds=30
seeds=
case "${1:-}" in
    "") ;;
    --seeds) seeds=1 ;;
    *[!0-9]* | 0)
        echo "usage: bash scripts/fuzz.sh [SECONDS | --seeds]" >&2
        exit 2
        ;;
    *) seconds=$1 ;;
esac

targets=(trace_reader records metadata protocols)
host=$(rustc -vV | sed -n 's/^host: //p')
CARGO_TARGET_DIR=$(realpath -m "${KELLECT_FUZZ_TARGET_DIR:-fuzz/target}")
export CARGO_TARGET_DIR
bin_dir=$CARGO_TARGET_DIR/$host/release

# cargo-fuzz's flags for `--sanitizer none`. `--target` keeps them off build scripts and
# proc macros, which cannot link the coverage callbacks.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
echo "== building the fuzz targets ($host, release, coverage-instrumented)"
start=$SECONDS
(cd fuzz && cargo build --locked --release --target "$host" --bins)
echo "built in $((SECONDS - start)) s"

if [ -n "$seeds" ]; then
    rm -rf fuzz/corpus
    "$bin_dir/seeds"
    find fuzz/corpus -type f | sort
    exit 0
fi

# New inputs found go to a scratch directory: the committed corpora are only read.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
jobs=${KELLECT_FUZZ_JOBS:-$(nproc)}
echo "== fuzzing ${#targets[@]} targets for $seconds s each, $jobs at a time"
run_target() {
    local target=$1
    mkdir -p "$work/$target" "fuzz/artifacts/$target"
    "$bin_dir/$target" "$work/$target" "fuzz/corpus/$target" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="fuzz/artifacts/$target/" >"$work/$target.log" 2>&1
}
pids=()
for target in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
        wait -n || true
    done
    run_target "$target" &
    pids+=($!)
done

failed=()
printf '%-14s %12s %9s %s\n' TARGET EXECUTIONS SECONDS RESULT
for i in "${!targets[@]}"; do
    target=${targets[$i]}
    status=0
    wait "${pids[$i]}" || status=$?
    log=$work/$target.log
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
    if [ "$status" -ne 0 ] || [ -z "$runs" ] || [ "${runs:-0}" -eq 0 ]; then
        printf '%-14s %12s %9s %s\n' "$target" "${runs:-?}" "${took:-?}" "FAILED (exit $status)"
        failed+=("$target")
    else
        printf '%-14s %12s %9s %s\n' "$target" "$runs" "$took" ok
    fi
done

for target in "${failed[@]}"; do
    echo "== $target: the end of its log" >&2
    tail -n 40 "$work/$target.log" >&2
    echo "reproduce: $bin_dir/$target fuzz/artifacts/$target/<file> (after this script built it)" >&2
done
[ ${#failed[@]} -eq 0 ]
