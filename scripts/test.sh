#!/usr/bin/env bash
# Runs every test: unit tests, fixture replays (no root), live BPF recordings (root; in CI
# they must run), the replay-only build, formatting and lints, and the packages (installed
# and removed again, as root).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
kellect_need_test_tools

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy (recorder and replay-only builds)"
cargo clippy --all-targets --quiet -- -D warnings
cargo clippy --all-targets --no-default-features --quiet -- -D warnings
echo "== replay-only build has no libbpf in its dependency tree"
if cargo tree --no-default-features -e normal,build --prefix none | grep -q '^libbpf'; then
    echo "libbpf is in the replay-only dependency tree" >&2
    exit 1
fi
echo "== tests, replay-only build"
cargo test --no-default-features
echo "== tests, full build (live BPF tests run as root)"
cargo test
echo "== packages: build the .deb and .rpm, install the .deb, check it, remove it (root)"
bash scripts/test-package.sh
bash scripts/fuzz.sh
