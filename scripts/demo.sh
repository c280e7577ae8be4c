#!/usr/bin/env bash
# The main job: build kellect, record a short real workload, replay it as JSON.
# As root the workload is recorded live; otherwise a trace shipped in fixtures/ (recorded
# by kellect on a real kernel) is replayed, which needs no privileges.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh

cargo build --release --quiet
kellect=${CARGO_TARGET_DIR:-target}/release/kellect

if [ "$(id -u)" -eq 0 ]; then
    dir=$(mktemp -d)
    trace=$dir/demo.kz
    echo "== kellect record -o $trace -- sh -c '...'" >&2
    "$kellect" record -o "$trace" -- sh -c "cd $dir; echo hello > note.txt; cat note.txt >/dev/null; mv note.txt kept.txt; ls / >/dev/null; sh -c 'exit 7'" || true
    echo "== kellect info $trace" >&2
    "$kellect" info "$trace" >&2
    echo "== kellect replay $trace -o table" >&2
    "$kellect" replay "$trace" -o table
    echo "== kellect replay $trace -m file (the records of $dir)" >&2
    "$kellect" replay "$trace" -m file -o json-min | grep -F "\"FilePath\":\"$dir/\"" || true
    echo "== kellect replay $trace --view events --event process_exec,process_exit,file_rename -o json" >&2
    "$kellect" replay "$trace" --view events --event process_exec,process_exit,file_rename -o json
else
    echo "kellect: recording needs root (or CAP_BPF and CAP_PERFMON): run 'sudo bash scripts/demo.sh'." >&2
    echo "kellect: meanwhile, replaying a trace recorded by kellect on a real kernel (fixtures/process.kz):" >&2
    "$kellect" info fixtures/process.kz >&2
    "$kellect" replay fixtures/process.kz -o table
    "$kellect" replay fixtures/process.kz --view events --event process_exec,process_exit -o json
fi
