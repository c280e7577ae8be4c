#!/usr/bin/env bash
# Builds kellect's packages from a release build: bash scripts/package.sh [--deb-only]
#   target/debian/kellect_VERSION_ARCH.deb          (cargo-deb)
#   target/generate-rpm/kellect-VERSION.ARCH.rpm    (cargo-generate-rpm)
# Each holds /usr/bin/kellect, the man pages (kellect man --dir), bash/zsh/fish
# completions (kellect completions), the systemd unit (packaging/kellect.service), the
# configuration /etc/kellect/kellect.toml (a conffile) and, made on installation,
# /var/lib/kellect (mode 0700). cargo-deb and cargo-generate-rpm are installed with
# `cargo install --locked` when missing. Prints the packages made and the seconds taken.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh

rpm=1
case "${1:-}" in
    "") ;;
    --deb-only) rpm= ;;
    *)
        echo "usage: bash scripts/package.sh [--deb-only]" >&2
        exit 2
        ;;
esac

start=$SECONDS
kellect_need_cargo_tool() {
    local tool=$1 subcommand=$2
    if ! cargo "$subcommand" --version >/dev/null 2>&1; then
        echo "kellect: installing $tool (cargo install --locked $tool)" >&2
        cargo install --locked --quiet "$tool"
    fi
}
kellect_need_cargo_tool cargo-deb deb
[ -z "$rpm" ] || kellect_need_cargo_tool cargo-generate-rpm generate-rpm

echo "== cargo build --release"
cargo build --release --locked --quiet
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
kellect=$target/release/kellect

# Generated from the clap definitions of the binary just built, into the directory the
# package metadata in Cargo.toml names (target/release/package/).
generated=$target/release/package
rm -rf "$generated"
mkdir -p "$generated/man" "$generated/completions"
"$kellect" man --dir "$generated/man"
gzip -9n "$generated"/man/*.1
"$kellect" completions bash >"$generated/completions/kellect"
"$kellect" completions zsh >"$generated/completions/_kellect"
"$kellect" completions fish >"$generated/completions/kellect.fish"
# The packaged binary is stripped (cargo deb --strip does its own copy; the .rpm takes this
# one): 50 MB with line tables, a fifth of that without.
strip -o "$generated/kellect" "$kellect"

echo "== cargo deb"
deb=$(cargo deb --no-build --strip --quiet)
echo "$deb"
if [ -n "$rpm" ]; then
    echo "== cargo generate-rpm"
    rpm_dir=$target/generate-rpm
    rm -f "$rpm_dir"/kellect-*.rpm
    cargo generate-rpm --target-dir "$target"
    ls "$rpm_dir"/kellect-*.rpm
fi
echo "packaged in $((SECONDS - start)) s"
