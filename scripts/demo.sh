#!/usr/bin/env bash
# The main job: build kellect, record a short real workload, replay it as JSON.
# As root the workload is recorded live; otherwise a trace shipped in fixtures/ (recorded
# by kellect on a real kernel) is replayed, which needs no privileges.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh

cargo build --release --quiet
kellect=target/release/kellect

if [ "$(id -u)" -eq 0 ]; then
    trace=$(mktemp -d)/demo.kz
    echo "== kellect record -o $trace -- sh -c '...'" >&2
    "$kellect" record -o "$trace" -- sh -c '/bin/true; ls / >/dev/null; sh -c "exit 7"' || true
    echo "== kellect info $trace" >&2
    "$kellect" info "$trace" >&2
    echo "== kellect replay $trace --view events -o json" >&2
    "$kellect" replay "$trace" --view events -o json
else
    echo "kellect: recording needs root (or CAP_BPF and CAP_PERFMON): run 'sudo bash scripts/demo.sh'." >&2
    echo "kellect: meanwhile, replaying a trace recorded by kellect on a real kernel (fixtures/process.kz):" >&2
    "$kellect" info fixtures/process.kz >&2
    "$kellect" replay fixtures/process.kz --view events -o json
fi
