#!/usr/bin/env bash
# The segment writer's cost of the hash chain (format version 2): writes the same 64 frames
# of 1 MiB (real records from fixtures/records.kz, then incompressible bytes) with and
# without the chain, in a release build, and prints both times, best of 3. The hash costs
# in proportion to the bytes stored (compressed), so real records cost little and
# incompressible bytes the most. No root needed. Usage: bash bench/chain-hash.sh
set -euo pipefail
cd "$(dirname "$0")/.."
grep -m1 -o -w sha_ni /proc/cpuinfo >/dev/null && echo "CPU has SHA-NI" || echo "CPU has no SHA-NI"
cargo test --release --no-default-features --lib --quiet \
    format::writer::tests::chain_hash_cost -- --ignored --nocapture 2>&1 | grep -E "frames of"
