# Sourced by the bench scripts (from the repository's root): what they share.

# bench_needs TOOL...: exits, naming it, when a tool is missing.
bench_needs() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
    done
}

# bench_kellect PATH: builds the release binary when PATH (target/release/kellect by
# default) is not there.
bench_kellect() {
    [ -x "$1" ] || cargo build --release --quiet
}

# bench_lean_loop DIR: builds the workload bench/lean-loop.c as DIR/lean-loop.
bench_lean_loop() {
    gcc -O2 -o "$1/lean-loop" bench/lean-loop.c
}

# median N...: the median of the numbers (the lower of the two middle ones for an even
# count).
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
